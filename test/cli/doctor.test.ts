import { randomBytes } from 'node:crypto';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { doctorCommand, formatCheck } from '../../src/cli/commands/doctor.ts';
import type { Database } from '../../src/db/database.ts';
import { loadMigrations, migrate } from '../../src/db/migrate.ts';
import { createStore, SCHEMA_VERSION } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { captureIo, cli } from '../support/cli-io.ts';
import { createEmptyDatabase, onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';

const GOOD_KEY = 'sk_test_good0123456789';
const clerk = setupServer(
  http.get('http://clerk.test/v1/users', ({ request }) => {
    if (request.headers.get('authorization') !== `Bearer ${GOOD_KEY}`)
      return HttpResponse.json(
        { errors: [{ message: 'Unauthorized', code: 'authentication_invalid' }] },
        { status: 401 },
      );
    expect(new URL(request.url).searchParams.get('limit')).toBe('1');
    return HttpResponse.json([]);
  }),
  http.get('http://down.clerk.test/v1/users', () => HttpResponse.error()),
);

/** The database each case runs against: current, empty, one migration behind, or from the future. */
type DbName = 'current' | 'empty' | 'older' | 'newer';
let t: TestDatabase;
const databases = {} as Record<DbName, Database>;
const drops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  clerk.listen({ onUnhandledRequest: 'error' });
  t = await openTestDatabase();
  databases.current = t.db;
  const empty = await createEmptyDatabase();
  const older = await createEmptyDatabase();
  const newer = await createEmptyDatabase();
  drops.push(empty.drop, older.drop, newer.drop);
  await migrate(older.db, (await loadMigrations()).slice(0, -1));
  await migrate(newer.db);
  await newer.db.query(
    `create or replace function public.clerk_sync_schema_version() returns text language sql immutable
     set search_path = '' as $$ select '29990101000000'::text $$`,
  );
  Object.assign(databases, { empty: empty.db, older: older.db, newer: newer.db });
}, 120_000);
afterEach(() => clerk.resetHandlers());
afterAll(async () => {
  clerk.close();
  await Promise.all(drops.map((drop) => drop()));
  await t?.close();
});

const healthy = {
  CLERK_SECRET_KEY: GOOD_KEY,
  CLERK_API_URL: 'http://clerk.test/v1',
  CLERK_WEBHOOK_SIGNING_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
  DATABASE_URL: 'postgres://postgres:secret@db.test:5432/app',
};

/** Runs the doctor on `env`; `db` stands in for the database (null: open DATABASE_URL for real). */
async function doctor(
  env: Record<string, string | undefined>,
  db: DbName | null = 'current',
  options: { json?: boolean; color?: boolean } = {},
) {
  const captured = captureIo({ color: options.color ?? false });
  const command = doctorCommand(
    db === null ? {} : { openStore: async () => createStore(sqlRpc(databases[db])) },
  );
  const code = await command.run({ values: { json: options.json }, positionals: [] }, env, captured.io);
  return { code, lines: captured.out().split('\n'), err: captured.err() };
}

