/**
 * Convergence, property-based: random Clerk histories (users, organizations, memberships created,
 * updated, deleted — parents deleted while memberships still point at them; roles granted and
 * revoked permissions while memberships change role; permissions deleted; invitations sent,
 * accepted, revoked, and dropped with their organization; domains added, verified and removed;
 * subscriptions of a user or an organization, their items changing status on their own events and
 * inside the subscription's, payment attempts, and all of a payer's billing erased with it)
 * delivered the way Svix
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
import { type KindName, toRow } from '../../src/core/kinds.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import type { Store } from '../../src/store/port.ts';
import { sqlStore } from '../../src/store/sql.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { post, SECRET, signed } from '../support/webhooks.ts';

const RUNS = Number(process.env.SOAK_RUNS ?? 150);
const MAX_OPS = Number(process.env.SOAK_MAX_OPS ?? 40);

/** What happens in Clerk; `create…`/`update…` and `join`/`changeRole` write whichever applies. */
type Op =
  | ['createUser' | 'updateUser' | 'deleteUser' | 'hostileUser' | 'tieUser', number]
  | ['createOrg' | 'updateOrg' | 'deleteOrg', number]
  | ['join' | 'changeRole' | 'leave', number, number]
  | ['createPermission' | 'deletePermission', number]
  | ['grant' | 'revoke', number, number]
  | ['invite' | 'accept' | 'revokeInvitation', number]
  | ['addDomain' | 'verifyDomain' | 'removeDomain', number]
  | ['subscribe' | 'itemStatus' | 'pay', number, number];

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(
    fc.constantFrom('createUser', 'updateUser', 'deleteUser', 'hostileUser', 'tieUser' as const),
    fc.nat(3),
  ),
  fc.tuple(fc.constantFrom('createOrg', 'updateOrg', 'deleteOrg' as const), fc.nat(2)),
  fc.tuple(fc.constantFrom('join', 'changeRole', 'leave' as const), fc.nat(2), fc.nat(3)),
  fc.tuple(fc.constantFrom('createPermission', 'deletePermission' as const), fc.nat(2)),
  // role a grants or revokes permission b (the role is created by its first grant)
  fc.tuple(fc.constantFrom('grant', 'revoke' as const), fc.nat(1), fc.nat(2)),
  fc.tuple(fc.constantFrom('invite', 'accept', 'revokeInvitation' as const), fc.nat(2)),
  fc.tuple(fc.constantFrom('addDomain', 'verifyDomain', 'removeDomain' as const), fc.nat(2)),
  // subscription a (its payer picked by b when it starts), its item b % 2, its payment attempt
  fc.tuple(fc.constantFrom('subscribe', 'itemStatus', 'pay' as const), fc.nat(1), fc.nat(3)),
) as fc.Arbitrary<Op>;

type Obj = Record<string, unknown> & { id: string; updated_at: number };
interface Clerk {
  users: Map<string, Obj>;
  orgs: Map<string, Obj>;
  memberships: Map<string, Obj>;
  roles: Map<string, Obj>;
  permissions: Map<string, Obj>;
  invitations: Map<string, Obj>;
  domains: Map<string, Obj>;
  subscriptions: Map<string, Obj>;
  items: Map<string, Obj>;
  attempts: Map<string, Obj>;
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
  roles: new Map(c.roles),
  permissions: new Map(c.permissions),
  invitations: new Map(c.invitations),
  domains: new Map(c.domains),
  subscriptions: new Map(c.subscriptions),
  items: new Map(c.items),
  attempts: new Map(c.attempts),
});
/** Who pays: a user or an organization (Clerk sends the other id as ""). */
const payerOf = (o: Obj) => o.payer as { id: string; user_id: string; organization_id: string };
const ITEM_STATUSES = ['active', 'canceled', 'ended', 'past_due'] as const;
const ITEM_VERB = { active: 'active', canceled: 'canceled', ended: 'ended', past_due: 'pastDue' } as const;
type Grant = { id: string; key: string };

