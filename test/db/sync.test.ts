import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_ROUTES, type KindName } from '../../src/core/kinds.ts';
import type { Queryable } from '../../src/db/database.ts';
import { loadMigrations } from '../../src/db/migrate.ts';
import { SCHEMA_VERSION } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { at, membershipRow, orgRow, userRow } from '../fixtures/rows.ts';
import { onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await openTestDatabase();
}, 60_000);
afterAll(() => t?.close());
beforeEach(() => t.reset());

let seq = 0;
const nextId = () => `msg_${++seq}`;

async function apply(q: Queryable, type: string, data: object, eventId = nextId()): Promise<string> {
  const route = EVENT_ROUTES.get(type);
  const { rows } = await q.query<{ outcome: string }>(
    'select public.clerk_sync_apply_event(event_id => $1, event_type => $2, kind => $3, op => $4, data => $5) as outcome',
    [eventId, type, route?.kind, route?.op, JSON.stringify(data)],
  );
  return rows[0]?.outcome as string;
}

/** `clerk_sync_upsert(kind, rows)` or `clerk_sync_delete(kind, ids)`. */
async function batch(fn: string, kind: KindName, arg: unknown): Promise<Record<string, number>> {
  const { rows } = await t.db.query<{ r: Record<string, number> }>(`select public.${fn}($1, $2) as r`, [
    kind,
    Array.isArray(arg) && typeof arg[0] === 'string' ? arg : JSON.stringify(arg),
  ]);
  return rows[0]?.r as Record<string, number>;
}

const one = async <T>(sql: string, params: unknown[] = []): Promise<T | undefined> =>
  (await t.db.query<T>(sql, params)).rows[0];
const count = async (sql: string, params: unknown[] = []): Promise<number> =>
  Number((await one<{ n: string }>(`select count(*) as n from ${sql}`, params))?.n);

