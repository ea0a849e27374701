import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseColumn } from '../../src/cli/commands/metadata.ts';
import type { KindName } from '../../src/core/kinds.ts';
import { createStore } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { orgRow, userRow } from '../fixtures/rows.ts';
import { cli } from '../support/cli-io.ts';
import { onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';

let t: TestDatabase;
let dir: string;
beforeAll(async () => {
  t = await openTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'clerk-sync-metadata-'));
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await t?.close();
});
beforeEach(() => t.reset());

const upsert = (kind: KindName, rows: object[]) =>
  t.db.query('select public.clerk_sync_upsert($1, $2)', [kind, JSON.stringify(rows)]);
const apply = (text: string) => t.db.transaction((tx) => tx.exec(text));

async function seed() {
  await upsert('user', [
    userRow('user_1', 1, { public_metadata: { plan: 'pro', seats: 5, billing: { tier: 'gold' } } }),
    userRow('user_2', 1, { public_metadata: { plan: 'free', beta: true } }),
    userRow('user_3', 1, { public_metadata: { plan: 42 } }),
    userRow('user_4', 1, { public_metadata: {} }),
  ]);
  await upsert('organization', [orgRow('org_1', 1, { public_metadata: { region: 'eu' } })]);
}

describe('clerk-sync metadata: the keys of public_metadata', () => {
  it('lists each key (nested ones as paths) with its JSON type and the share of rows that have it', async () => {
    await seed();
    const keys = await createStore(sqlRpc(t.db)).metadataKeys();
    expect(keys).toEqual({
      ok: true,
      value: [
        { source: 'users', path: 'beta', type: 'boolean', rows: 1, total: 4 },
        { source: 'users', path: 'billing', type: 'object', rows: 1, total: 4 },
        { source: 'users', path: 'billing.tier', type: 'string', rows: 1, total: 4 },
        { source: 'users', path: 'plan', type: 'string', rows: 2, total: 4 },
        { source: 'users', path: 'plan', type: 'number', rows: 1, total: 4 },
        { source: 'users', path: 'seats', type: 'number', rows: 1, total: 4 },
        { source: 'organizations', path: 'region', type: 'string', rows: 1, total: 1 },
      ],
    });
  });

  it('is the service role’s only: it reads every user’s metadata', async () => {
    await expect(
      t.as('authenticated', { sub: 'user_1' }, (s) =>
        s.query('select * from public.clerk_sync_metadata_keys()'),
      ),
    ).rejects.toThrow(/permission denied/);
  });

  it.runIf(onServer)('prints them per table (the command, on the server)', async () => {
    await seed();
    const { code, out, err } = await cli(['metadata'], { DATABASE_URL: t.url });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out.split('\n')).toEqual([
      'users (4 rows):',
      '  beta          boolean   25.0%  (1/4)',
      '  billing       object    25.0%  (1/4)',
      '  billing.tier  string    25.0%  (1/4)',
      '  plan          string    50.0%  (2/4)',
      '  plan          number    25.0%  (1/4)',
      '  seats         number    25.0%  (1/4)',
      'organizations (1 rows):',
      '  region  string   100.0%  (1/1)',
    ]);
  });
});

