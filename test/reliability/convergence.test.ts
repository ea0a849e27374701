/**
 * Convergence, property-based: random Clerk histories (users, organizations, memberships created,
 * updated, deleted — parents deleted while memberships still point at them) delivered the way Svix
 * can (every event 1–3 times, in any order, 16 at a time), with a backfill snapshot taken at a
 * random moment racing the webhooks. Afterwards the mirror must equal Clerk's final state exactly.
 * Hostile content is part of the histories: NUL and lone surrogates in names and metadata keys,
 * far-future timestamps, private_metadata nested in the user's organization_memberships, membership
 * deletes carrying only the id, and two versions of a user with the same updated_at.
 *
 * `npm test` runs a fixed number of seeds; `npm run test:soak` runs many more (SOAK_RUNS).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { membershipSchema, organizationSchema, userSchema } from '../../src/core/events.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { toMembershipRow, toOrganizationRow, toUserRow } from '../../src/core/map.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { createStore, type Store } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { post, SECRET, signed } from '../support/webhooks.ts';

const RUNS = Number(process.env.SOAK_RUNS ?? 20);
const MAX_OPS = Number(process.env.SOAK_MAX_OPS ?? 40);

/** What happens in Clerk; `create…`/`update…` and `join`/`changeRole` write whichever applies. */
type Op =
  | ['createUser' | 'updateUser' | 'deleteUser' | 'hostileUser' | 'tieUser', number]
  | ['createOrg' | 'updateOrg' | 'deleteOrg', number]
  | ['join' | 'changeRole' | 'leave', number, number];

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(
    fc.constantFrom('createUser', 'updateUser', 'deleteUser', 'hostileUser', 'tieUser' as const),
    fc.nat(3),
  ),
  fc.tuple(fc.constantFrom('createOrg', 'updateOrg', 'deleteOrg' as const), fc.nat(2)),
  fc.tuple(fc.constantFrom('join', 'changeRole', 'leave' as const), fc.nat(2), fc.nat(3)),
) as fc.Arbitrary<Op>;

type Obj = Record<string, unknown> & { id: string; updated_at: number };
interface Clerk {
  users: Map<string, Obj>;
  orgs: Map<string, Obj>;
  memberships: Map<string, Obj>;
}
/** `at`: when it happened in Clerk (the envelope's timestamp). */
type Event = { type: string; at: number; data: Obj | { object: string; id: string; deleted?: true } };

/** What the mapping makes of the hostile first names below (NUL removed, lone surrogate → U+FFFD). */
const HOSTILE_NAME = (now: number) => `F\u0000${now}\uD800`;
const CLEAN_NAME = (name: unknown) => String(name).replaceAll('\u0000', '').replaceAll('\uD800', '\uFFFD');

const T0 = Date.UTC(2026, 0, 1);
const clone = (c: Clerk): Clerk => ({
  users: new Map(c.users),
  orgs: new Map(c.orgs),
  memberships: new Map(c.memberships),
});