describe('clerk-sync doctor', () => {
  it('a healthy set-up: every check ✓, exit 0, and no secret printed', async () => {
    const r = await doctor(healthy);
    expect(r).toEqual({
      code: 0,
      err: '',
      lines: [
        '✓ CLERK_SECRET_KEY: sk_test_… (a development instance)',
        '✓ Clerk API: Clerk at http://clerk.test/v1 accepts the secret key',
        '✓ CLERK_WEBHOOK_SIGNING_SECRET: whsec_… (well formed)',
        '✓ database: connected to db.test:5432/app',
        `✓ schema: at ${SCHEMA_VERSION}, current`,
        '✓ ledger: no failed events; no event applied yet',
        'All checks passed.',
      ],
    });
  });

  it.each([
    [
      'a publishable key',
      { CLERK_SECRET_KEY: 'pk_test_Y2xlcmsuZXhhbXBsZS5jb20k' },
      'current',
      /^✗ CLERK_SECRET_KEY: holds the publishable key \(pk_…\).* → set CLERK_SECRET_KEY to the sk_test_… or sk_live_…/,
    ],
    [
      'no secret key',
      { CLERK_SECRET_KEY: undefined },
      'current',
      /^✗ CLERK_SECRET_KEY: not set → set CLERK_SECRET_KEY/,
    ],
    [
      'a key Clerk rejects',
      { CLERK_SECRET_KEY: 'sk_live_revoked' },
      'current',
      /^✗ Clerk API: Clerk rejected the secret key \(401\) → copy the secret key .* into CLERK_SECRET_KEY/,
    ],
    [
      'Clerk out of reach',
      { CLERK_API_URL: 'http://down.clerk.test/v1' },
      'current',
      /^✗ Clerk API: cannot reach Clerk at http:\/\/down\.clerk\.test\/v1 → check CLERK_API_URL/,
    ],
    [
      'a malformed CLERK_API_URL',
      { CLERK_API_URL: 'clerk.test' },
      'current',
      /^✗ Clerk API: CLERK_API_URL must be a URL .* → fix CLERK_API_URL/,
    ],
    [
      'a signing secret cut short',
      { CLERK_WEBHOOK_SIGNING_SECRET: 'whsec_abc' },
      'current',
      /^✗ CLERK_WEBHOOK_SIGNING_SECRET: whsec_ is not followed by valid base64 .* → set CLERK_WEBHOOK_SIGNING_SECRET to the whsec_…/,
    ],
    [
      'a signing secret without whsec_',
      { CLERK_WEBHOOK_SIGNING_SECRET: 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
      'current',
      /^✗ CLERK_WEBHOOK_SIGNING_SECRET: does not start with whsec_ → /,
    ],
    [
      'the API key in place of the signing secret',
      { CLERK_WEBHOOK_SIGNING_SECRET: GOOD_KEY },
      'current',
      /^✗ CLERK_WEBHOOK_SIGNING_SECRET: holds a Clerk API key, not the webhook signing secret → /,
    ],
    [
      'no signing secret beside DATABASE_URL',
      { CLERK_WEBHOOK_SIGNING_SECRET: undefined },
      'current',
      /^✗ CLERK_WEBHOOK_SIGNING_SECRET: not set \(the receiver needs it to verify deliveries\) → /,
    ],
    [
      'an empty database',
      {},
      'empty',
      /^✗ schema: no clerk-sync schema in this database → run clerk-sync migrate \(or supabase db push\)$/,
    ],
    [
      'a schema one migration behind',
      {},
      'older',
      /^✗ schema: at \d{14}, older than this version expects \(\d{14}\) → run clerk-sync migrate \(or supabase db push\)$/,
    ],
    [
      'a schema newer than the code',
      {},
      'newer',
      /^✗ schema: at 29990101000000, newer than this version knows \(\d{14}\) → upgrade clerk-supabase-sync$/,
    ],
    [
      'a database out of reach',
      { DATABASE_URL: 'postgres://u:pw@127.0.0.1:9/app' },
      null,
      /^✗ database: cannot reach 127\.0\.0\.1:9\/app \(.*\) → is Postgres running\? check DATABASE_URL/,
    ],
    [
      'a malformed DATABASE_URL',
      { DATABASE_URL: 'mysql://h/db' },
      null,
      /^✗ database: DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ connection string → /,
    ],
    [
      'SUPABASE_URL without its key',
      { DATABASE_URL: undefined, SUPABASE_URL: 'https://ref.supabase.co' },
      null,
      /^✗ database: SUPABASE_SERVICE_ROLE_KEY is missing: set it/,
    ],
  ] as const)(
    '%s: the matching ✗ line with its fix, every other check still run, exit 1',
    async (_label, env, db, line) => {
      const r = await doctor({ ...healthy, ...env }, db);
      expect(r.code).toBe(1);
      expect(r.lines.filter((l) => l.startsWith('✗'))).toEqual([expect.stringMatching(line)]);
      expect(r.lines).toHaveLength(7);
      expect(r.lines.at(-1)).toMatch(/^1 problem, 0 warnings\.$/);
      expect(r.lines.join('\n')).not.toContain('pw@');
    },
  );

  it('several problems at once: each reported, the Clerk call skipped without a key', async () => {
    const r = await doctor(
      {
        ...healthy,
        CLERK_SECRET_KEY: 'pk_live_x',
        CLERK_WEBHOOK_SIGNING_SECRET: 'whsec_!!',
        DATABASE_URL: 'postgres://u@127.0.0.1:9/app',
      },
      null,
    );
    expect(r.code).toBe(1);
    expect(r.lines.map((l) => l.split(':')[0])).toEqual([
      '✗ CLERK_SECRET_KEY',
      '- Clerk API',
      '✗ CLERK_WEBHOOK_SIGNING_SECRET',
      '✗ database',
      '- schema',
      '- ledger',
      '3 problems, 0 warnings.',
    ]);
  });

  it('failed ledger events are a warning, with the last applied event; exit 0', async () => {
    await t.db.query(
      `select public.clerk_sync_apply_event(event_id => 'msg_' || i, event_type => 'user.created',
         failure => 'bug', payload => '{}', reason => 'invalid_event') from generate_series(1, 2) i`,
    );
    await t.db.query(
      `select public.clerk_sync_apply_event('msg_ok', 'user.deleted', 'user', 'delete', '{"id":"user_gone"}')`,
    );
    try {
      const r = await doctor(healthy);
      expect(r.code).toBe(0);
      expect(r.lines.at(-2)).toMatch(
        /^! ledger: 2 failed events \(2 invalid_event\); last event applied \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(just now\) → run clerk-sync replay/,
      );
      expect(r.lines.at(-1)).toBe('0 problems, 1 warning.');
    } finally {
      await t.reset();
    }
  });

  it('on the embedded default no signing secret is needed', async () => {
    const r = await doctor({ ...healthy, DATABASE_URL: undefined, CLERK_WEBHOOK_SIGNING_SECRET: undefined });
    expect(r.code).toBe(0);
    expect(r.lines).toContain(
      '✓ CLERK_WEBHOOK_SIGNING_SECRET: not set: fine on the embedded database, where npm start makes one in .data/',
    );
    expect(r.lines).toContain('✓ database: connected to the embedded database (.data/pglite)');
  });

  it('--json: the checks, and ok', async () => {
    const r = await doctor({ ...healthy, CLERK_SECRET_KEY: 'pk_test_x' }, 'current', { json: true });
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    const report = JSON.parse(r.lines[0] as string);
    expect(report.ok).toBe(false);
    expect(report.checks).toHaveLength(6);
    expect(report.checks[0]).toEqual({
      name: 'CLERK_SECRET_KEY',
      status: 'fail',
      found: 'holds the publishable key (pk_…), which cannot call the Backend API',
      fix: expect.stringMatching(/^set CLERK_SECRET_KEY/),
    });
    expect(report.checks[1]).toEqual({
      name: 'Clerk API',
      status: 'skip',
      found: 'not checked: needs a valid CLERK_SECRET_KEY',
    });
  });

  it.each([
    ['colour', true, '\x1b[32m✓\x1b[0m CLERK_SECRET_KEY: sk_test_… (a development instance)'],
    [
      'no colour (NO_COLOR, or not a terminal)',
      false,
      '✓ CLERK_SECRET_KEY: sk_test_… (a development instance)',
    ],
  ])('%s', async (_label, color, first) => {
    const r = await doctor(healthy, 'current', { color });
    expect(r.lines[0]).toBe(first);
    if (!color) expect(r.lines.join('\n')).not.toContain('\x1b');
  });

  it.each([
    ['ok', { name: 'x', status: 'ok', found: 'fine' }, '✓ x: fine'],
    ['warn', { name: 'x', status: 'warn', found: 'hm', fix: 'do y' }, '! x: hm → do y'],
    ['fail', { name: 'x', status: 'fail', found: 'bad', fix: 'do z' }, '✗ x: bad → do z'],
    ['skip', { name: 'x', status: 'skip', found: 'not checked' }, '- x: not checked'],
  ] as const)('formats %s', (_label, check, line) => {
    expect(formatCheck(check)).toBe(line);
  });

  it('--help', async () => {
    const r = await cli(['doctor', '--help']);
    expect(r).toMatchObject({ code: 0, out: expect.stringMatching(/^Usage: clerk-sync doctor \[--json\]/) });
  });

  it.runIf(onServer)('reads DATABASE_URL through the CLI', async () => {
    const r = await cli(['doctor'], { ...healthy, DATABASE_URL: t.url as string });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^✓ database: connected to 127\.0\.0\.1:5432\/clerk_sync_test_/m);
    expect(r.out).toMatch(/All checks passed\.$/);
  });

  it.runIf(onServer)('a database name the server does not have', async () => {
    const url = new URL(t.url as string);
    url.pathname = '/clerk_sync_no_such_database';
    const r = await doctor({ ...healthy, DATABASE_URL: url.toString() }, null);
    expect(r.code).toBe(1);
    expect(r.lines).toContain(
      `✗ database: ${url.hostname}:${url.port}/clerk_sync_no_such_database: the database does not exist → check the database name in DATABASE_URL`,
    );
  });
});
