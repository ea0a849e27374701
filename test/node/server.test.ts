import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteDatabase } from '../../src/db/pglite.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

// `npm start` is `tsx src/node/server.ts`; run the same in a scratch folder so its .data/ is its own.
describe('npm start on the embedded default', () => {
  let dir: string;
  let port: number;
  let server: ChildProcess;
  let output = '';
  const env = () => {
    const { DATABASE_URL: _a, SUPABASE_URL: _b, CLERK_WEBHOOK_SIGNING_SECRET: _c, ...rest } = process.env;
    return { ...rest, PORT: String(port), LOG_LEVEL: 'debug' };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clerk-sync-start-'));
    port = await freePort();
    server = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'src/node/server.ts')], {
      cwd: dir,
      env: env(),
    });
    server.stdout?.on('data', (b) => (output += b));
    server.stderr?.on('data', (b) => (output += b));
    const started = Date.now();
    while (!output.includes('signing secret') && Date.now() - started < 30_000)
      await new Promise((r) => setTimeout(r, 200));
  }, 40_000);

  afterAll(async () => {
    if (server.exitCode === null) server.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the URL and a dev signing secret it keeps in .data/', async () => {
    const secret = (await readFile(join(dir, '.data/signing-secret'), 'utf8')).trim();
    expect(secret).toMatch(/^whsec_/);
    expect(output).toContain(`http://localhost:${port}/webhooks/clerk`);
    expect(output).toContain(secret);
  });

  it('answers /healthz', async () => {
    const res = await fetch(`http://localhost:${port}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('syncs a send-test-event into the embedded database', async () => {
    const { stdout } = await run(
      join(ROOT, 'bin/clerk-sync.mjs'),
      ['send-test-event', 'user.created', '--id', 'user_starttest', '--json'],
      { cwd: dir, env: env() },
    );
    expect(JSON.parse(stdout)).toMatchObject({ status: 200, body: { outcome: 'applied' } });
    // Off a terminal the log goes out in blocks, or within 0.5 s.
    await expect
      .poll(() => output, { timeout: 3_000 })
      .toMatch(/"object_id":"user_starttest".*"outcome":"applied"/);

    server.kill('SIGTERM');
    await expect.poll(() => server.exitCode, { timeout: 10_000 }).toBe(0);
    // Its log lines (JSON, at debug level) carry no secret or personal data; only the banner shows the dev secret.
    const logLines = output.split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(1);
    expect(logLines.join('\n')).not.toMatch(/whsec_|@example\.com|\+1555|"first_name"/);
    const db = await pgliteDatabase(join(dir, '.data/pglite'));
    try {
      expect((await db.query('select id from public.users_public')).rows).toEqual([{ id: 'user_starttest' }]);
    } finally {
      await db.close();
    }
  }, 30_000);
});
