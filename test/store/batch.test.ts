/**
 * Group commit (src/store/batch.ts and clerk_sync_apply_events) on a real database: concurrent
 * deliveries share a transaction, each still gets its own outcome, a content error refuses only its
 * own event, any other failure fails the whole batch (nothing of it applied), and batches that lock
 * the same objects in opposite orders do not deadlock.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/database.ts';
import { batched } from '../../src/store/batch.ts';
import { createStore, type EventToApply, type Result, type Store } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { membershipRow, orgRow, userRow } from '../fixtures/rows.ts';
import { onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await openTestDatabase();
}, 60_000);
afterAll(() => t?.close());
beforeEach(() => t.reset());

/** The store over `t.db`, with the calls it makes counted by SQL function. */
function countingStore(options?: Parameters<typeof batched>[1]): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const db: Queryable = {
    query: (sql, params) => {
      calls.push(/public\.(\w+)\(/.exec(sql)?.[1] ?? sql);
      return t.db.query(sql, params);
    },
  };
  return { store: batched(createStore(sqlRpc(db)), options), calls };
}

let seq = 0;
const userEvent = (id: string, version: number, eventId = `msg_${++seq}`): EventToApply => ({
  eventId,
  type: version === 1 ? 'user.created' : 'user.updated',
  kind: 'user',
  op: 'upsert',
  data: userRow(id, version),
  occurredAt: null,
});
const values = <T>(results: Result<T>[]) => results.map((r) => (r.ok ? r.value : r.error.code));
const stored = async (sql: string) => (await t.db.query(sql)).rows;

