/**
 * @module The registry of Clerk kinds: every Clerk object the mirror keeps is described here once —
 * its tables, its zod schema and mapper, its webhook events and what each verb does, its Clerk list
 * endpoint and how it is deleted. Dispatch, the backfill, the store and the types are derived from
 * it, so a new kind is a new entry (see docs/adding-a-kind.md), and an entry without a schema,
 * mapper, events or list does not compile.
 */
import * as z from 'zod';
import {
  deletedDomainSchema,
  deletedMembershipSchema,
  deletedOrganizationSchema,
  deletedPermissionSchema,
  deletedRoleSchema,
  deletedUserSchema,
  domainSchema,
  envelopeSchema,
  invitationSchema,
  membershipSchema,
  organizationSchema,
  paymentAttemptSchema,
  permissionSchema,
  planSchema,
  roleSchema,
  subscriptionItemSchema,
  subscriptionSchema,
  userSchema,
} from './events.ts';
import {
  cleanText,
  toDomainRow,
  toInvitationRow,
  toMembershipDeleteKey,
  toMembershipRow,
  toOrganizationRow,
  toPaymentAttemptRow,
  toPermissionRow,
  toPlanRow,
  toRoleRow,
  toSubscriptionItemRow,
  toSubscriptionRow,
  toUserRow,
} from './map.ts';

/** What an event does to its object: write the newest version, or delete it for good (a tombstone). */
export type Operation = 'upsert' | 'delete';

/** How to walk a Clerk list endpoint (its `limit`/`offset` paging, oldest first). */
export interface ListEndpoint {
  /** e.g. `/users`, `/organization_memberships`. */
  path: string;
  /** `{ data, total_count }` (true) or a bare array (false, `/users`). */
  enveloped: boolean;
  /** Clerk documents the `starting_after` cursor for it (only `/users` today): tried first, offsets as fallback. */
  cursor: boolean;
  /** Where the total comes from when the list has no `total_count` (`/users/count`). */
  countPath?: string;
  /** Sent with every request of the list (`include_free: 'true'`). */
  query?: Readonly<Record<string, string>>;
}

/** What a delete names: the object, and for a membership the pair it links (locked, and kept in the ledger). */
export interface DeleteKey {
  id: string;
  organization_id?: string;
  user_id?: string;
}

/** A mirror row a backfill pass did not see, as the prune confirms it with Clerk. */
export interface Candidate {
  id: string;
  organization_id: string | null;
  user_id: string | null;
}

/** The Clerk request that says whether a mirrored object still exists (a 404 says it does not). */
export interface Lookup {
  path: string;
  query?: Record<string, string | number>;
  /**
   * The answer is a list that holds the object while it exists: `{ data: [...] }` (true), or the
   * array in the named field (a payer's subscription: `subscription_items`).
   */
  inList?: true | string;
}

interface KindSpec<S extends z.ZodType, D extends z.ZodType, R extends { id: string; updated_at: string }> {
  /** The collection's name, as the CLI and its output say it (`--only users`). */
  plural: string;
  /** The tables its rows land in, schema-qualified (the first one holds every id). */
  tables: readonly [string, ...string[]];
  /** The Clerk object, validated leniently (unknown fields kept). */
  schema: S;
  /** Clerk JSON → the row the SQL takes. */
  toRow: (object: z.output<S>) => R;
  /** Webhook events: `<prefix>.<verb>`, each verb an operation. */
  events: { prefix: string; verbs: Readonly<Record<string, Operation>> };
  /** The payload of an event whose verb deletes, and the key the delete takes from it. */
  deleted: { schema: D; key: (payload: z.output<D>) => DeleteKey };
  /** The Backend API list the backfill walks; none for objects Clerk lists only per payer or statement. */
  list: ListEndpoint | null;
  /** How the prune asks Clerk whether one object is gone (kinds with a list). */
  lookup: ((candidate: Candidate) => Lookup) | null;
}

/** Checks an entry and keeps its literal types (verbs, prefix) for the derived types below. */
const kind = <
  const S extends z.ZodType,
  const D extends z.ZodType,
  R extends { id: string; updated_at: string },
  const E extends KindSpec<S, D, R>['events'],
  const L extends ListEndpoint | null,
>(
  spec: Omit<KindSpec<S, D, R>, 'events' | 'list'> & { events: E; list: L },
) => spec;

