import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteDatabase } from '../../src/db/pglite.ts';
import { createEmptyDatabase, onServer } from '../support/db.ts';

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

describe('npm start says plainly what is wrong', () => {
  const start = (env: Record<string, string>) => {
    const { DATABASE_URL: _a, SUPABASE_URL: _b, CLERK_WEBHOOK_SIGNING_SECRET: _c, ...rest } = process.env;
    const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'src/node/server.ts')], {
      env: { ...rest, ...env },
    });
    let output = '';
    child.stdout?.on('data', (b) => (output += b));
    child.stderr?.on('data', (b) => (output += b));
    return { child, output: () => output };
  };

  it('PORT=abc: one line naming the variable and the fix, exit 1', async () => {
    const { child, output } = start({ PORT: 'abc' });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(output()).toBe(
      'clerk-supabase-sync: PORT must be a port number from 0 to 65535, e.g. PORT=8787\n',
    );
  }, 30_000);

  it.runIf(onServer)(
    'an unmigrated database: said before listening, and /healthz says schema_missing',
    async () => {
      const empty = await createEmptyDatabase();
      const port = await freePort();
      const { child, output } = start({
        DATABASE_URL: empty.url as string,
        CLERK_WEBHOOK_SIGNING_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        PORT: String(port),
      });
      try {
        await expect.poll(output, { timeout: 20_000 }).toMatch(/listening on/);
        const where = new URL(empty.url as string);
        const lines = output()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { msg: string });
        expect(lines.map((l) => l.msg)).toEqual([
          `the database at ${where.hostname}:${where.port}${where.pathname} has no clerk-sync schema: run clerk-sync migrate (or supabase db push); until then every delivery is answered 503 and Svix retries it`,
          `listening on http://localhost:${port}/webhooks/clerk`,
        ]);
        const health = await fetch(`http://localhost:${port}/healthz`);
        expect([health.status, await health.json()]).toEqual([
          503,
          expect.objectContaining({ status: 'schema_missing', fix: 'run clerk-sync migrate' }),
        ]);
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
        await empty.drop();
      }
    },
    40_000,
  );
});