/** Plays a history against a model of Clerk; returns the webhook events and the state after each op. */
function play(ops: Op[]): { events: Event[]; states: Clerk[] } {
  const clerk: Clerk = {
    users: new Map(),
    orgs: new Map(),
    memberships: new Map(),
    roles: new Map(),
    permissions: new Map(),
    invitations: new Map(),
    domains: new Map(),
    subscriptions: new Map(),
    items: new Map(),
    attempts: new Map(),
  };
  /** A role a membership can take: an existing role, in turn, or Clerk's default org:member. */
  const someRole = () => {
    const keys = [...clerk.roles.values()].map((r) => r.key as string);
    return keys.length === 0 ? 'org:member' : `org:${keys[(now / 1_000) % keys.length]}`;
  };
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
  /** What the mirror erases with its parent, for good. */
  const dropForGood = (map: Map<string, Obj>, pred: (o: Obj) => boolean) => {
    for (const [id, o] of map)
      if (pred(o)) {
        map.delete(id);
        gone.add(id);
      }
  };
  const dropBilling = (payer: string) => {
    const pays = (o: Obj) => payerOf(o).user_id === payer || payerOf(o).organization_id === payer;
    for (const map of [clerk.subscriptions, clerk.items, clerk.attempts]) dropForGood(map, pays);
  };
  /** A subscription event: the subscription with its items as they are now (without payer nor subscription id). */
  const pushSubscription = (type: string, sub: Obj) => {
    const items = [...clerk.items.values()]
      .filter((i) => i.subscription_id === sub.id)
      .map((i) => ({ ...i, payer: null, subscription_id: null }));
    push(type, { ...sub, items });
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
        dropBilling(user);
        // The mirror erases the invitations the user accepted (personal data), for good.
        dropForGood(clerk.invitations, (i) => i.user_id === user);
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
        // Its invitations and domains go with it (Clerk sends no event for them).
        for (const [id, i] of clerk.invitations) if (i.organization_id === org) clerk.invitations.delete(id);
        dropForGood(clerk.domains, (d) => d.organization_id === org);
        dropBilling(org);
        push('organization.deleted', { object: 'organization', id: org, deleted: true });
        break;
      case 'createPermission': {
        const id = `perm_c${a}`;
        if (gone.has(id)) break;
        const exists = clerk.permissions.has(id);
        const data = {
          ...sampleEvent('permission.created', { id, now }).data,
          key: `org:projects:p${a}`,
          name: `P${a} ${now}`,
          created_at: (clerk.permissions.get(id)?.created_at as number | undefined) ?? now,
        } as Obj;
        clerk.permissions.set(id, data);
        push(`permission.${exists ? 'updated' : 'created'}`, data);
        break;
      }
      case 'deletePermission': {
        const id = `perm_c${a}`;
        if (!clerk.permissions.delete(id)) break;
        gone.add(id);
        // Roles stop granting it, without an event of their own.
        for (const [rid, r] of clerk.roles)
          clerk.roles.set(rid, { ...r, permissions: (r.permissions as Grant[]).filter((g) => g.id !== id) });
        push('permission.deleted', { object: 'permission', id, deleted: true });
        break;
      }
      case 'grant':
      case 'revoke': {
        const id = `role_c${a}`;
        const permission = clerk.permissions.get(`perm_c${b}`);
        const current = clerk.roles.get(id);
        const grants = ((current?.permissions as Grant[] | undefined) ?? []).filter(
          (g) => g.id !== `perm_c${b}`,
        );
        if (name === 'grant' && permission) grants.push({ id: permission.id, key: permission.key as string });
        else if (name === 'grant' || !current) break;
        const data = {
          ...sampleEvent('role.created', { id, now }).data,
          key: `r${a}`, // Clerk's examples send keys without the org: prefix
          permissions: grants.map((g) => ({ object: 'permission', ...g })),
          created_at: (current?.created_at as number | undefined) ?? now,
        } as Obj;
        clerk.roles.set(id, data);
        push(`role.${current ? 'updated' : 'created'}`, data);
        break;
      }
      case 'invite':
      case 'accept':
      case 'revokeInvitation': {
        const id = `orginv_c${a}`;
        const current = clerk.invitations.get(id);
        if (
          name === 'invite' ? current || gone.has(id) || !clerk.orgs.has(org) : current?.status !== 'pending'
        )
          break;
        // Only a user who exists accepts.
        if (name === 'accept' && !clerk.users.has(`user_c${a}`)) break;
        const status = name === 'invite' ? 'pending' : name === 'accept' ? 'accepted' : 'revoked';
        const data = {
          ...sampleEvent(
            `organizationInvitation.${name === 'invite' ? 'created' : status}` as 'organizationInvitation.created',
            {
              id,
              orgId: org,
              userId: `user_c${a}`,
              now,
            },
          ).data,
          status,
          ...(status === 'accepted' ? { user_id: `user_c${a}` } : { user_id: null }),
          created_at: (current?.created_at as number | undefined) ?? now,
        } as Obj;
        clerk.invitations.set(id, data);
        push(`organizationInvitation.${name === 'invite' ? 'created' : status}`, data);
        break;
      }
      case 'addDomain':
      case 'verifyDomain': {
        const id = `orgdmn_c${a}`;
        const current = clerk.domains.get(id);
        if (gone.has(id) || !clerk.orgs.has(org) || (name === 'verifyDomain' && !current)) break;
        const data = {
          ...sampleEvent('organizationDomain.created', { id, orgId: org, now }).data,
          name: `d${a}-${now}.example.com`,
          verification: name === 'verifyDomain' ? { status: 'verified', strategy: 'email_code' } : null,
          created_at: (current?.created_at as number | undefined) ?? now,
        } as Obj;
        clerk.domains.set(id, data);
        push(`organizationDomain.${current ? 'updated' : 'created'}`, data);
        break;
      }
      case 'removeDomain': {
        const id = `orgdmn_c${a}`;
        if (!clerk.domains.delete(id)) break;
        gone.add(id);
        push('organizationDomain.deleted', { object: 'organization_domain', id, deleted: true });
        break;
      }
      case 'subscribe': {
        // Starts the subscription, or moves it to the next plan (a new item) and back to active.
        const id = `csub_c${a}`;
        const current = clerk.subscriptions.get(id);
        const payer = current ? payerOf(current) : null;
        const payerId = payer
          ? payer.user_id || payer.organization_id
          : b % 2 === 0
            ? `user_c${b}`
            : `org_c${b % 3}`;
        if (gone.has(id) || !(clerk.users.has(payerId) || clerk.orgs.has(payerId))) break;
        const base = sampleEvent('subscription.created', { id, userId: `user_c${b}`, now }).data as Obj;
        const payerObject = {
          ...(base.payer as Obj),
          id: `cpayer_${payerId}`,
          user_id: payerId.startsWith('user_') ? payerId : '',
          organization_id: payerId.startsWith('org_') ? payerId : '',
        };
        const itemId = `csub_item_c${a}_${current ? 1 : 0}`;
        if (!clerk.items.has(itemId) && !gone.has(itemId))
          clerk.items.set(itemId, {
            ...((base.items as Obj[])[0] as Obj),
            id: itemId,
            status: current ? 'upcoming' : 'active',
            payer: payerObject,
            subscription_id: id,
            created_at: now,
            updated_at: now,
          });
        const data = {
          ...base,
          payer_id: payerObject.id,
          payer: payerObject,
          status: 'active',
          created_at: (current?.created_at as number | undefined) ?? now,
        } as Obj;
        clerk.subscriptions.set(id, data);
        pushSubscription(`subscription.${current ? 'updated' : 'created'}`, data);
        break;
      }
      case 'itemStatus': {
        // The item changes on its own event; with b ≥ 2 its subscription changes too (its own event).
        const item = clerk.items.get(`csub_item_c${a}_${b % 2}`);
        if (!item) break;
        const status = ITEM_STATUSES[
          (now / 1_000 + b) % ITEM_STATUSES.length
        ] as (typeof ITEM_STATUSES)[number];
        const data = { ...item, status, updated_at: now };
        clerk.items.set(item.id, data);
        push(`subscriptionItem.${ITEM_VERB[status]}`, data);
        const sub = clerk.subscriptions.get(item.subscription_id as string);
        if (sub && b >= 2) {
          const updated = { ...sub, status: status === 'past_due' ? 'past_due' : 'active', updated_at: now };
          clerk.subscriptions.set(sub.id, updated);
          pushSubscription(status === 'past_due' ? 'subscription.pastDue' : 'subscription.updated', updated);
        }
        break;
      }
      case 'pay': {
        const id = `cpa_c${a}`;
        const sub = clerk.subscriptions.get(`csub_c${a}`);
        const current = clerk.attempts.get(id);
        if (gone.has(id) || !sub || (current && current.status !== 'pending')) break;
        const status = current ? (b % 2 === 0 ? 'paid' : 'failed') : 'pending';
        const data = {
          ...sampleEvent('paymentAttempt.created', { id, userId: 'user_c0', now }).data,
          status,
          payer: sub.payer,
          paid_at: status === 'paid' ? now : null,
          failed_at: status === 'failed' ? now : null,
          created_at: (current?.created_at as number | undefined) ?? now,
        } as Obj;
        clerk.attempts.set(id, data);
        push(`paymentAttempt.${current ? 'updated' : 'created'}`, data);
        break;
      }
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
        data.role = someRole();
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
  store = sqlStore(t.db);
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
  const lists: [KindName, Map<string, Obj>][] = [
    ['user', snapshot.users],
    ['organization', snapshot.orgs],
    ['membership', snapshot.memberships],
    ['role', snapshot.roles],
    ['permission', snapshot.permissions],
    ['invitation', snapshot.invitations],
    ['domain', snapshot.domains],
    ['subscriptionItem', snapshot.items],
  ];
  const results = await Promise.all(
    lists.map(([kind, items]) =>
      store.upsert(
        kind,
        [...items.values()].map((o) => {
          const mapped = toRow(kind, o);
          if (!mapped.ok) throw new Error(mapped.error);
          return mapped.row;
        }),
      ),
    ),
  );
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
    roles: await q(
      `select r.id, r.key, coalesce(array_agg(g.permission_key order by g.permission_key)
         filter (where g.role_id is not null), '{}') as grants
       from public.organization_roles r left join public.organization_role_permissions g on g.role_id = r.id
       group by r.id, r.key order by r.id`,
    ),
    permissions: await q('select id, key from public.organization_permissions order by id'),
    invitations: await q(
      'select id, organization_id, status, user_id from clerk_sync.organization_invitations order by id',
    ),
    domains: await q(
      `select id, organization_id, name, verified, extract(epoch from updated_at) * 1000 as updated_at
       from public.organization_domains order by id`,
    ),
    subscriptions: await q(
      `select id, payer_id, user_id, organization_id, status, extract(epoch from updated_at) * 1000 as updated_at
       from public.billing_subscriptions order by id`,
    ),
    items: await q(
      `select id, subscription_id, payer_id, user_id, organization_id, status,
         extract(epoch from updated_at) * 1000 as updated_at
       from public.billing_subscription_items order by id`,
    ),
    attempts: await q(
      `select id, user_id, organization_id, status, extract(epoch from updated_at) * 1000 as updated_at
       from public.billing_payment_attempts order by id`,
    ),
    permissionChecks: await checks(),
    privateInAttrs: await q(
      `select id from public.users_private where attrs::text like '%private_metadata%' or attrs::text like '%nested%'`,
    ),
  };
}