describe('group commit', () => {
  it('applies the deliveries that arrive during a transaction together, each with its outcome', async () => {
    const { store, calls } = countingStore({ inFlight: 1 });
    const events = Array.from({ length: 20 }, (_, i) => userEvent(`user_${i}`, 1));
    const results = await Promise.all(events.map((e) => store.applyEvent(e)));
    expect(values(results)).toEqual(events.map(() => 'applied'));
    // The first goes alone, at once; the 19 that arrived meanwhile go in one call.
    expect(calls).toEqual(['clerk_sync_apply_event', 'clerk_sync_apply_events']);
    expect(await stored('select count(*)::int as n from public.users_public')).toEqual([{ n: 20 }]);
    expect(await stored("select count(*)::int as n from clerk_sync.events where status = 'applied'")).toEqual(
      [{ n: 20 }],
    );
  });

  it('keeps each event idempotent and newest-wins inside one batch, in either order', async () => {
    const { store, calls } = countingStore({ inFlight: 1 });
    const first = userEvent('user_x', 1);
    const results = await Promise.all([
      store.applyEvent(userEvent('user_warm', 1)),
      store.applyEvent(first),
      store.applyEvent({ ...first }),
      store.applyEvent(userEvent('user_y', 3)),
      store.applyEvent(userEvent('user_y', 2)),
      store.applyEvent(userEvent('user_x', 2)),
    ]);
    expect(calls).toEqual(['clerk_sync_apply_event', 'clerk_sync_apply_events']);
    expect(values(results)).toEqual(['applied', 'applied', 'duplicate', 'applied', 'stale', 'applied']);
    expect(
      await stored(
        "select id, username from public.users_public where id in ('user_x', 'user_y') order by id",
      ),
    ).toEqual([
      { id: 'user_x', username: 'user_x-v2' },
      { id: 'user_y', username: 'user_y-v3' },
    ]);
  });

  it('applies a membership and the deletion of its organization in arrival order', async () => {
    const { store } = countingStore({ inFlight: 1 });
    const org: EventToApply = {
      eventId: 'msg_org',
      type: 'organization.created',
      kind: 'organization',
      op: 'upsert',
      data: orgRow('org_a', 1),
      occurredAt: null,
    };
    const member: EventToApply = {
      eventId: 'msg_mem',
      type: 'organizationMembership.created',
      kind: 'membership',
      op: 'upsert',
      data: membershipRow('orgmem_a', 'org_a', 'user_a', 1),
      occurredAt: null,
    };
    const gone: EventToApply = {
      eventId: 'msg_gone',
      type: 'organization.deleted',
      kind: 'organization',
      op: 'delete',
      data: { id: 'org_a' },
      occurredAt: null,
    };
    const late = { ...member, eventId: 'msg_late', data: membershipRow('orgmem_b', 'org_a', 'user_b', 2) };
    const results = await Promise.all([org, member, gone, late].map((e) => store.applyEvent(e)));
    expect(values(results)).toEqual(['applied', 'applied', 'applied', 'stale']);
    expect(await stored('select count(*)::int as n from public.organization_memberships')).toEqual([
      { n: 0 },
    ]);
  });

  it('refuses only the event whose content cannot apply; the rest of its batch is applied', async () => {
    const { store, calls } = countingStore({ inFlight: 1 });
    const bad: EventToApply = { ...userEvent('user_bad', 1), data: { username: 'no id' } };
    const results = await Promise.all([
      store.applyEvent(userEvent('user_0', 1)),
      store.applyEvent(userEvent('user_1', 1)),
      store.applyEvent(bad),
      store.applyEvent(userEvent('user_2', 1)),
    ]);
    expect(values(results)).toEqual(['applied', 'applied', 'rejected', 'applied']);
    const refused = results[2] as Extract<Result<unknown>, { ok: false }>;
    expect(refused.error.reason).toBe('sync_refused');
    // The batch failed as a whole, then its three events went one by one.
    expect(calls).toEqual([
      'clerk_sync_apply_event',
      'clerk_sync_apply_events',
      'clerk_sync_apply_event',
      'clerk_sync_apply_event',
      'clerk_sync_apply_event',
    ]);
    expect(await stored('select id from public.users_public order by id')).toEqual([
      { id: 'user_0' },
      { id: 'user_1' },
      { id: 'user_2' },
    ]);
  });

  it('fails every event of a batch the database could not run, and applies none of them', async () => {
    const { store } = countingStore({ inFlight: 1 });
    await t.db.query(
      'alter function public.clerk_sync_apply_events(jsonb) rename to clerk_sync_apply_events_away',
    );
    try {
      const results = await Promise.all([0, 1, 2].map((i) => store.applyEvent(userEvent(`user_${i}`, 1))));
      // The first went alone through the one-event path; the batch of the other two found no function.
      expect(values(results)).toEqual(['applied', 'unavailable', 'unavailable']);
      expect(results.every((r) => r.ok || r.error.retryable)).toBe(true);
      expect(await stored('select id from public.users_public')).toEqual([{ id: 'user_0' }]);
    } finally {
      await t.db.query(
        'alter function public.clerk_sync_apply_events_away(jsonb) rename to clerk_sync_apply_events',
      );
    }
  });

  it('sends a failure to store as it is, outside any batch', async () => {
    const { store, calls } = countingStore({ inFlight: 1 });
    const results = await Promise.all([
      store.applyEvent(userEvent('user_0', 1)),
      store.applyEvent({
        eventId: 'msg_f',
        type: 'user.created',
        failure: 'invalid',
        reason: 'invalid_event',
        payload: {},
      }),
    ]);
    expect(values(results)).toEqual(['applied', 'failed']);
    expect(calls).toEqual(['clerk_sync_apply_event', 'clerk_sync_apply_event']);
  });

  it.runIf(onServer)('batches locking the same objects in opposite orders never deadlock', async () => {
    const store = createStore(sqlRpc(t.db));
    const ids = Array.from({ length: 8 }, (_, i) => `user_${i}`);
    const rounds = Array.from({ length: 30 }, (_, round) => {
      const order = round % 2 === 0 ? ids : [...ids].reverse();
      return store.applyEvents(order.map((id) => userEvent(id, round + 1)));
    });
    const results = await Promise.all(rounds);
    expect(results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.error.sqlstate))).toEqual([]);
    expect(
      await stored("select count(*)::int as n from public.users_public where username like '%-v30'"),
    ).toEqual([{ n: ids.length }]);
  });
});