const CRUD = { created: 'upsert', updated: 'upsert', deleted: 'delete' } as const;

export const KINDS = {
  user: kind({
    plural: 'users',
    tables: ['public.users_public', 'public.users_private'],
    schema: userSchema,
    toRow: toUserRow,
    events: { prefix: 'user', verbs: CRUD },
    deleted: { schema: deletedUserSchema, key: ({ id }) => ({ id: cleanText(id) }) },
    // A bare array; the total comes from /users/count.
    list: { path: '/users', enveloped: false, cursor: true, countPath: '/users/count' },
    lookup: (c) => ({ path: `/users/${encodeURIComponent(c.id)}` }),
  }),
  organization: kind({
    plural: 'organizations',
    tables: ['public.organizations'],
    schema: organizationSchema,
    toRow: toOrganizationRow,
    events: { prefix: 'organization', verbs: CRUD },
    deleted: { schema: deletedOrganizationSchema, key: ({ id }) => ({ id: cleanText(id) }) },
    list: { path: '/organizations', enveloped: true, cursor: false },
    lookup: (c) => ({ path: `/organizations/${encodeURIComponent(c.id)}` }),
  }),
  membership: kind({
    plural: 'memberships',
    tables: ['public.organization_memberships'],
    schema: membershipSchema,
    toRow: toMembershipRow,
    events: { prefix: 'organizationMembership', verbs: CRUD },
    // A delete needs only the id; the organization and user, when sent, are kept for the locks.
    deleted: { schema: deletedMembershipSchema, key: toMembershipDeleteKey },
    // Instance-wide (InstanceGetOrganizationMemberships): one walk instead of one per organization.
    list: { path: '/organization_memberships', enveloped: true, cursor: false },
    // Clerk has no GET of one membership: look for it among the user's memberships of the organization.
    lookup: (c) => ({
      path: `/organizations/${encodeURIComponent(c.organization_id ?? '')}/memberships`,
      query: { user_id: c.user_id ?? '', limit: 100 },
      inList: true,
    }),
  }),
  role: kind({
    plural: 'roles',
    tables: ['public.organization_roles', 'public.organization_role_permissions'],
    schema: roleSchema,
    toRow: toRoleRow,
    events: { prefix: 'role', verbs: CRUD },
    deleted: { schema: deletedRoleSchema, key: ({ id }) => ({ id: cleanText(id) }) },
    list: { path: '/organization_roles', enveloped: true, cursor: false },
    lookup: (c) => ({ path: `/organization_roles/${encodeURIComponent(c.id)}` }),
  }),
  permission: kind({
    plural: 'permissions',
    tables: ['public.organization_permissions'],
    schema: permissionSchema,
    toRow: toPermissionRow,
    events: { prefix: 'permission', verbs: CRUD },
    deleted: { schema: deletedPermissionSchema, key: ({ id }) => ({ id: cleanText(id) }) },
    list: { path: '/organization_permissions', enveloped: true, cursor: false },
    lookup: (c) => ({ path: `/organization_permissions/${encodeURIComponent(c.id)}` }),
  }),
  invitation: kind({
    plural: 'invitations',
    // Read through the view public.organization_invitations (its url is the service role's only).
    tables: ['clerk_sync.organization_invitations'],
    schema: invitationSchema,
    toRow: toInvitationRow,
    // No verb deletes an invitation: accepted and revoked are new versions (its status).
    events: {
      prefix: 'organizationInvitation',
      verbs: { created: 'upsert', accepted: 'upsert', revoked: 'upsert' },
    },
    deleted: { schema: invitationSchema, key: ({ id }) => ({ id: cleanText(id) }) },
    // Instance-wide (ListInstanceOrganizationInvitations), every status.
    list: { path: '/organization_invitations', enveloped: true, cursor: false },
    lookup: (c) => ({
      path: `/organizations/${encodeURIComponent(c.organization_id ?? '')}/invitations/${encodeURIComponent(c.id)}`,
    }),
  }),
  domain: kind({
    plural: 'domains',
    tables: ['public.organization_domains'],
    schema: domainSchema,
    toRow: toDomainRow,
    events: { prefix: 'organizationDomain', verbs: CRUD },
    deleted: { schema: deletedDomainSchema, key: ({ id }) => ({ id: cleanText(id) }) },
    list: { path: '/organization_domains', enveloped: true, cursor: false },
    // Clerk has no GET of one domain: look for it among its organization's domains.
    lookup: (c) => ({
      path: `/organizations/${encodeURIComponent(c.organization_id ?? '')}/domains`,
      query: { limit: 500 },
      inList: true,
    }),
  }),
  // Clerk Billing. Plans have no webhooks: the backfill copies them.
  plan: kind({
    plural: 'plans',
    tables: ['public.billing_plans'],
    schema: planSchema,
    toRow: (p) => toPlanRow(p),
    events: { prefix: 'plan', verbs: {} },
    deleted: { schema: planSchema, key: ({ id }) => ({ id: cleanText(id) }) },
    list: { path: '/billing/plans', enveloped: true, cursor: false },
    // Clerk has no GET of one plan: look for it in the list.
    lookup: () => ({ path: '/billing/plans', query: { limit: 500 }, inList: true }),
  }),
  subscription: kind({
    plural: 'subscriptions',
    // Its items are written with it (each newest-wins on its own).
    tables: ['public.billing_subscriptions', 'public.billing_subscription_items'],
    schema: subscriptionSchema,
    toRow: toSubscriptionRow,
    // Every verb is a new version (its status); none deletes.
    events: {
      prefix: 'subscription',
      verbs: { created: 'upsert', updated: 'upsert', active: 'upsert', pastDue: 'upsert' },
    },
    deleted: { schema: subscriptionSchema, key: ({ id }) => ({ id: cleanText(id) }) },
    // Clerk lists subscriptions only per payer: their items are backfilled (below).
    list: null,
    lookup: null,
  }),
  subscriptionItem: kind({
    plural: 'subscription_items',
    tables: ['public.billing_subscription_items'],
    schema: subscriptionItemSchema,
    toRow: (i) => toSubscriptionItemRow(i),
    events: {
      prefix: 'subscriptionItem',
      verbs: {
        updated: 'upsert',
        active: 'upsert',
        canceled: 'upsert',
        upcoming: 'upsert',
        ended: 'upsert',
        abandoned: 'upsert',
        incomplete: 'upsert',
        pastDue: 'upsert',
        freeTrialEnding: 'upsert',
      },
    },
    deleted: { schema: subscriptionItemSchema, key: ({ id }) => ({ id: cleanText(id) }) },
    // Free-plan items too, so that the default plan's entitlements are known.
    list: {
      path: '/billing/subscription_items',
      enveloped: true,
      cursor: false,
      query: { include_free: 'true' },
    },
    // Clerk has no GET of one item: look for it among its payer's subscription's items (a 404: the
    // payer has none). An item with no known payer: in the first page of the list.
    lookup: (c) =>
      c.user_id !== null || c.organization_id !== null
        ? {
            path:
              c.user_id !== null
                ? `/users/${encodeURIComponent(c.user_id)}/billing/subscription`
                : `/organizations/${encodeURIComponent(c.organization_id ?? '')}/billing/subscription`,
            inList: 'subscription_items',
          }
        : { path: '/billing/subscription_items', query: { include_free: 'true', limit: 500 }, inList: true },
  }),
  paymentAttempt: kind({
    plural: 'payment_attempts',
    tables: ['public.billing_payment_attempts'],
    schema: paymentAttemptSchema,
    toRow: toPaymentAttemptRow,
    events: { prefix: 'paymentAttempt', verbs: { created: 'upsert', updated: 'upsert' } },
    deleted: { schema: paymentAttemptSchema, key: ({ id }) => ({ id: cleanText(id) }) },
    // Clerk lists payment attempts only per statement.
    list: null,
    lookup: null,
  }),
};

