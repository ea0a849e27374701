/**
 * Smoke suite in Deno: the Supabase Edge Function entry run by the `deno` npm package, with its own
 * deno.json as import map and the npm packages from node_modules (no registry at run time), writing
 * through supabase-js to the test PostgREST endpoint on the real database.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../src/core/samples.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { type DenoProcess, freePort, startDeno } from '../support/deno.ts';
import { type PostgrestEndpoint, startPostgrest } from '../support/postgrest.ts';
import { OTHER_SECRET, SECRET, signed } from '../support/webhooks.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);
const FUNCTION_DIR = join(ROOT, 'supabase/functions/clerk-webhook');

let t: TestDatabase;
let rest: PostgrestEndpoint;
let deno: DenoProcess;
let base: string;

beforeAll(async () => {
  t = await openTestDatabase();
  rest = await startPostgrest(t.db);
  const port = await freePort();
  base = `http://127.0.0.1:${port}/clerk-webhook`;
  deno = await startDeno(
    ['--config', join(FUNCTION_DIR, 'deno.json')],
    join(FUNCTION_DIR, 'index.ts'),
    ROOT,
    {
      PORT: String(port),
      SUPABASE_URL: rest.url,
      SUPABASE_SERVICE_ROLE_KEY: rest.serviceKey,
      CLERK_WEBHOOK_SIGNING_SECRET: SECRET,
      LOG_LEVEL: 'info',
    },
  );
}, 90_000);

afterAll(async () => {
  deno?.child.kill('SIGTERM');
  await rest?.close();
  await t?.close();
});

beforeEach(async () => {
  rest.useDatabase(t.db);
  await t.reset();
});

const deliver = async (payload: unknown, secret = SECRET) => {
  const d = signed(payload, { secret });
  const res = await fetch(`${base}/webhooks/clerk`, { method: 'POST', headers: d.headers, body: d.body });
  return { status: res.status, body: (await res.json()) as unknown };
};
const users = async () => (await t.db.query('select id from public.users_public order by id')).rows;

describe('the Edge Function in Deno', () => {
  it('applies signed events at /clerk-webhook/webhooks/clerk: rows land in Postgres', async () => {
    expect(await deliver(sampleEvent('user.created', { id: 'user_deno' }))).toEqual({
      status: 200,
      body: { outcome: 'applied' },
    });
    expect(await users()).toEqual([{ id: 'user_deno' }]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await expect.poll(() => deno.output()).toMatch(/"object_id":"user_deno".*"outcome":"applied"/);
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

  it('type-checks under Deno (deno check, with the function’s own deno.json)', async () => {
    const args = [
      'check',
      '--no-lock',
      '--node-modules-dir=manual',
      '--config',
      join(FUNCTION_DIR, 'deno.json'),
    ];
    const { stderr } = await run(
      join(ROOT, 'node_modules/.bin/deno'),
      [...args, join(FUNCTION_DIR, 'index.ts')],
      {
        cwd: ROOT,
        env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' },
      },
    );
    expect(stderr).not.toMatch(/error/i);
  }, 60_000);

  it('deno.json pins the same npm packages as package.json (what the Supabase bundler fetches)', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const { imports } = JSON.parse(await readFile(join(FUNCTION_DIR, 'deno.json'), 'utf8')) as {
      imports: Record<string, string>;
    };
    for (const [name, target] of Object.entries(imports)) {
      const npm = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@([^/]+)\/?$/.exec(target);
      if (npm === null) continue;
      expect(`${name}: ${npm[1]}@${npm[2]}`).toBe(`${name}: ${npm[1]}@${pkg.dependencies[npm[1] as string]}`);
    }
    expect(imports['@app/']).toBe('../../../src/');
  });
});
