import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_ROUTES } from '../../src/core/kinds.ts';
import { membershipRow, orgRow, userRow } from '../fixtures/rows.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await openTestDatabase();
}, 60_000);
afterAll(() => t?.close());
beforeEach(() => t.reset());

let seq = 0;
const apply = async (type: string, data: object, occurredAt: string | null = null): Promise<string> =>
  (
    await t.db.query<{ o: string }>(
      `select public.clerk_sync_apply_event(event_id => $1, event_type => $2, kind => $3, op => $4, data => $5,
         occurred_at => $6) as o`,
      [
        `msg_${++seq}`,
        type,
        EVENT_ROUTES.get(type)?.kind,
        EVENT_ROUTES.get(type)?.op,
        JSON.stringify(data),
        occurredAt,
      ],
    )
  ).rows[0]?.o as string;
const one = async <T>(sql: string, params: unknown[] = []): Promise<T | undefined> =>
  (await t.db.query<T>(sql, params)).rows[0];
const hex = (text: string) => Buffer.from(text, 'utf8').toString('hex');

describe('equal updated_at: the same state whatever the arrival order', () => {
  const a = userRow('user_a', 5, { first_name: 'Ada' });
  const b = userRow('user_a', 5, { first_name: 'Bea' });
  it.each([
    ['later event time wins, in order', [a, '2026-01-01T00:00:01Z'], [b, '2026-01-01T00:00:02Z'], 'Bea'],
    ['later event time wins, reversed', [b, '2026-01-01T00:00:02Z'], [a, '2026-01-01T00:00:01Z'], 'Bea'],
    [
      'same event time: the digest decides, one order',
      [a, '2026-01-01T00:00:01Z'],
      [b, '2026-01-01T00:00:01Z'],
      null,
    ],
    [
      'same event time: the digest decides, the other',
      [b, '2026-01-01T00:00:01Z'],
      [a, '2026-01-01T00:00:01Z'],
      null,
    ],
    ['an event time beats none (backfill)', [a, null], [b, '2026-01-01T00:00:01Z'], 'Bea'],
    ['none loses to an event time', [b, '2026-01-01T00:00:01Z'], [a, null], 'Bea'],
  ] as const)('%s', async (_label, [r1, t1], [r2, t2], expected) => {
    await apply('user.updated', r1, t1);
    await apply('user.updated', r2, t2);
    const got = await one<{ first_name: string }>('select first_name from public.users_public');
    if (expected !== null) expect(got?.first_name).toBe(expected);
    else {
      // Both orders of the same pair must agree: replay the other order on a clean slate.
      await t.reset();
      await apply('user.updated', r2, t2);
      await apply('user.updated', r1, t1);
      expect(await one('select first_name from public.users_public')).toEqual(got);
    }
  });

  it('the same version again is unchanged, and a backfill of it too', async () => {
    expect(await apply('organization.updated', orgRow('org_1', 3), '2026-01-01T00:00:01Z')).toBe('applied');
    expect(await apply('organization.updated', orgRow('org_1', 3), '2026-01-01T00:00:02Z')).toBe('stale');
    const page = await one<{ r: Record<string, number> }>(
      "select public.clerk_sync_upsert('organization', $1) as r",
      [JSON.stringify([orgRow('org_1', 3)])],
    );
    expect(page?.r).toMatchObject({ unchanged: 1, updated: 0 });
  });

  it("a backfilled version delivered later keeps that delivery's time against an older version", async () => {
    // The backfill stores Bea with no event time; Bea's own delivery (t=2) changes no row, but its
    // time is kept, so Ada's delivery (t=1), arriving last, is older and stale.
    await one("select public.clerk_sync_upsert('user', $1)", [JSON.stringify([b])]);
    expect(await apply('user.updated', b, '2026-01-01T00:00:02Z')).toBe('stale');
    expect(await apply('user.updated', a, '2026-01-01T00:00:01Z')).toBe('stale');
    expect(await one('select first_name from public.users_public')).toEqual({ first_name: 'Bea' });
  });

  it('memberships tie-break the same way', async () => {
    const m1 = membershipRow('orgmem_1', 'org_1', 'user_a', 2, { role: 'org:member' });
    const m2 = membershipRow('orgmem_1', 'org_1', 'user_a', 2, { role: 'org:admin' });
    await apply('organizationMembership.updated', m2, '2026-01-01T00:00:05Z');
    expect(await apply('organizationMembership.updated', m1, '2026-01-01T00:00:04Z')).toBe('stale');
    expect(await one('select role from public.organization_memberships')).toEqual({ role: 'org:admin' });
  });
});

