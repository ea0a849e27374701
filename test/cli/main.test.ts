import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { MIRRORED_EVENT_TYPES } from '../../src/core/kinds.ts';
import { createEmptyDatabase, onServer } from '../support/db.ts';

async function cli(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('clerk-sync', () => {
  it.each([
    ['no command: usage, non-zero', [], 1, /Usage: clerk-sync <command>/],
    ['--help', ['--help'], 0, /migrate/],
    ['a command --help', ['migrate', '--help'], 0, /Usage: clerk-sync migrate/],
    ['send-test-event --help', ['send-test-event', '--help'], 0, /user\.created/],
  ])('%s', async (_label, argv, code, pattern) => {
    const r = await cli(argv);
    expect(r.code).toBe(code);
    expect(r.out).toMatch(pattern);
  });

  it.each([
    ['an unknown command', ['frobnicate'], {}, /^clerk-sync: unknown command 'frobnicate'\. Commands: /],
    [
      'an unknown option',
      ['migrate', '--fast'],
      {},
      /^clerk-sync migrate: unknown option --fast: migrate takes --dir, --embedded, --json \(clerk-sync migrate --help\)$/,
    ],
    [
      'a malformed DATABASE_URL',
      ['migrate'],
      { DATABASE_URL: 'mysql://h/db' },
      /^clerk-sync migrate: DATABASE_URL must be a postgres/,
    ],
    [
      'an unreachable database',
      ['migrate'],
      { DATABASE_URL: 'postgres://u@127.0.0.1:9/db' },
      /^clerk-sync migrate: cannot reach the database at 127\.0\.0\.1:9\/db \(connection refused\)/,
    ],
    [
      'migrate over supabase-js only',
      ['migrate'],
      { SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SECRET_KEY: 'k' },
      /DATABASE_URL is missing/,
    ],
    ['send-test-event without a type', ['send-test-event'], {}, /give an event type/],
  ])('fails with one actionable line: %s', async (_label, argv, env, pattern) => {
    const r = await cli(argv, env);
    expect(r.code).not.toBe(0);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(pattern);
  });

  it.each([
    [
      'a signing secret that is not base64',
      ['replay'],
      { CLERK_WEBHOOK_SIGNING_SECRET: 'whsec_abc' },
      'clerk-sync replay: CLERK_WEBHOOK_SIGNING_SECRET is not valid: the part after whsec_ must be base64, and this one was cut short or changed when copied — copy it again (Clerk dashboard → Webhooks → your endpoint → Signing Secret)',
    ],
    [
      'the same, given to send-test-event',
      ['send-test-event', 'user.created'],
      { CLERK_WEBHOOK_SIGNING_SECRET: 'whsec_ab=c' },
      'clerk-sync send-test-event: CLERK_WEBHOOK_SIGNING_SECRET is not valid: the part after whsec_ must be base64, and this one was cut short or changed when copied — copy it again (Clerk dashboard → Webhooks → your endpoint → Signing Secret)',
    ],
    [
      'PORT=abc',
      ['replay'],
      { PORT: 'abc' },
      'clerk-sync replay: PORT must be a port number from 0 to 65535, e.g. PORT=8787',
    ],
    [
      'an unknown database host',
      ['replay'],
      { DATABASE_URL: 'postgres://u@nohost.invalid/app' },
      "clerk-sync replay: cannot find the database host 'nohost.invalid': check the host name in DATABASE_URL",
    ],
    [
      'replay on a port where no database listens',
      ['replay'],
      { DATABASE_URL: 'postgres://u:pw@127.0.0.1:9/app' },
      'clerk-sync replay: cannot reach the database at 127.0.0.1:9/app (connection refused): is it running, and are the host and port in DATABASE_URL right?',
    ],
    [
      'an option without its value',
      ['backfill', '--only'],
      {},
      'clerk-sync backfill: --only needs a value (clerk-sync backfill --help)',
    ],
    [
      'an unknown event type',
      ['send-test-event', 'user.creatd'],
      {},
      `clerk-sync send-test-event: unknown event type 'user.creatd': use one of ${MIRRORED_EVENT_TYPES.join(', ')}`,
    ],
    [
      'a --wait that is not seconds',
      ['send-test-event', 'user.created', '--wait', 'soon'],
      {},
      'clerk-sync send-test-event: --wait takes a number of seconds, e.g. --wait 30',
    ],
  ])('says in one line what to fix: %s', async (_label, argv, env, line) => {
    const r = await cli(argv, env);
    expect(r.code).toBe(1);
    expect(r.err).toBe(line);
  });

  describe('send-test-event --wait', () => {
    // Accepts connections and never answers.
    let silent: Server;
    let port: number;
    const sockets: Socket[] = [];
    beforeAll(async () => {
      silent = createServer((socket) => {
        sockets.push(socket);
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      port = (silent.address() as { port: number }).port;
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    it('gives up on a receiver that never answers, in one line', async () => {
      const url = `http://127.0.0.1:${port}/webhooks/clerk`;
      const started = Date.now();
      const r = await cli(['send-test-event', 'user.created', '--url', url, '--wait', '0.5'], {
        CLERK_WEBHOOK_SIGNING_SECRET: 'whsec_AAAA',
      });
      expect(r.err).toBe(
        `clerk-sync send-test-event: no answer from ${url} within 0.5 s: is the receiver running and reachable? (--wait SECONDS waits longer)`,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('waits for a receiver that is not up, then says so in one line', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port: nobody } = closed.address() as { port: number };
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const url = `http://127.0.0.1:${nobody}/webhooks/clerk`;
      const r = await cli(['send-test-event', 'user.created', '--url', url, '--wait', '0.5'], {
        CLERK_WEBHOOK_SIGNING_SECRET: 'whsec_AAAA',
      });
      expect(r.err).toBe(
        `clerk-sync send-test-event: cannot reach ${url} (connection refused for 0.5 s): is the receiver running (npm start)? Set --url if it listens elsewhere`,
      );
    });

    it('waits 30 s unless told otherwise', async () => {
      expect((await cli(['send-test-event', '--help'])).out).toMatch(/--wait SECONDS .*\(default 30\)/);
    });
  });

  it.runIf(onServer)('says a missing database is missing, in one line', async () => {
    const r = await cli(['replay'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/clerk_sync_absent' });
    expect(r.err).toBe(
      "clerk-sync replay: the database 'clerk_sync_absent' does not exist on 127.0.0.1:5432: create it (createdb clerk_sync_absent) or fix the database name in DATABASE_URL",
    );
  });

  it.runIf(onServer)('says an unmigrated database needs migrate, in one line', async () => {
    const { url, drop } = await createEmptyDatabase();
    try {
      const r = await cli(['replay'], { DATABASE_URL: url as string });
      const where = new URL(url as string);
      expect(r.err).toBe(
        `clerk-sync replay: the database at ${where.hostname}:${where.port}${where.pathname} has no clerk-sync schema: run clerk-sync migrate (or supabase db push) first`,
      );
    } finally {
      await drop();
    }
  });

  it.runIf(onServer)('migrate applies to DATABASE_URL and is idempotent', async () => {
    const { url, drop } = await createEmptyDatabase();
    try {
      const first = await cli(['migrate', '--json'], { DATABASE_URL: url as string });
      expect(first.code).toBe(0);
      expect(JSON.parse(first.out).applied.length).toBeGreaterThan(0);
      expect(await cli(['migrate'], { DATABASE_URL: url as string })).toMatchObject({
        code: 0,
        out: expect.stringMatching(/^Schema is current/),
      });
    } finally {
      await drop();
    }
  });
});
