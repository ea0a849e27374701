/**
 * Group commit (src/store/batch.ts and clerk_sync_apply_events) on a real database: concurrent
 * deliveries share a transaction, each still gets its own outcome, a content error refuses only its
 * own event, any other failure fails the whole batch (nothing of it applied), and batches that lock
 * the same objects in opposite orders do not deadlock.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KindName } from '../../src/core/kinds.ts';
import type { Queryable } from '../../src/db/database.ts';
import { batched } from '../../src/store/batch.ts';
import { createStore, type EventToApply, type Result, type Store } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { at, membershipRow, orgRow, userRow } from '../fixtures/rows.ts';
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

/** Everything an event can change, timestamps of arrival aside. */
async function snapshot() {
  const q = async (sql: string) => (await t.db.query(sql)).rows;
  return {
    users: await q('select to_jsonb(u) as r from public.users_public u order by id'),
    private: await q('select to_jsonb(u) as r from public.users_private u order by id'),
    organizations: await q('select to_jsonb(o) as r from public.organizations o order by id'),
    memberships: await q('select to_jsonb(m) as r from public.organization_memberships m order by id'),
    metadata: await q('select to_jsonb(m) as r from clerk_sync.private_metadata m order by kind, id'),
    ledger: await q("select to_jsonb(e) - 'received_at' as r from clerk_sync.events e order by id"),
    tombstones: await q('select kind, id from clerk_sync.tombstones order by kind, id'),
  };
}

const OBJECTS: { kind: KindName; id: string; row: (v: number, alt: boolean) => EventToApply['data'] }[] = [
  ...['user_0', 'user_1', 'user_2', 'user_3'].map((id) => ({
    kind: 'user' as const,
    id,
    row: (v: number, alt: boolean) => userRow(id, v, alt ? { first_name: 'Grace' } : {}),
  })),
  ...['org_0', 'org_1'].map((id) => ({
    kind: 'organization' as const,
    id,
    row: (v: number, alt: boolean) => orgRow(id, v, alt ? { slug: `${id}-alt` } : {}),
  })),
  ...[0, 1, 2].map((i) => ({
    kind: 'membership' as const,
    id: `orgmem_${i}`,
    row: (v: number, alt: boolean) =>
      membershipRow(`orgmem_${i}`, `org_${i % 2}`, `user_${i + 1}`, v, alt ? { role: 'org:admin' } : {}),
  })),
];
const TYPE = { user: 'user', organization: 'organization', membership: 'organizationMembership' } as const;
const TIMES = [null, at(500), at(600), at(700)];

/** A version of an object: which (1–4), with other content at the same version or not, and when. */
const version = fc.record({
  v: fc.integer({ min: 1, max: 4 }),
  alt: fc.boolean(),
  when: fc.constantFrom(...TIMES),
});
type Version = { v: number; alt: boolean; when: string | null };
/** Per object: what the mirror holds first (nothing, or a version), and what the batch brings. */
const scenario = fc.record({
  stored: fc.array(fc.option(version, { nil: undefined }), {
    minLength: OBJECTS.length,
    maxLength: OBJECTS.length,
  }),
  deleted: fc.record({ user_3: fc.boolean(), org_1: fc.boolean() }),
  batch: fc.array(fc.constantFrom('skip', 'new', 'again'), {
    minLength: OBJECTS.length,
    maxLength: OBJECTS.length,
  }),
  brings: fc.array(version, { minLength: OBJECTS.length, maxLength: OBJECTS.length }),
  replayFailed: fc.boolean(),
});

describe('a batch applied by kind (clerk_sync_apply_events)', () => {
  // Upserts of users, organizations and memberships, each object at most once: the batch is applied
  // as sets. Whatever the mirror holds (older, newer, the same version with other content or another
  // event time, a tombstone of the object or its parent, the event already seen or failed before),
  // outcomes and database must be those of the same events applied one at a time.
  it('gives the outcomes and the database of the same events applied one by one', async () => {
    const store = createStore(sqlRpc(t.db));
    const event = (o: (typeof OBJECTS)[number], eventId: string, { v, alt, when }: Version) =>
      ({
        eventId,
        type: `${TYPE[o.kind as keyof typeof TYPE]}.${v === 1 ? 'created' : 'updated'}`,
        kind: o.kind,
        op: 'upsert',
        data: o.row(v, alt),
        occurredAt: when,
      }) as EventToApply;

    await fc.assert(
      fc.asyncProperty(scenario, async (c) => {
        const setup: EventToApply[] = [];
        const batch: EventToApply[] = [];
        for (const [i, o] of OBJECTS.entries()) {
          const stored = c.stored[i];
          const first = stored && event(o, `msg_setup_${o.id}`, stored);
          if (first) setup.push(first);
          const choice = c.batch[i];
          if (choice === 'again' && first) batch.push({ ...first });
          else if (choice !== 'skip') batch.push(event(o, `msg_${o.id}`, c.brings[i] as Version));
        }
        const replay = batch.findIndex((e) => e.kind === 'user' && !e.eventId.startsWith('msg_setup'));
        if (c.replayFailed && replay >= 0)
          batch[replay] = { ...(batch[replay] as EventToApply), eventId: 'msg_failed' };
        fc.pre(batch.length >= 2);

        const prepare = async () => {
          await t.reset();
          for (const e of setup) await store.applyEvent(e);
          for (const [kind, id] of [
            ['user', 'user_3'],
            ['organization', 'org_1'],
          ] as const)
            if (c.deleted[id])
              await store.applyEvent({
                eventId: `msg_del_${id}`,
                type: `${kind}.deleted`,
                kind,
                op: 'delete',
                data: { id },
              });
          await store.applyEvent({
            eventId: 'msg_failed',
            type: 'user.created',
            failure: 'invalid',
            reason: 'invalid_event',
            payload: {},
          });
        };
        await prepare();
        const together = await store.applyEvents(batch);
        const after = await snapshot();
        await prepare();
        const oneByOne: unknown[] = [];
        for (const e of batch) oneByOne.push(values([await store.applyEvent(e)])[0]);

        expect(together.ok && together.value).toEqual(oneByOne);
        expect(after).toEqual(await snapshot());
      }),
      { numRuns: 25, seed: 20261203 },
    );
  }, 120_000);
});