const USERS = ['user_c0', 'user_c1', 'user_c2', 'user_c3'];
const ORGS = ['org_c0', 'org_c1', 'org_c2'];
const PERMISSION_KEYS = ['org:projects:p0', 'org:projects:p1', 'org:projects:p2', 'org:sys_memberships:read'];

/** has_org_permission for every user, organization and permission, as each user asks it. */
async function checks() {
  const out: string[] = [];
  for (const sub of USERS) {
    const rows = await t.as(
      'authenticated',
      { sub },
      async (s) =>
        (
          await s.query<{ o: string; p: string }>(
            `select o, p from unnest($1::text[]) o, unnest($2::text[]) p
           where public.has_org_permission(o, p) order by o, p`,
            [ORGS, PERMISSION_KEYS],
          )
        ).rows,
    );
    for (const r of rows) out.push(`${sub} ${r.o} ${r.p}`);
  }
  return out.sort();
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
  const roles = [...clerk.roles.values()].map((r) => ({
    id: r.id,
    key: `org:${r.key}`,
    grants: (r.permissions as Grant[]).map((g) => g.key).sort(),
  }));
  const permissions = [...clerk.permissions.values()].map((p) => ({ id: p.id, key: p.key }));
  const invitations = [...clerk.invitations.values()].map((i) => ({
    id: i.id,
    organization_id: i.organization_id,
    status: i.status,
    user_id: i.user_id ?? null,
  }));
  const payer = (o: Obj) => {
    const p = payerOf(o);
    return { user_id: p.user_id || null, organization_id: p.organization_id || null };
  };
  const domains = [...clerk.domains.values()].map((d) => ({
    id: d.id,
    organization_id: d.organization_id,
    name: d.name,
    verified: (d.verification as { status?: string } | null)?.status === 'verified',
    updated_at: String(d.updated_at),
  }));
  const subscriptions = [...clerk.subscriptions.values()].map((x) => ({
    id: x.id,
    payer_id: payerOf(x).id,
    ...payer(x),
    status: x.status,
    updated_at: String(x.updated_at),
  }));
  const items = [...clerk.items.values()].map((i) => ({
    id: i.id,
    subscription_id: i.subscription_id,
    payer_id: payerOf(i).id,
    ...payer(i),
    status: i.status,
    updated_at: String(i.updated_at),
  }));
  const attempts = [...clerk.attempts.values()].map((x) => ({
    id: x.id,
    ...payer(x),
    status: x.status,
    updated_at: String(x.updated_at),
  }));
  const privateMetadata = [
    ...memberships.map((m) => ({ kind: 'membership', id: m.id })),
    ...orgs.map((o) => ({ kind: 'organization', id: o.id })),
    ...users.map((u) => ({ kind: 'user', id: u.id })),
    ...roles.map((r) => ({ kind: 'role', id: r.id })),
    ...permissions.map((p) => ({ kind: 'permission', id: p.id })),
    ...invitations.map((i) => ({ kind: 'invitation', id: i.id })),
    ...domains.map((d) => ({ kind: 'domain', id: d.id })),
    ...subscriptions.map((x) => ({ kind: 'subscription', id: x.id })),
    ...items.map((i) => ({ kind: 'subscriptionItem', id: i.id })),
    ...attempts.map((x) => ({ kind: 'paymentAttempt', id: x.id })),
  ].sort((a, b) => (a.kind === b.kind ? (a.id < b.id ? -1 : 1) : a.kind < b.kind ? -1 : 1));
  // What Clerk would answer: the membership's role's permissions, or (a role Clerk has no object
  // for, such as the default org:member here) the permissions listed on the membership.
  const permissionChecks = USERS.flatMap((user) =>
    ORGS.flatMap((org) => {
      const m = memberships.find((x) => x.user_id === user && x.organization_id === org);
      if (!m) return [];
      const role = roles.find((r) => r.key === m.role);
      const listed = (clerk.memberships.get(m.id)?.permissions as string[] | undefined) ?? [];
      return PERMISSION_KEYS.filter((p) => (role ? role.grants.includes(p) : listed.includes(p))).map(
        (p) => `${user} ${org} ${p}`,
      );
    }),
  ).sort();
  return {
    users: users.sort(byId),
    orgs: orgs.sort(byId),
    memberships: memberships.sort(byId),
    privateMetadata,
    roles: roles.sort(byId),
    permissions: permissions.sort(byId),
    invitations: invitations.sort(byId),
    domains: domains.sort(byId),
    subscriptions: subscriptions.sort(byId),
    items: items.sort(byId),
    attempts: attempts.sort(byId),
    permissionChecks,
    privateInAttrs: [],
  };
}

const normalise = (m: Awaited<ReturnType<typeof mirror>>) => ({
  ...m,
  users: m.users.map((u) => ({ ...u, updated_at: String(Number(u.updated_at)) })),
  orgs: m.orgs.map((o) => ({ ...o, updated_at: String(Number(o.updated_at)) })),
  memberships: m.memberships.map((x) => ({ ...x, updated_at: String(Number(x.updated_at)) })),
  domains: m.domains.map((x) => ({ ...x, updated_at: String(Number(x.updated_at)) })),
  subscriptions: m.subscriptions.map((x) => ({ ...x, updated_at: String(Number(x.updated_at)) })),
  items: m.items.map((x) => ({ ...x, updated_at: String(Number(x.updated_at)) })),
  attempts: m.attempts.map((x) => ({ ...x, updated_at: String(Number(x.updated_at)) })),
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
