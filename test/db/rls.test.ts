import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { membershipRow, orgRow, userRow } from '../fixtures/rows.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';

// user_a and user_c are members of org_1, user_b of org_2, user_d of nothing.
let t: TestDatabase;
beforeAll(async () => {
  t = await openTestDatabase();
  await t.db.query("select public.clerk_sync_upsert('user', $1)", [
    JSON.stringify(['user_a', 'user_b', 'user_c', 'user_d'].map((id) => userRow(id, 1))),
  ]);
  await t.db.query("select public.clerk_sync_upsert('organization', $1)", [
    JSON.stringify([orgRow('org_1', 1), orgRow('org_2', 1)]),
  ]);
  await t.db.query("select public.clerk_sync_upsert('membership', $1)", [
    JSON.stringify([
      membershipRow('mem_a1', 'org_1', 'user_a', 1),
      membershipRow('mem_c1', 'org_1', 'user_c', 1),
      membershipRow('mem_b2', 'org_2', 'user_b', 1),
    ]),
  ]);
}, 60_000);
afterAll(() => t?.close());

type Role = 'anon' | 'authenticated' | 'service_role';
const identities: Record<string, [Role, object | null]> = {
  anon: ['anon', null],
  'user A': ['authenticated', { sub: 'user_a', role: 'authenticated' }],
  'user B': ['authenticated', { sub: 'user_b', role: 'authenticated' }],
  'org member C': ['authenticated', { sub: 'user_c', role: 'authenticated' }],
  'non-member D': ['authenticated', { sub: 'user_d', role: 'authenticated' }],
  'no sub': ['authenticated', { role: 'authenticated' }],
  'service role': ['service_role', { role: 'service_role' }],
};

async function visible(identity: string, table: string): Promise<string[] | 'denied'> {
  const [role, claims] = identities[identity] as [Role, object | null];
  try {
    return await t.as(role, claims, async (s) =>
      (await s.query<{ id: string }>(`select id from public.${table} order by id`)).rows.map((r) => r.id),
    );
  } catch (error) {
    if ((error as { code?: string }).code === '42501') return 'denied';
    throw error;
  }
}

const all4 = ['user_a', 'user_b', 'user_c', 'user_d'];
describe('who can read what', () => {
  it.each([
    ['anon', 'users_public', 'denied'],
    ['anon', 'users_private', 'denied'],
    ['anon', 'organizations', 'denied'],
    ['anon', 'organization_memberships', 'denied'],
    ['user A', 'users_public', all4],
    ['user A', 'users_private', ['user_a']],
    ['user A', 'organizations', ['org_1']],
    ['user A', 'organization_memberships', ['mem_a1', 'mem_c1']],
    ['user B', 'users_private', ['user_b']],
    ['user B', 'organizations', ['org_2']],
    ['user B', 'organization_memberships', ['mem_b2']],
    ['org member C', 'organizations', ['org_1']],
    ['org member C', 'organization_memberships', ['mem_a1', 'mem_c1']],
    ['non-member D', 'users_public', all4],
    ['non-member D', 'users_private', ['user_d']],
    ['non-member D', 'organizations', []],
    ['non-member D', 'organization_memberships', []],
    ['no sub', 'users_private', []],
    ['no sub', 'organizations', []],
    ['service role', 'users_private', all4],
    ['service role', 'organizations', ['org_1', 'org_2']],
    ['service role', 'organization_memberships', ['mem_a1', 'mem_b2', 'mem_c1']],
  ])('%s reading %s sees %j', async (identity, table, expected) => {
    expect(await visible(identity, table)).toEqual(expected);
  });
});

const writes: Record<string, (table: string) => string> = {
  insert: (table) => `insert into public.${table} (id) values ('x')`,
  update: (table) => `update public.${table} set id = id`,
  delete: (table) => `delete from public.${table}`,
};
const tables = ['users_public', 'users_private', 'organizations', 'organization_memberships'];

describe('nobody writes the mirror directly: writes go through the sync functions', () => {
  const cases = Object.keys(identities).flatMap((identity) =>
    tables.flatMap((table) => Object.keys(writes).map((command) => [identity, command, table] as const)),
  );
  it.each(cases)('%s cannot %s %s', async (identity, command, table) => {
    const [role, claims] = identities[identity] as [Role, object | null];
    await expect(
      t.as(role, claims, (s) => s.query((writes[command] as (t: string) => string)(table))),
    ).rejects.toMatchObject({
      code: '42501',
    });
  });
});