describe('users', () => {
  it('creates the public row, the private row and the service-only private metadata', async () => {
    expect(await apply(t.db, 'user.created', userRow('user_a', 1))).toBe('applied');
    expect(await one('select id, username, first_name from public.users_public')).toEqual({
      id: 'user_a',
      username: 'user_a-v1',
      first_name: 'Ada',
    });
    const priv = await one<Record<string, unknown>>('select * from public.users_private');
    expect(priv).toMatchObject({ email: 'user_a@example.com', public_metadata: { plan: 'pro' } });
    expect(JSON.stringify(priv)).not.toContain('cus_user_a');
    expect(await one("select data from clerk_sync.private_metadata where kind = 'user'")).toEqual({
      data: { stripe: 'cus_user_a' },
    });
  });

  it.each([
    ['newer applies', [1, 2], 'applied', 'user_a-v2'],
    ['older is stale', [2, 1], 'stale', 'user_a-v2'],
    ['same version is stale', [2, 2], 'stale', 'user_a-v2'],
  ])('%s', async (_label, [first, second], outcome, username) => {
    await apply(t.db, 'user.updated', userRow('user_a', first as number));
    expect(await apply(t.db, 'user.updated', userRow('user_a', second as number))).toBe(outcome);
    expect(await one('select username from public.users_public')).toEqual({ username });
    expect(await one('select username from public.users_public')).toEqual({ username });
  });

  it('applies the same svix-id once, however often it arrives', async () => {
    expect(await apply(t.db, 'user.created', userRow('user_a', 1), 'msg_dup')).toBe('applied');
    expect(await apply(t.db, 'user.updated', userRow('user_a', 5), 'msg_dup')).toBe('duplicate');
    expect(await one('select username from public.users_public')).toEqual({ username: 'user_a-v1' });
    expect(await count("clerk_sync.events where id = 'msg_dup'")).toBe(1);
  });

  it('deletes sticks: rows, memberships and personal data go, a late update does not resurrect', async () => {
    await apply(t.db, 'user.created', userRow('user_a', 1));
    await apply(t.db, 'organizationMembership.created', membershipRow('orgmem_1', 'org_1', 'user_a', 1));
    await apply(t.db, 'organizationMembership.created', membershipRow('orgmem_2', 'org_1', 'user_b', 1));
    expect(await apply(t.db, 'user.deleted', { id: 'user_a' })).toBe('applied');
    expect(await apply(t.db, 'user.updated', userRow('user_a', 9))).toBe('stale');
    expect(await apply(t.db, 'user.created', userRow('user_a', 0))).toBe('stale');
    expect(
      await apply(t.db, 'organizationMembership.created', membershipRow('orgmem_3', 'org_1', 'user_a', 1)),
    ).toBe('stale');
    expect(await count('public.users_public')).toBe(0);
    expect(await count('public.users_private')).toBe(0);
    expect(
      await count("clerk_sync.private_metadata where kind = 'user' or id in ('orgmem_1', 'orgmem_3')"),
    ).toBe(0);
    expect(await count('public.organization_memberships')).toBe(1);
    expect(await count("clerk_sync.tombstones where kind = 'user' and id = 'user_a'")).toBe(1);
    expect(await apply(t.db, 'user.deleted', { id: 'user_a' })).toBe('stale');
  });

  it('erases a deleted user from failed ledger payloads, and never stores one afterwards', async () => {
    const payload = {
      type: 'user.updated',
      data: { id: 'user_a', email_addresses: [{ email_address: 'a@x.io' }] },
    };
    const fail = (eventId: string, p: object) =>
      t.db.query(
        'select public.clerk_sync_apply_event(event_id => $1, event_type => $2, failure => $3, payload => $4)',
        [eventId, 'user.updated', 'data.updated_at: expected number', JSON.stringify(p)],
      );
    await fail('msg_bad_1', payload);
    const membership = {
      type: 'organizationMembership.created',
      data: { id: 'm', public_user_data: { user_id: 'user_a', identifier: 'a@x.io' } },
    };
    await fail('msg_bad_2', membership);
    expect(await count("clerk_sync.events where payload::text like '%a@x.io%'")).toBe(2);
    await apply(t.db, 'user.deleted', { id: 'user_a' });
    expect(await count("clerk_sync.events where payload::text like '%a@x.io%'")).toBe(0);
    await fail('msg_bad_3', payload);
    expect(await count("clerk_sync.events where payload::text like '%a@x.io%'")).toBe(0);
    expect(await count("clerk_sync.events where status = 'failed'")).toBe(3);
  });
});

describe('organizations and memberships', () => {
  it('keeps a membership that arrives before its organization and user', async () => {
    expect(
      await apply(t.db, 'organizationMembership.created', membershipRow('orgmem_1', 'org_1', 'user_a', 1)),
    ).toBe('applied');
    expect(await apply(t.db, 'organization.created', orgRow('org_1', 1))).toBe('applied');
    expect(await apply(t.db, 'user.created', userRow('user_a', 1))).toBe('applied');
    expect(
      await one('select organization_id, user_id, permissions from public.organization_memberships'),
    ).toEqual({
      organization_id: 'org_1',
      user_id: 'user_a',
      permissions: ['org:posts:read'],
    });
  });

  it('deleting an organization removes its memberships and refuses late ones', async () => {
    await apply(t.db, 'organization.created', orgRow('org_1', 1));
    await apply(t.db, 'organizationMembership.created', membershipRow('orgmem_1', 'org_1', 'user_a', 1));
    expect(await apply(t.db, 'organization.deleted', { id: 'org_1' })).toBe('applied');
    expect(await count('public.organizations')).toBe(0);
    expect(await count('public.organization_memberships')).toBe(0);
    expect(await count('clerk_sync.private_metadata')).toBe(0);
    expect(await apply(t.db, 'organization.updated', orgRow('org_1', 5))).toBe('stale');
    expect(
      await apply(t.db, 'organizationMembership.updated', membershipRow('orgmem_1', 'org_1', 'user_a', 5)),
    ).toBe('stale');
    expect(await count('public.organizations')).toBe(0);
    expect(await count('public.organization_memberships')).toBe(0);
  });

  it('a deleted membership stays deleted; a new membership of the same pair is kept', async () => {
    await apply(t.db, 'organizationMembership.created', membershipRow('orgmem_1', 'org_1', 'user_a', 1));
    expect(
      await apply(t.db, 'organizationMembership.deleted', membershipRow('orgmem_1', 'org_1', 'user_a', 2)),
    ).toBe('applied');
    expect(
      await apply(t.db, 'organizationMembership.updated', membershipRow('orgmem_1', 'org_1', 'user_a', 3)),
    ).toBe('stale');
    expect(
      await apply(t.db, 'organizationMembership.created', membershipRow('orgmem_2', 'org_1', 'user_a', 4)),
    ).toBe('applied');
    expect((await t.db.query('select id from public.organization_memberships')).rows).toEqual([
      { id: 'orgmem_2' },
    ]);
  });
});