/** Plays a history against a model of Clerk; returns the webhook events and the state after each op. */
function play(ops: Op[]): { events: Event[]; states: Clerk[] } {
  const clerk: Clerk = { users: new Map(), orgs: new Map(), memberships: new Map() };
  // Clerk never reuses an id: a deleted object stays gone.
  const gone = new Set<string>();
  const events: Event[] = [];
  const push = (type: string, data: Event['data']) => events.push({ type, at: now, data });
  const states: Clerk[] = [clone(clerk)];
  let now = T0;
  let membershipSeq = 0;
  const memberOf = (org: string, user: string) =>
    [...clerk.memberships.values()].find(
      (m) =>
        (m.organization as Obj).id === org && (m.public_user_data as { user_id: string }).user_id === user,
    );
  const dropMemberships = (pred: (m: Obj) => boolean) => {
    for (const [id, m] of clerk.memberships) if (pred(m)) clerk.memberships.delete(id);
  };
  for (const [name, a, b] of ops) {
    now += 1_000;
    const user = `user_c${a}`;
    const org = `org_c${a}`;
    switch (name) {
      case 'createUser':
      case 'updateUser':
      case 'hostileUser': {
        const exists = clerk.users.has(user);
        if (gone.has(user)) break;
        const data = sampleEvent('user.created', { id: user, now }).data as Obj;
        data.first_name = `First ${now}`;
        data.created_at = (clerk.users.get(user)?.created_at as number | undefined) ?? now;
        if (name === 'hostileUser') {
          data.first_name = HOSTILE_NAME(now);
          data.unsafe_metadata = { 'k\u0000': ['v\uDC00'] };
          data.last_sign_in_at = 9e15;
          data.organization_memberships = [
            { id: 'orgmem_x', organization: { id: 'org_x', private_metadata: { secret: 'nested' } } },
          ];
        }
        clerk.users.set(user, data);
        push(`user.${exists ? 'updated' : 'created'}`, data);
        break;
      }
      case 'tieUser': {
        // Another version with the same updated_at: the later event (by envelope timestamp) wins.
        const current = clerk.users.get(user);
        if (!current) break;
        const data = { ...current, first_name: `Tie ${now}` };
        clerk.users.set(user, data);
        push('user.updated', data);
        break;
      }
      case 'deleteUser':
        if (!clerk.users.delete(user)) break;
        gone.add(user);
        dropMemberships((m) => (m.public_user_data as { user_id: string }).user_id === user);
        push('user.deleted', { object: 'user', id: user, deleted: true });
        break;
      case 'createOrg':
      case 'updateOrg': {
        const exists = clerk.orgs.has(org);
        if (gone.has(org)) break;
        const data = sampleEvent('organization.created', { id: org, now }).data as Obj;
        data.name = `Org ${now}`;
        data.created_at = (clerk.orgs.get(org)?.created_at as number | undefined) ?? now;
        clerk.orgs.set(org, data);
        push(`organization.${exists ? 'updated' : 'created'}`, data);
        break;
      }
      case 'deleteOrg':
        if (!clerk.orgs.delete(org)) break;
        gone.add(org);
        dropMemberships((m) => (m.organization as Obj).id === org);
        push('organization.deleted', { object: 'organization', id: org, deleted: true });
        break;
      default: {
        const memberUser = `user_c${b}`;
        if (!clerk.orgs.has(org) || !clerk.users.has(memberUser)) break;
        const current = memberOf(org, memberUser);
        if (name === 'leave' && !current) break;
        if (name === 'leave' && current) {
          clerk.memberships.delete(current.id);
          // Half the deletes carry only the id, which Clerk's spec allows.
          push(
            'organizationMembership.deleted',
            b % 2 === 0
              ? { ...current, updated_at: now }
              : { object: 'organization_membership', id: current.id },
          );
          break;
        }
        const data = sampleEvent('organizationMembership.created', {
          id: current?.id ?? `orgmem_c${++membershipSeq}`,
          orgId: org,
          userId: memberUser,
          now,
        }).data as Obj;
        data.role = current ? `org:role_${now}` : 'org:member';
        data.created_at = (current?.created_at as number | undefined) ?? now;
        clerk.memberships.set(data.id, data);
        push(`organizationMembership.${current ? 'updated' : 'created'}`, data);
      }
    }
    states.push(clone(clerk));
  }
  return { events, states };
}

let t: TestDatabase;
let store: Store;
let app: ReturnType<typeof createApp>;
const tally = { histories: 0, events: 0, deliveries: 0 };

beforeAll(async () => {
  t = await openTestDatabase();
  store = createStore(sqlRpc(t.db));
  app = createApp({ store, signingSecret: SECRET, logger: silentLogger });
}, 60_000);
afterAll(async () => {
  console.info(
    `convergence: ${tally.histories} histories, ${tally.events} events, ${tally.deliveries} deliveries checked`,
  );
  await t?.close();
});

/** The backfill's view of a Clerk state, applied with the same batch SQL the backfill pages use. */
async function backfillFrom(snapshot: Clerk) {
  const rows = <T>(items: Iterable<Obj>, parse: (o: unknown) => T) => [...items].map(parse);
  const results = await Promise.all([
    store.upsert(
      'user',
      rows(snapshot.users.values(), (o) => toUserRow(userSchema.parse(o))),
    ),
    store.upsert(
      'organization',
      rows(snapshot.orgs.values(), (o) => toOrganizationRow(organizationSchema.parse(o))),
    ),
    store.upsert(
      'membership',
      rows(snapshot.memberships.values(), (o) => toMembershipRow(membershipSchema.parse(o))),
    ),
  ]);
  for (const r of results) expect(r.ok).toBe(true);
}