describe('a membership delete needs only the id', () => {
  it('deletes the stored membership and tombstones it', async () => {
    await apply('organizationMembership.created', membershipRow('orgmem_1', 'org_1', 'user_a', 1));
    expect(await apply('organizationMembership.deleted', { id: 'orgmem_1' })).toBe('applied');
    expect(await one('select count(*)::int as n from public.organization_memberships')).toEqual({ n: 0 });
    expect(
      await one("select user_id from clerk_sync.events where type = 'organizationMembership.deleted'"),
    ).toEqual({
      user_id: 'user_a',
    });
    expect(
      await apply('organizationMembership.updated', membershipRow('orgmem_1', 'org_1', 'user_a', 2)),
    ).toBe('stale');
  });

  it('tombstones a membership it never saw', async () => {
    expect(await apply('organizationMembership.deleted', { id: 'orgmem_9' })).toBe('applied');
    expect(
      await apply('organizationMembership.created', membershipRow('orgmem_9', 'org_1', 'user_a', 1)),
    ).toBe('stale');
  });
});

describe('failed events are stored whole', () => {
  const fail = (id: string, raw: string, reason = 'invalid_event', data: object | null = null) =>
    t.db.query(
      `select public.clerk_sync_apply_event(event_id => $1, event_type => 'user.updated', failure => 'x',
         reason => $2, payload_hex => $3, data => $4) as o`,
      [id, reason, hex(raw), data === null ? null : JSON.stringify(data)],
    );

  it.each([
    ['a \\u0000 escape', '{"type":"user.updated","data":{"id":"user_a","n":"a\\u0000b"}}'],
    ['nested deeper than jsonb parses', `${'['.repeat(20_000)}${']'.repeat(20_000)}`],
    ['not JSON, with a NUL byte', 'not json \u0000 at all'],
  ])('%s: kept as the delivered bytes', async (_label, raw) => {
    await fail('msg_f', raw, 'invalid_event', { id: 'user_a' });
    expect(await one('select payload, reason, object_id, user_id from clerk_sync.events')).toEqual({
      payload: null,
      reason: 'invalid_event',
      object_id: 'user_a',
      user_id: 'user_a',
    });
    const listed = await one<{ payload_hex: string }>(
      'select payload_hex from public.clerk_sync_failed_events()',
    );
    expect(Buffer.from(listed?.payload_hex as string, 'hex').toString('utf8')).toBe(raw);
  });

  it('erases raw payloads of a deleted user', async () => {
    await fail('msg_f', '{"data":{"id":"user_a","x":"\\u0000 a@x.io"}}', 'invalid_event', { id: 'user_a' });
    await apply('user.deleted', { id: 'user_a' });
    expect(
      await one('select payload_raw is null as gone from clerk_sync.events where id = $1', ['msg_f']),
    ).toEqual({
      gone: true,
    });
  });

  it('counts failed events by reason, and discards them on purpose', async () => {
    await fail('msg_1', '{}', 'invalid_event');
    await fail('msg_2', '{}', 'sync_refused');
    await fail('msg_3', '{}', 'sync_refused');
    expect(await one('select public.clerk_sync_ledger_status() as s')).toMatchObject({
      s: { failed: 3, failed_by_reason: { invalid_event: 1, sync_refused: 2 }, discarded: 0 },
    });
    const discarded = await t.db.query('select * from public.clerk_sync_discard_events($1) as id', [
      ['msg_2', 'msg_9'],
    ]);
    expect(discarded.rows).toEqual([{ id: 'msg_2' }]);
    expect(await one('select public.clerk_sync_ledger_status() as s')).toMatchObject({
      s: { failed: 2, failed_by_reason: { invalid_event: 1, sync_refused: 1 }, discarded: 1 },
    });
    // A retry of a discarded delivery stays a duplicate.
    expect(await apply('user.updated', userRow('user_a', 1))).toBe('applied');
    const again = await t.db.query<{ o: string }>(
      `select public.clerk_sync_apply_event(event_id => 'msg_2', event_type => 'user.updated', kind => 'user',
         op => 'upsert', data => $1) as o`,
      [JSON.stringify(userRow('user_a', 2))],
    );
    expect(again.rows[0]?.o).toBe('duplicate');
  });

  it('raises bad content of its own with SQLSTATE 22Z01', async () => {
    await expect(
      t.db.query(
        "select public.clerk_sync_apply_event(event_id => 'm', event_type => 'user.updated', kind => 'user', op => 'upsert', data => '{}')",
      ),
    ).rejects.toMatchObject({ code: '22Z01' });
  });
});