const syncFunctions = [
  [
    "clerk_sync_apply_event(event_id => 'e', event_type => 'user.deleted', kind => 'user', op => 'delete', data => '{\"id\":\"user_b\"}')",
  ],
  ["clerk_sync_upsert('user', '[]')"],
  ["clerk_sync_delete('user', array['user_b'])"],
  ["clerk_sync_upsert('organization', '[]')"],
  ["clerk_sync_delete('organization', array['org_2'])"],
  ["clerk_sync_upsert('membership', '[]')"],
  ["clerk_sync_delete('membership', array['mem_b2'])"],
  ['clerk_sync_failed_events()'],
  ['clerk_sync_ledger_status()'],
  ["clerk_sync_discard_events(array['e'])"],
  ['clerk_sync_prune_ledger()'],
  ["clerk_sync_private_metadata('user', 'user_a')"],
  ['clerk_sync_schema_version()'],
  ["clerk_sync_ensure_status('user_a', 'org_1')"],
];

describe('sync and service functions', () => {
  it.each(syncFunctions)('anon and authenticated cannot call %s', async (call) => {
    for (const identity of ['anon', 'user A']) {
      const [role, claims] = identities[identity] as [Role, object | null];
      await expect(t.as(role, claims, (s) => s.query(`select public.${call}`))).rejects.toMatchObject({
        code: '42501',
      });
    }
  });

  it('the service role can call them (rolled back here)', async () => {
    const rollback = new Error('roll back');
    await expect(
      t.as('service_role', null, async (s) => {
        for (const [call] of syncFunctions) await s.query(`select public.${call}`);
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    expect(await visible('service role', 'users_private')).toEqual(all4);
  });

  it('no volatile security-definer function of ours is executable by anon or authenticated', async () => {
    const { rows } = await t.db.query(
      `select p.oid::regprocedure::text as fn
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname in ('public', 'clerk_sync') and p.prosecdef and p.provolatile = 'v'
         and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute'))`,
    );
    expect(rows).toEqual([]);
  });

  it.each([['events'], ['tombstones'], ['private_metadata']])(
    'app roles cannot read clerk_sync.%s',
    async (table) => {
      for (const identity of ['anon', 'user A']) {
        const [role, claims] = identities[identity] as [Role, object | null];
        await expect(
          t.as(role, claims, (s) => s.query(`select * from clerk_sync.${table}`)),
        ).rejects.toMatchObject({
          code: '42501',
        });
      }
    },
  );

  it('private_metadata reaches no table an app role can read, only the service role', async () => {
    for (const table of tables) {
      const dump = await t.as('service_role', null, (s) => s.query(`select * from public.${table}`));
      expect(JSON.stringify(dump.rows)).not.toMatch(/cus_|acct_|secret_/);
    }
    const meta = await t.as('service_role', null, (s) =>
      s.query("select public.clerk_sync_private_metadata('user', 'user_a') as m"),
    );
    expect(meta.rows).toEqual([{ m: { stripe: 'cus_user_a' } }]);
  });
});

describe('JWT helpers', () => {
  it.each([
    ['no claims', null, { uid: null, org: null, role: null }],
    ['empty sub', { sub: '' }, { uid: null, org: null, role: null }],
    [
      'v1 token',
      { sub: 'user_a', org_id: 'org_1', org_role: 'org:admin' },
      { uid: 'user_a', org: 'org_1', role: 'org:admin' },
    ],
    [
      'v2 token',
      { sub: 'user_a', v: 2, o: { id: 'org_2', rol: 'admin' } },
      { uid: 'user_a', org: 'org_2', role: 'org:admin' },
    ],
    [
      'v2 wins over v1',
      { sub: 'u', o: { id: 'org_2', rol: 'org:member' }, org_id: 'org_1' },
      { uid: 'u', org: 'org_2', role: 'org:member' },
    ],
  ])('%s', async (_label, claims, expected) => {
    const { rows } = await t.as('authenticated', claims, (s) =>
      s.query(
        'select public.requesting_user_id() as uid, public.requesting_org_id() as org, public.requesting_org_role() as role',
      ),
    );
    expect(rows[0]).toEqual(expected);
  });

  it('policies evaluate requesting_user_id() once per statement (an InitPlan), on an index', async () => {
    const plan = await t.as('authenticated', { sub: 'user_a' }, async (s) => {
      await s.query('set local enable_seqscan = off');
      const { rows } = await s.query<{ 'QUERY PLAN': string }>('explain select * from public.users_private');
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toMatch(/InitPlan/);
    expect(plan).toMatch(/Index Scan using users_private_pkey/);
  });
});