describe('clerk-sync metadata --column', () => {
  it.each([
    ['no type', 'users.public_metadata.plan', /has no type/],
    [
      'an unknown type',
      'users.public_metadata.plan:uuid',
      /not one of text, boolean, numeric, bigint, jsonb/,
    ],
    ['another table', 'memberships.public_metadata.plan:text', /must start with users\. or organizations\./],
    ['another column', 'users.private_metadata.plan:text', /must name a key of public_metadata/],
    ['no key', 'users.public_metadata:text', /must name a key of public_metadata/],
    [
      'a key SQL would need quoting for',
      "users.public_metadata.pl'an:text",
      /not letters, digits and _ only/,
    ],
    ['an empty nested key', 'users.public_metadata.a..b:text', /not letters, digits and _ only/],
  ])('refuses %s with one clear line and a non-zero exit', async (_label, spec, message) => {
    const { code, out, err } = await cli(['metadata', '--column', spec, '--dir', dir]);
    expect(code).not.toBe(0);
    expect(out).toBe('');
    expect(err.split('\n')).toHaveLength(1);
    expect(err).toMatch(message);
    expect(await readdir(dir)).toEqual([]);
  });

  it('accepts integer for bigint, nested keys, and names the column after the path', () => {
    expect(parseColumn('organizations.public_metadata.billing.tier:integer')).toEqual({
      source: 'organizations',
      table: 'organizations',
      path: ['billing', 'tier'],
      type: 'bigint',
      column: 'public_metadata_billing_tier',
    });
  });

  it('refuses a folder that is not there', async () => {
    const { code, err } = await cli([
      'metadata',
      '--column',
      'users.public_metadata.plan:text',
      '--dir',
      join(dir, 'nope'),
    ]);
    expect(code).not.toBe(0);
    expect(err).toMatch(/no folder .*nope/);
  });

  it('writes a migration: a typed, indexed generated column the sync keeps current and policies can use', async () => {
    const written = await cli([
      'metadata',
      '--column',
      'users.public_metadata.plan:text',
      '--dir',
      dir,
      '--json',
    ]);
    expect(written).toMatchObject({ code: 0, err: '' });
    const { file, column } = JSON.parse(written.out) as { file: string; column: string };
    expect(column).toBe('public.users_private.public_metadata_plan');
    expect(file).toMatch(/\/\d{14}_metadata_users_plan\.sql$/);
    const sql = await readFile(file, 'utf8');
    await seed();
    await apply(sql);
    await apply(sql); // idempotent
    await apply(
      (await cli(['metadata', '--column', 'users.public_metadata.seats:integer', '--dry-run'])).out,
    );
    await apply(
      (await cli(['metadata', '--column', 'organizations.public_metadata.region:text', '--dry-run'])).out,
    );

    const plans = async () =>
      (
        await t.db.query<{
          id: string;
          public_metadata_plan: string | null;
          public_metadata_seats: string | null;
        }>('select id, public_metadata_plan, public_metadata_seats from public.users_private order by id')
      ).rows.map((r) => [
        r.id,
        r.public_metadata_plan,
        r.public_metadata_seats === null ? null : Number(r.public_metadata_seats),
      ]);
    // A number where text is expected reads NULL: no metadata can make a write fail.
    expect(await plans()).toEqual([
      ['user_1', 'pro', 5],
      ['user_2', 'free', null],
      ['user_3', null, null],
      ['user_4', null, null],
    ]);

    // The mirror's writers still work, and keep the column current.
    await upsert('user', [
      userRow('user_2', 2, { public_metadata: { plan: 'pro', seats: 1.5 } }),
      userRow('user_5', 1, { public_metadata: { plan: 'team', seats: 12 } }),
    ]);
    await upsert('organization', [orgRow('org_1', 2, { public_metadata: { region: 'us' } })]);
    expect(await plans()).toEqual([
      ['user_1', 'pro', 5],
      ['user_2', 'pro', null],
      ['user_3', null, null],
      ['user_4', null, null],
      ['user_5', 'team', 12],
    ]);
    expect((await t.db.query('select public_metadata_region as r from public.organizations')).rows).toEqual([
      { r: 'us' },
    ]);

    // Indexed.
    const indexes = await t.db.query<{ indexdef: string }>(
      "select indexdef from pg_indexes where tablename = 'users_private' and indexdef like '%public_metadata_plan%'",
    );
    expect(indexes.rows).toHaveLength(1);

    // Usable in a policy: an app table readable by users on the pro plan.
    await apply(`
      create table public.reports (id int primary key);
      insert into public.reports values (1);
      alter table public.reports enable row level security;
      grant select on public.reports to authenticated;
      create policy "Pro users can read reports" on public.reports for select to authenticated
        using (exists (select 1 from public.users_private u
                       where u.id = (select public.requesting_user_id()) and u.public_metadata_plan = 'pro'));`);
    const read = (sub: string) =>
      t.as(
        'authenticated',
        { sub },
        async (s) => (await s.query('select id from public.reports')).rows.length,
      );
    expect([await read('user_1'), await read('user_3'), await read('user_5')]).toEqual([1, 0, 0]);
  });
});