describe('batches (backfill)', () => {
  it('reports what it did and keeps the newest of an id given twice', async () => {
    await apply(t.db, 'user.created', userRow('user_old', 5));
    await apply(t.db, 'user.created', userRow('user_same', 5));
    await apply(t.db, 'user.deleted', { id: 'user_gone' });
    await apply(t.db, 'user.created', userRow('user_newer', 1));
    const result = await batch('clerk_sync_upsert', 'user', [
      userRow('user_new', 3),
      userRow('user_new', 7),
      userRow('user_new', 5),
      userRow('user_old', 1),
      userRow('user_same', 5),
      userRow('user_gone', 9),
      userRow('user_newer', 2),
    ]);
    expect(result).toEqual({ inserted: 1, updated: 1, unchanged: 1, stale: 1, deleted: 1 });
    expect(await one("select username from public.users_public where id = 'user_new'")).toEqual({
      username: 'user_new-v7',
    });
  });

  // The upsert writes a batch as given when all of it applies, and only the applying rows otherwise.
  it.each([
    [
      'every row applies',
      'user.created',
      [],
      ['user_a', 'user_b', 'user_c'],
      { inserted: 3, stale: 0, deleted: 0 },
    ],
    [
      'one row is stale',
      'user.created',
      ['user_b'],
      ['user_a', 'user_c'],
      { inserted: 2, stale: 1, deleted: 0 },
    ],
    [
      'one user was deleted',
      'user.deleted',
      ['user_b'],
      ['user_a', 'user_c'],
      { inserted: 2, stale: 0, deleted: 1 },
    ],
  ] as const)(
    'a batch where %s writes exactly the rows that apply',
    async (_label, type, before, written, counts) => {
      for (const id of before) await apply(t.db, type, type === 'user.deleted' ? { id } : userRow(id, 9));
      const rows = ['user_a', 'user_b', 'user_c'].map((id) => userRow(id, 2));
      expect(await batch('clerk_sync_upsert', 'user', rows)).toEqual({ ...counts, updated: 0, unchanged: 0 });
      // The ids whose stored version is the batch's (version 2).
      const ofBatch = async (table: string) =>
        (
          await t.db.query<{ id: string }>(`select id from ${table} where updated_at = $1 order by id`, [
            at(2),
          ])
        ).rows.map((r) => r.id);
      expect(await ofBatch('public.users_public')).toEqual(written);
      expect(await ofBatch('public.users_private')).toEqual(written);
      expect(await ofBatch('clerk_sync.private_metadata')).toEqual(written);
      expect(await one("select count(*)::int as n from public.users_public where id = 'user_b'")).toEqual({
        n: type === 'user.deleted' ? 0 : 1,
      });
    },
  );

  it.each([
    ['organizations', 'organization', [orgRow('org_1', 1), orgRow('org_1', 2), orgRow('org_2', 1)]],
    [
      'memberships',
      'membership',
      [membershipRow('m1', 'o', 'u', 2), membershipRow('m1', 'o', 'u', 1), membershipRow('m2', 'o', 'u2', 1)],
    ],
  ] as const)('%s batch', async (_label, kind, rows) => {
    const upsert = () => batch('clerk_sync_upsert', kind, rows);
    expect(await upsert()).toEqual({ inserted: 2, updated: 0, unchanged: 0, stale: 0, deleted: 0 });
    expect(await upsert()).toEqual({ inserted: 0, updated: 0, unchanged: 2, stale: 0, deleted: 0 });
  });

  it.each([
    ['users', 'user', 'public.users_public'],
    ['organizations', 'organization', 'public.organizations'],
    ['memberships', 'membership', 'public.organization_memberships'],
  ] as const)('batch delete of %s tombstones each id once', async (_label, kind, table) => {
    await batch('clerk_sync_upsert', 'user', [userRow('a', 1)]);
    await batch('clerk_sync_upsert', 'organization', [orgRow('a', 1)]);
    await batch('clerk_sync_upsert', 'membership', [membershipRow('a', 'o', 'u', 1)]);
    expect(await batch('clerk_sync_delete', kind, ['a', 'b'])).toEqual({ deleted: 1, tombstoned: 2 });
    expect(await batch('clerk_sync_delete', kind, ['a', 'b'])).toEqual({ deleted: 0, tombstoned: 0 });
    expect(await count(table)).toBe(0);
  });
});

