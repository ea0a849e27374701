/**
 * Smoke suite in workerd: the Worker exactly as `npm run build:worker` bundles it, run by Miniflare, writing
 * through supabase-js to the test PostgREST endpoint on the real database.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../src/core/samples.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { type ClerkStandin, startClerkStandin } from '../support/clerk-standin.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { type PostgrestEndpoint, startPostgrest } from '../support/postgrest.ts';
import { instanceKey, sessionToken } from '../support/session-tokens.ts';
import { OTHER_SECRET, SECRET, signed } from '../support/webhooks.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

let t: TestDatabase;
let rest: PostgrestEndpoint;
let mf: Miniflare;
let out: string;
let logs = '';
let clerk: ClerkStandin;
const CLERK_SECRET_KEY = 'sk_test_workerd';
const key = instanceKey();
const clerkUser = sampleEvent('user.created', { id: 'user_workerd_ensure' }).data;

beforeAll(async () => {
  t = await openTestDatabase();
  rest = await startPostgrest(t.db);
  clerk = await startClerkStandin({
    secretKey: CLERK_SECRET_KEY,
    data: { users: [clerkUser], organizations: [], memberships: [] } as never,
    jwks: { keys: [key.jwk] },
  });
  out = await mkdtemp(join(tmpdir(), 'clerk-sync-worker-'));
  // What `npm run build:worker` runs, into a scratch folder.
  await run(join(ROOT, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', out], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
  });
  const toml = await readFile(join(ROOT, 'wrangler.toml'), 'utf8');
  const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] as string;
  mf = new Miniflare({
    // Listed rather than walked: supabase-js keeps an optional `import(name)` of OpenTelemetry, which
    // Miniflare's module walker refuses (it resolves to nothing at run time and is caught).
    modulesRoot: out,
    modules: [{ type: 'ESModule', path: join(out, 'index.js') }],
    compatibilityDate,
    bindings: {
      SUPABASE_URL: rest.url,
      SUPABASE_SERVICE_ROLE_KEY: rest.serviceKey,
      CLERK_WEBHOOK_SIGNING_SECRET: SECRET,
      // No CLERK_JWT_KEY: session tokens are checked with the JWKS the stand-in serves.
      CLERK_SECRET_KEY,
      CLERK_API_URL: clerk.url,
      LOG_LEVEL: 'info',
    },
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.on('data', (b) => (logs += b));
      stderr.on('data', (b) => (logs += b));
    },
  });
  await mf.ready;
}, 120_000);

afterAll(async () => {
  await mf?.dispose();
  await rest?.close();
  await clerk?.close();
  await t?.close();
  if (out) await rm(out, { recursive: true, force: true });
});

beforeEach(async () => {
  rest.useDatabase(t.db);
  await t.reset();
});

const deliver = async (payload: unknown, secret = SECRET) => {
  const d = signed(payload, { secret });
  const res = await mf.dispatchFetch('http://worker.test/webhooks/clerk', {
    method: 'POST',
    headers: d.headers,
    body: d.body,
  });
  return { status: res.status, body: (await res.json()) as unknown };
};
const users = async () => (await t.db.query('select id from public.users_public order by id')).rows;

describe('the Worker in workerd', () => {
  it('applies signed events: rows land in Postgres', async () => {
    expect(await deliver(sampleEvent('user.created', { id: 'user_workerd' }))).toEqual({
      status: 200,
      body: { outcome: 'applied' },
    });
    expect(await deliver(sampleEvent('organization.created', { id: 'org_workerd' }))).toMatchObject({
      status: 200,
    });
    expect(await users()).toEqual([{ id: 'user_workerd' }]);
    expect((await t.db.query('select id from public.organizations')).rows).toEqual([{ id: 'org_workerd' }]);
    const health = await mf.dispatchFetch('http://worker.test/healthz');
    expect(health.status).toBe(200);
  });

  it('POST /users/me/sync: a session token verified with the JWKS, the user fetched from Clerk and mirrored', async () => {
    const sync = (token: string) =>
      mf.dispatchFetch('http://worker.test/users/me/sync', {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
      });
    const res = await sync(sessionToken(key, clerkUser.id));
    expect({ status: res.status, body: await res.json() }).toEqual({
      status: 200,
      body: { outcome: 'applied' },
    });
    expect(await users()).toEqual([{ id: clerkUser.id }]);
    expect((await sync(sessionToken(instanceKey(), clerkUser.id, {}, { kid: key.kid }))).status).toBe(401);
  });

  it('refuses a bad signature with 401 and writes nothing', async () => {
    expect(await deliver(sampleEvent('user.created', { id: 'user_forged' }), OTHER_SECRET)).toEqual({
      status: 401,
      body: { error: 'invalid signature' },
    });
    expect(await users()).toEqual([]);
  });

  it('answers 503 while the database is unreachable, so Svix retries', async () => {
    const unreachable = pgDatabase('postgres://postgres@127.0.0.1:9/none', { connectionTimeoutMs: 1_000 });
    rest.useDatabase(unreachable);
    try {
      expect((await deliver(sampleEvent('user.created', { id: 'user_later' }))).status).toBe(503);
    } finally {
      await unreachable.close();
    }
    expect(await users()).toEqual([]);
  });

  it('logs JSON lines through the console sink, without secrets', async () => {
    await deliver(sampleEvent('user.created', { id: 'user_logged' }));
    await expect.poll(() => logs, { timeout: 5_000 }).toMatch(/"object_id":"user_logged"/);
    const line = logs.split('\n').find((l) => l.includes('"object_id":"user_logged"')) as string;
    expect(JSON.parse(line.slice(line.indexOf('{')))).toMatchObject({
      level: 30,
      msg: 'webhook',
      outcome: 'applied',
      status: 200,
      type: 'user.created',
    });
    expect(logs).not.toContain(SECRET);
    expect(logs).not.toContain(rest.serviceKey);
  });
});

describe('the Worker’s budget', () => {
  // Its CPU per event is a speed figure: `npm run bench -- --only edge` measures it.
  it('bundle under 150 KB gzipped', async () => {
    const code = await readFile(join(out, 'index.js'));
    expect(gzipSync(code, { level: 9 }).length / 1024).toBeLessThan(150);
  });
});