type Kinds = typeof KINDS;
/** An entry with its types erased, to walk the registry; its functions take what its schema validated. */
type AnyKind = KindSpec<z.ZodType, z.ZodType, { id: string; updated_at: string }>;
const entry = (name: KindName): AnyKind => KINDS[name] as unknown as AnyKind;
/**
 * A Clerk kind the mirror keeps: `user`, `organization`, `membership`, `role`, `permission`,
 * `invitation`, `domain`, `plan`, `subscription`, `subscriptionItem`, `paymentAttempt`.
 */
export type KindName = keyof Kinds;
/** Every kind, in the order a backfill copies them (parents before memberships). */
export const KIND_NAMES = Object.keys(KINDS) as KindName[];
/** A kind with a Clerk list: the backfill copies it. */
export type ListedKind = { [K in KindName]: Kinds[K]['list'] extends null ? never : K }[KindName];
/** The kinds the backfill copies, in order (not subscriptions nor payment attempts: Clerk lists them per payer). */
export const BACKFILL_KINDS = KIND_NAMES.filter((k): k is ListedKind => KINDS[k].list !== null);

/**
 * What a validated event of `kind` changes: the kind's row (an upsert) or its delete key.
 * @example changeOf('user', 'delete', { object: 'user', id: 'user_1', deleted: true }); // { id: 'user_1' }
 */