describe('ledger', () => {
  const failed = (eventId: string, failure: string) =>
    t.db.query<{ o: string }>(
      'select public.clerk_sync_apply_event(event_id => $1, event_type => $2, failure => $3, payload => $4) as o',
      [eventId, 'user.created', failure, JSON.stringify({ data: { id: 'user_a' } })],
    );

  it('stores a failed event for replay, and a later valid apply of the same id replaces it', async () => {
    expect((await failed('msg_f', 'bad')).rows[0]?.o).toBe('failed');
    expect((await failed('msg_f', 'still bad')).rows[0]?.o).toBe('failed');
    const stored = await t.db.query('select id, error, payload from public.clerk_sync_failed_events()');
    expect(stored.rows).toEqual([{ id: 'msg_f', error: 'still bad', payload: { data: { id: 'user_a' } } }]);
    expect(await apply(t.db, 'user.created', userRow('user_a', 1), 'msg_f')).toBe('applied');
    expect(await one("select status, payload, error from clerk_sync.events where id = 'msg_f'")).toEqual({
      status: 'applied',
      payload: null,
      error: null,
    });
    expect(await apply(t.db, 'user.created', userRow('user_a', 1), 'msg_f')).toBe('duplicate');
    expect((await failed('msg_f', 'bad again')).rows[0]?.o).toBe('duplicate');
  });

  it('refuses an unknown kind and an event without an id, writing nothing', async () => {
    // A kind this database does not know (the code is newer than its migrations): no branch takes it.
    await expect(apply(t.db, 'session.created', { id: 'sess_1' })).rejects.toThrow(/case not found/);
    const unknown = 'waitlistEntry' as KindName;
    await expect(batch('clerk_sync_upsert', unknown, [userRow('u', 1)])).rejects.toThrow(/case not found/);
    await expect(batch('clerk_sync_delete', unknown, ['u'])).rejects.toThrow(/case not found/);
    await expect(apply(t.db, 'user.created', { username: 'x' })).rejects.toThrow(/data.id is required/);
    await expect(apply(t.db, 'user.created', userRow('u', 1), '')).rejects.toThrow(/event_id is required/);
    expect(await count('clerk_sync.events')).toBe(0);
  });

  it('reports its status and prunes old applied rows but keeps failed ones', async () => {
    await apply(t.db, 'user.created', userRow('user_a', 1), 'msg_old');
    await failed('msg_failed', 'bad');
    await t.db.query("update clerk_sync.events set received_at = now() - interval '30 days'");
    expect(await one('select public.clerk_sync_ledger_status() as s')).toMatchObject({ s: { failed: 1 } });
    expect(await one('select public.clerk_sync_prune_ledger() as n')).toEqual({ n: '1' });
    expect((await t.db.query('select id from clerk_sync.events')).rows).toEqual([{ id: 'msg_failed' }]);
  });

  it('exposes its schema version: the newest migration, as the code expects', async () => {
    const newest = (await loadMigrations()).at(-1)?.version;
    expect(SCHEMA_VERSION).toBe(newest);
    expect(await one('select public.clerk_sync_schema_version() as v')).toEqual({ v: newest });
  });
});