async function mirror() {
  const q = async (sql: string) => (await t.db.query(sql)).rows;
  return {
    users: await q(
      `select u.id, u.first_name, extract(epoch from u.updated_at) * 1000 as updated_at, p.email
       from public.users_public u join public.users_private p using (id) order by id`,
    ),
    orgs: await q(
      'select id, name, extract(epoch from updated_at) * 1000 as updated_at from public.organizations order by id',
    ),
    memberships: await q(
      `select id, organization_id, user_id, role, extract(epoch from updated_at) * 1000 as updated_at
       from public.organization_memberships order by id`,
    ),
    privateMetadata: await q('select kind, id from clerk_sync.private_metadata order by kind, id'),
    privateInAttrs: await q(
      `select id from public.users_private where attrs::text like '%private_metadata%' or attrs::text like '%nested%'`,
    ),
  };
}

function expected(clerk: Clerk) {
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
  const email = (u: Obj) => (u.email_addresses as { id: string; email_address: string }[])[0]?.email_address;
  const users = [...clerk.users.values()].map((u) => ({
    id: u.id,
    first_name: CLEAN_NAME(u.first_name),
    updated_at: String(u.updated_at),
    email: email(u),
  }));
  const orgs = [...clerk.orgs.values()].map((o) => ({
    id: o.id,
    name: o.name,
    updated_at: String(o.updated_at),
  }));
  const memberships = [...clerk.memberships.values()].map((m) => ({
    id: m.id,
    organization_id: (m.organization as Obj).id,
    user_id: (m.public_user_data as { user_id: string }).user_id,
    role: m.role,
    updated_at: String(m.updated_at),
  }));
  const privateMetadata = [
    ...memberships.map((m) => ({ kind: 'membership', id: m.id })),
    ...orgs.map((o) => ({ kind: 'organization', id: o.id })),
    ...users.map((u) => ({ kind: 'user', id: u.id })),
  ].sort((a, b) => (a.kind + a.id < b.kind + b.id ? -1 : 1));
  return {
    users: users.sort(byId),
    orgs: orgs.sort(byId),
    memberships: memberships.sort(byId),
    privateMetadata,
    privateInAttrs: [],
  };
}

const normalise = (m: Awaited<ReturnType<typeof mirror>>) => ({
  ...m,
  users: m.users.map((u) => ({ ...u, updated_at: String(Number(u.updated_at)) })),
  orgs: m.orgs.map((o) => ({ ...o, updated_at: String(Number(o.updated_at)) })),
  memberships: m.memberships.map((x) => ({ ...x, updated_at: String(Number(x.updated_at)) })),
});

describe('convergence under duplicates, reordering, concurrency and a racing backfill', () => {
  it(`${RUNS} random histories end in Clerk's final state`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: MAX_OPS, size: 'max' }),
        fc.infiniteStream(fc.integer({ min: 1, max: 3 })),
        fc.infiniteStream(fc.nat()),
        fc.nat(),
        async (ops, copies, order, snapshotAt) => {
          await t.reset();
          const { events, states } = play(ops);
          const copyIt = copies[Symbol.iterator]();
          const orderIt = order[Symbol.iterator]();
          const deliveries = events
            .flatMap((e) => {
              const d = signed({ object: 'event', type: e.type, timestamp: e.at, data: e.data });
              return Array.from({ length: copyIt.next().value as number }, () => d);
            })
            .map((d) => ({ d, key: orderIt.next().value as number }))
            .sort((a, b) => a.key - b.key)
            .map((x) => x.d);
          const snapshot = states[snapshotAt % states.length] as Clerk;
          const backfillAfter = snapshotAt % (Math.ceil(deliveries.length / 16) + 1);

          for (let i = 0, wave = 0; i < deliveries.length || wave <= backfillAfter; i += 16, wave++) {
            const batch = deliveries.slice(i, i + 16).map(async (d) => {
              const res = await app.request('/webhooks/clerk', post(d));
              expect(res.status).toBe(200);
            });
            await Promise.all(wave === backfillAfter ? [...batch, backfillFrom(snapshot)] : batch);
          }
          tally.histories++;
          tally.events += events.length;
          tally.deliveries += deliveries.length;
          expect(normalise(await mirror())).toEqual(expected(states.at(-1) as Clerk));
        },
      ),
      {
        numRuns: RUNS,
        seed: process.env.SOAK_SEED ? Number(process.env.SOAK_SEED) : 20261122,
        endOnFailure: false,
      },
    );
  }, 600_000);
});