export function changeOf(kind: KindName, op: Operation, data: unknown): { id: string } {
  const k = entry(kind);
  return op === 'upsert' ? k.toRow(data) : k.deleted.key(data);
}

/** The row each kind's mapper makes: `RowOf['user']` is a UserRow. */
export type RowOf = { [K in KindName]: ReturnType<Kinds[K]['toRow']> };

type Verbs<K extends KindName> = Kinds[K]['events']['verbs'];
type EventOfKind<K extends KindName> = `${Kinds[K]['events']['prefix']}.${keyof Verbs<K> & string}`;
/** Every webhook event type we mirror, e.g. `organizationMembership.deleted`. */
export type MirroredEventType = { [K in KindName]: EventOfKind<K> }[KindName];
/** The kind an event type is about. */
export type KindOf<T extends MirroredEventType> = {
  [K in KindName]: T extends EventOfKind<K> ? K : never;
}[KindName];
type OperationOf<T extends MirroredEventType> = T extends `${string}.${infer V}`
  ? V extends keyof Verbs<KindOf<T>>
    ? Verbs<KindOf<T>>[V]
    : never
  : never;
/** What a sender puts in `data` for an event type (before validation). */
export type EventDataInput<T extends MirroredEventType> =
  OperationOf<T> extends 'delete'
    ? z.input<Kinds[KindOf<T>]['deleted']['schema']>
    : z.input<Kinds[KindOf<T>]['schema']>;

/** One mirrored event type: its kind, its operation and the schema of the whole event. */
export interface EventRoute {
  kind: KindName;
  op: Operation;
  schema: z.ZodType<{ type: string; timestamp: number | null; data: unknown }>;
}

/** Every mirrored event type → its route, derived from the registry. */
export const EVENT_ROUTES: ReadonlyMap<string, EventRoute> = new Map(
  KIND_NAMES.flatMap((name) => {
    const k = entry(name);
    return Object.entries(k.events.verbs).map(([verb, op]): [string, EventRoute] => {
      const type = `${k.events.prefix}.${verb}`;
      const data = op === 'upsert' ? k.schema : k.deleted.schema;
      return [type, { kind: name, op, schema: envelopeSchema.extend({ type: z.literal(type), data }) }];
    });
  }),
);

/** Every mirrored event type, registry order. */
export const MIRRORED_EVENT_TYPES = [...EVENT_ROUTES.keys()] as MirroredEventType[];

/**
 * Whether `type` is one of the event types we mirror.
 *
 * @example
 * isMirroredEventType('user.created'); // true
 * isMirroredEventType('session.created'); // false
 */
export function isMirroredEventType(type: string): type is MirroredEventType {
  return EVENT_ROUTES.has(type);
}

/**
 * The backfilled kind whose plural is `plural` (the CLI's word), or undefined.
 * @example kindByPlural('memberships'); // 'membership'
 */
export function kindByPlural(plural: string): ListedKind | undefined {
  return BACKFILL_KINDS.find((name) => KINDS[name].plural === plural);
}

/**
 * Validates one raw Clerk object of `kind` (a backfill page item) and maps it to its row, or says
 * why it cannot be (zod paths and messages, never values).
 * @example const r = toRow('user', item); if (r.ok) rows.push(r.row);
 */
export function toRow<K extends KindName>(
  kind: K,
  item: unknown,
): { ok: true; row: RowOf[K] } | { ok: false; error: string } {
  const k = entry(kind);
  const parsed = k.schema.safeParse(item);
  if (parsed.success) return { ok: true, row: k.toRow(parsed.data) as RowOf[K] };
  return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
}