describe('the SQL transport (sqlRpc)', () => {
  it('calls by name, and refuses a name that is not an identifier even after a call of a like shape', async () => {
    const rpc = sqlRpc(t.db);
    expect(await rpc('clerk_sync_schema_version', {}, 'scalar')).toEqual({ ok: true, value: SCHEMA_VERSION });
    await expect(rpc('clerk_sync_schema_version(); drop table x; --', {}, 'scalar')).rejects.toThrow(
      /bad identifier/,
    );
    const ok = await rpc('clerk_sync_ledger_status', {}, 'scalar');
    expect(ok.ok).toBe(true);
    await expect(rpc('clerk_sync_ledger_status', { 'x => 1) --': 1 }, 'scalar')).rejects.toThrow(
      /bad identifier/,
    );
    await expect(rpc('clerk_sync_ledger_status', {}, 'scalar')).resolves.toEqual(ok);
  });
});

describe.runIf(onServer)('concurrent deliveries on the server', () => {
  it('many versions of one user at once: the newest wins, each applied at most once', async () => {
    const versions = Array.from({ length: 40 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    const outcomes = await Promise.all(
      versions.map((v) => apply(t.db, 'user.updated', userRow('user_c', v))),
    );
    expect(await one('select username from public.users_public')).toEqual({ username: 'user_c-v40' });
    expect(outcomes.filter((o) => o === 'applied').length).toBeGreaterThanOrEqual(1);
    expect(outcomes.every((o) => o === 'applied' || o === 'stale')).toBe(true);
  });

  it('the same event delivered 20 times at once is applied exactly once', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => apply(t.db, 'user.created', userRow('user_d', 1), 'msg_same')),
    );
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(19);
  });

  it('a delete racing updates and memberships never leaves the user or a membership behind', async () => {
    for (let round = 0; round < 10; round++) {
      const user = `user_race_${round}`;
      await apply(t.db, 'user.created', userRow(user, 1));
      const writes = Array.from({ length: 12 }, (_, i) =>
        i % 3 === 0
          ? apply(
              t.db,
              'organizationMembership.created',
              membershipRow(`m_${round}_${i}`, 'org_x', user, i + 2),
            )
          : apply(t.db, 'user.updated', userRow(user, i + 2)),
      );
      writes.splice(6, 0, apply(t.db, 'user.deleted', { id: user }));
      await Promise.all(writes);
      expect(await count('public.users_public where id = $1', [user])).toBe(0);
      expect(await count('public.users_private where id = $1', [user])).toBe(0);
      expect(await count('public.organization_memberships where user_id = $1', [user])).toBe(0);
    }
  });

  it('an organization delete racing memberships and batches leaves no orphan', async () => {
    for (let round = 0; round < 10; round++) {
      const org = `org_race_${round}`;
      await Promise.all([
        apply(t.db, 'organization.created', orgRow(org, 1)),
        batch(
          'clerk_sync_upsert',
          'membership',
          Array.from({ length: 50 }, (_, i) => membershipRow(`bm_${round}_${i}`, org, `user_${i}`, 1)),
        ),
        apply(t.db, 'organization.deleted', { id: org }),
        apply(t.db, 'organizationMembership.created', membershipRow(`wm_${round}`, org, 'user_z', 2)),
      ]);
      expect(await count('public.organizations where id = $1', [org])).toBe(0);
      expect(await count('public.organization_memberships where organization_id = $1', [org])).toBe(0);
    }
  });
});
