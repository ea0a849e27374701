import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
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
    ['an unknown option', ['migrate', '--fast'], {}, /^clerk-sync migrate: .*--fast.*\(see --help\)$/],
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
      /^clerk-sync migrate: cannot reach the database/,
    ],
    [
      'migrate over supabase-js only',
      ['migrate'],
      { SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SECRET_KEY: 'k' },
      /DATABASE_URL is missing/,
    ],
    ['send-test-event without a type', ['send-test-event'], {}, /give an event type/],
    [
      'send-test-event to nobody',
      ['send-test-event', 'user.created', '--url', 'http://127.0.0.1:9/x', '--wait', '0.5'],
      { CLERK_WEBHOOK_SIGNING_SECRET: 'whsec_AAAA' },
      /cannot reach http:\/\/127\.0\.0\.1:9\/x/,
    ],
  ])('fails with one actionable line: %s', async (_label, argv, env, pattern) => {
    const r = await cli(argv, env);
    expect(r.code).not.toBe(0);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(pattern);
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
