/**
 * createClerkSyncHandler: the receiver as a Web-standard handler at any path, its store chosen from the
 * env (DATABASE_URL: one pool per process; SUPABASE_URL + key: supabase-js), never the embedded database.
 */
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { sampleEvent } from '../../src/core/samples.ts';
import { createClerkSyncHandler } from '../../src/index.ts';
import { createClerkSyncHandler as createWebHandler } from '../../src/lib/web.ts';
import { onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';
import { captureLogs } from '../support/logs.ts';
import { type PostgrestEndpoint, startPostgrest } from '../support/postgrest.ts';
import { OTHER_SECRET, SECRET, signed } from '../support/webhooks.ts';

let t: TestDatabase;
let rest: PostgrestEndpoint;

beforeAll(async () => {
  t = await openTestDatabase();
  rest = await startPostgrest(t.db);
}, 60_000);
afterAll(async () => {
  await rest?.close();
  await t?.close();
});
beforeEach(async () => {
  await t.reset();
});

const users = async () => (await t.db.query('select id from public.users_public order by id')).rows;
const deliver = (
  handler: (r: Request) => Promise<Response>,
  path: string,
  id: string,
  secret = SECRET,
): Promise<Response> => {
  const d = signed(sampleEvent('user.created', { id }), { secret });
  return handler(new Request(`http://app.test${path}`, { method: 'POST', headers: d.headers, body: d.body }));
};

describe('createClerkSyncHandler over supabase-js (SUPABASE_URL + service role key)', () => {
  const env = () => ({
    SUPABASE_URL: rest.url,
    SUPABASE_SERVICE_ROLE_KEY: rest.serviceKey,
    CLERK_WEBHOOK_SIGNING_SECRET: SECRET,
  });

  it('takes a POST at any path as a delivery and a GET at any path as the health check', async () => {
    const { logger } = captureLogs('info');
    const handler = createClerkSyncHandler({ env: env(), logger });
    for (const [path, id] of [
      ['/api/webhooks/clerk', 'user_api'],
      ['/', 'user_root'],
    ] as const) {
      const res = await deliver(handler, path, id);
      expect([res.status, await res.json()]).toEqual([200, { outcome: 'applied' }]);
    }
    expect(await users()).toEqual([{ id: 'user_api' }, { id: 'user_root' }]);
    const health = await handler(new Request('http://app.test/api/webhooks/clerk'));
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok', schema: expect.any(String) }]);
    const put = await handler(new Request('http://app.test/api/webhooks/clerk', { method: 'PUT' }));
    expect([put.status, put.headers.get('allow')]).toEqual([405, 'GET, POST']);
  });

  it('refuses a bad signature with 401 and writes nothing', async () => {
    const { logger } = captureLogs('info');
    const handler = createClerkSyncHandler({ env: env(), logger });
    const res = await deliver(handler, '/api/webhooks/clerk', 'user_forged', OTHER_SECRET);
    expect([res.status, await res.json()]).toEqual([401, { error: 'invalid signature' }]);
    expect(await users()).toEqual([]);
  });

  it('reads process.env when no env is given', async () => {
    for (const [name, value] of Object.entries(env())) vi.stubEnv(name, value);
    vi.stubEnv('DATABASE_URL', '');
    vi.stubEnv('LOG_LEVEL', 'silent');
    try {
      expect((await deliver(createClerkSyncHandler(), '/hook', 'user_env')).status).toBe(200);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(await users()).toEqual([{ id: 'user_env' }]);
  });
});

describe('createClerkSyncHandler misconfigured', () => {
  it('never falls back to the embedded database: 500, and one log line naming the variables to set', async () => {
    const { logger, lines } = captureLogs('info');
    const handler = createClerkSyncHandler({ env: {}, logger });
    const res = await deliver(handler, '/api/webhooks/clerk', 'user_nowhere');
    expect([res.status, await res.json()]).toEqual([500, { error: 'misconfigured: see the logs' }]);
    const logged = lines().map((l) => l.msg);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/DATABASE_URL is missing.*SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY/);
    expect(logged[0]).toMatch(/CLERK_WEBHOOK_SIGNING_SECRET is missing/);
  });
});

describe('the entry for runtimes without Node sockets (export condition workerd / edge-light / worker)', () => {
  it('refuses DATABASE_URL with a log line saying what to set instead', async () => {
    const { logger, lines } = captureLogs('info');
    const handler = createWebHandler({
      env: { DATABASE_URL: 'postgres://u@127.0.0.1:9/db', CLERK_WEBHOOK_SIGNING_SECRET: SECRET },
      logger,
    });
    expect((await deliver(handler, '/api/webhooks/clerk', 'user_web')).status).toBe(500);
    expect(lines().map((l) => l.msg)).toEqual([
      expect.stringMatching(
        /DATABASE_URL cannot be used in this runtime.*set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY/,
      ),
    ]);
  });
});

describe.runIf(onServer)('createClerkSyncHandler over DATABASE_URL', () => {
  const env = () => ({
    DATABASE_URL: t.url as string,
    CLERK_WEBHOOK_SIGNING_SECRET: SECRET,
    LOG_LEVEL: 'silent',
  });
  const backends = async () => {
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(
        `select count(*) as n from pg_stat_activity
         where datname = current_database() and application_name = 'clerk-supabase-sync' and pid <> pg_backend_pid()`,
      );
      return Number(rows[0]?.n);
    } finally {
      await client.end();
    }
  };

  it('applies deliveries, and every handler of the process shares one pool', async () => {
    const before = await backends();
    const first = createClerkSyncHandler({ env: env() });
    const second = createClerkSyncHandler({ env: env() });
    try {
      for (let i = 0; i < 3; i++) {
        expect((await deliver(first, '/api/webhooks/clerk', `user_a${i}`)).status).toBe(200);
        expect((await deliver(second, '/webhooks', `user_b${i}`)).status).toBe(200);
      }
      // One pool, one request at a time: one connection, where a pool per handler would hold two.
      expect((await backends()) - before).toBe(1);
      expect(await users()).toHaveLength(6);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
