/**
 * @module Clerk JSON (already validated by `events.ts`) → the rows the SQL sync functions take.
 *
 * Content Postgres cannot hold is made holdable here, the same way for webhooks, replay and
 * backfill, so that it never fails an event nor blocks the next ones (docs/decisions/0007):
 * - strings (values and keys, at any depth): NUL (U+0000) removed, lone surrogates → U+FFFD;
 * - timestamps outside 0001-01-01 … 9999-12-31: a nullable one is null, `created_at` /
 *   `updated_at` are clamped to the nearest bound;
 * - `private_metadata` is removed at any depth from `attrs` (which the user can read).
 */
import type {
  ClerkDeletedMembership,
  ClerkDomain,
  ClerkInvitation,
  ClerkMembership,
  ClerkOrganization,
  ClerkPaymentAttempt,
  ClerkPermission,
  ClerkPlan,
  ClerkRole,
  ClerkSubscription,
  ClerkSubscriptionItem,
  ClerkUser,
} from './events.ts';
import type {
  DomainRow,
  InvitationRow,
  Json,
  JsonObject,
  MembershipRow,
  OrganizationRow,
  Payer,
  PaymentAttemptRow,
  PermissionRow,
  PlanRow,
  RoleRow,
  SubscriptionItemRow,
  SubscriptionRow,
  UserRow,
} from './rows.ts';

/** 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the range of a four-digit ISO year. */
const MIN_MS = -62_135_596_800_000;
const MAX_MS = 253_402_300_799_999;

const iso = (ms: number): string => new Date(Math.min(MAX_MS, Math.max(MIN_MS, ms))).toISOString();
const isoOrNull = (ms: number | null | undefined): string | null =>
  ms == null || ms < MIN_MS || ms > MAX_MS ? null : iso(ms);

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what Postgres text cannot hold.
const SUSPECT = /[\u0000\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `text` as Postgres can hold it: NUL removed, lone surrogates replaced with U+FFFD.
 * @example cleanText('a\u0000b\uD800'); // 'ab\uFFFD'
 */
export function cleanText(text: string): string {
  return SUSPECT.test(text) ? text.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\uFFFD') : text;
}
const cleanOrNull = (text: string | null | undefined): string | null =>
  text == null ? null : cleanText(text);

/** Whether `value` has a string to clean or (with `dropPrivate`) a `private_metadata` key, at any depth. */
function needsCleaning(value: unknown, dropPrivate: boolean): boolean {
  if (typeof value === 'string') return SUSPECT.test(value);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return value.some((v) => needsCleaning(v, dropPrivate));
  for (const key in value) {
    if ((dropPrivate && key === 'private_metadata') || SUSPECT.test(key)) return true;
    if (needsCleaning((value as Record<string, unknown>)[key], dropPrivate)) return true;
  }
  return false;
}

function cleaned(value: unknown, dropPrivate: boolean): Json {
  if (typeof value === 'string') return cleanText(value);
  if (typeof value !== 'object' || value === null) return value as Json;
  if (Array.isArray(value)) return value.map((v) => cleaned(v, dropPrivate));
  const out: Record<string, Json> = {};
  for (const [key, v] of Object.entries(value))
    if (!(dropPrivate && key === 'private_metadata')) out[cleanText(key)] = cleaned(v, dropPrivate);
  return out;
}

/** A JSON object as Postgres can hold it (and, with `dropPrivate`, without `private_metadata` anywhere). */
function cleanJson(value: JsonObject, dropPrivate = false): JsonObject {
  return needsCleaning(value, dropPrivate) ? (cleaned(value, dropPrivate) as JsonObject) : value;
}
const cleanMeta = (value: JsonObject | null | undefined): JsonObject =>
  value == null ? {} : cleanJson(value);

/**
 * The fields of `object` not in `columns`, in their order, cleaned and without `private_metadata`
 * at any depth (Clerk's user carries `organization_memberships[].organization.private_metadata`). A loop instead of `...rest`: zod's
 * output objects are in dictionary mode, where V8's rest copy is ~5× slower (4 of 5 ms per page
 * of 500 users, most of the mapping in a backfill).
 */
function rest(object: Record<string, unknown>, columns: ReadonlySet<string>): JsonObject {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(object)) if (!columns.has(key)) out[key] = object[key];
  return cleanJson(out as JsonObject, true);
}

const USER_COLUMNS: ReadonlySet<string> = new Set([
  'id',
  'username',
  'first_name',
  'last_name',
  'image_url',
  'external_id',
  'public_metadata',
  'unsafe_metadata',
  'private_metadata',
  'last_sign_in_at',
  'banned',
  'locked',
  'created_at',
  'updated_at',
] satisfies (keyof ClerkUser)[]);

const ORGANIZATION_COLUMNS: ReadonlySet<string> = new Set([
  'id',
  'name',
  'slug',
  'image_url',
  'public_metadata',
  'private_metadata',
  'created_by',
  'created_at',
  'updated_at',
] satisfies (keyof ClerkOrganization)[]);

/**
 * Maps a Clerk user to a {@link UserRow}. The primary email and phone are picked by id, never by
 * position; `private_metadata` goes only to its own field, and the fields without a column go to
 * `attrs`.
 *
 * @example
 * const row = toUserRow(userSchema.parse(event.data));
 * row.email; // the address whose id is primary_email_address_id, or null
 */
export function toUserRow(user: ClerkUser): UserRow {
  const {
    id,
    username,
    first_name,
    last_name,
    image_url,
    external_id,
    public_metadata,
    unsafe_metadata,
    private_metadata,
    last_sign_in_at,
    banned,
    locked,
    created_at,
    updated_at,
  } = user;
  const email = user.email_addresses?.find((e) => e.id === user.primary_email_address_id);
  const phone = user.phone_numbers?.find((p) => p.id === user.primary_phone_number_id);
  return {
    id: cleanText(id),
    username: cleanOrNull(username),
    first_name: cleanOrNull(first_name),
    last_name: cleanOrNull(last_name),
    image_url: cleanOrNull(image_url ?? user.profile_image_url),
    email: cleanOrNull(email?.email_address),
    phone: cleanOrNull(phone?.phone_number),
    external_id: cleanOrNull(external_id),
    public_metadata: cleanMeta(public_metadata),
    unsafe_metadata: cleanMeta(unsafe_metadata),
    private_metadata: cleanMeta(private_metadata),
    last_sign_in_at: isoOrNull(last_sign_in_at),
    banned: banned ?? false,
    locked: locked ?? false,
    created_at: iso(created_at),
    updated_at: iso(updated_at),
    attrs: rest(user, USER_COLUMNS),
  };
}

/**
 * Maps a Clerk organization to an {@link OrganizationRow}; `private_metadata` never reaches `attrs`.
 *
 * @example
 * const row = toOrganizationRow(organizationSchema.parse(event.data));
 * row.slug; // 'acme-corp'
 */
export function toOrganizationRow(org: ClerkOrganization): OrganizationRow {
  const { id, name, slug, image_url, public_metadata, private_metadata, created_by, created_at, updated_at } =
    org;
  return {
    id: cleanText(id),
    name: cleanText(name),
    slug: cleanOrNull(slug),
    image_url: cleanOrNull(image_url),
    public_metadata: cleanMeta(public_metadata),
    private_metadata: cleanMeta(private_metadata),
    created_by: cleanOrNull(created_by),
    created_at: iso(created_at),
    updated_at: iso(updated_at),
    attrs: rest(org, ORGANIZATION_COLUMNS),
  };
}

/**
 * Maps a Clerk organization membership to a {@link MembershipRow}; the embedded organization and
 * public user data contribute only their ids.
 *
 * @example
 * const row = toMembershipRow(membershipSchema.parse(event.data));
 * [row.organization_id, row.user_id]; // ['org_…', 'user_…']
 */
export function toMembershipRow(m: ClerkMembership): MembershipRow {
  return {
    id: cleanText(m.id),
    organization_id: cleanText(m.organization.id),
    user_id: cleanText(m.public_user_data.user_id),
    role: orgKey(m.role),
    permissions: (m.permissions ?? []).map(cleanText),
    public_metadata: cleanMeta(m.public_metadata),
    private_metadata: cleanMeta(m.private_metadata),
    created_at: iso(m.created_at),
    updated_at: iso(m.updated_at),
  };
}

/**
 * The key of a membership delete: the id, and the organization and user when the payload has them
 * (the SQL reads them back from the stored membership otherwise).
 *
 * @example
 * toMembershipDeleteKey({ object: 'organization_membership', id: 'orgmem_1' }); // { id: 'orgmem_1' }
 */
export function toMembershipDeleteKey(m: ClerkDeletedMembership): {
  id: string;
  organization_id?: string;
  user_id?: string;
} {
  const organization = m.organization?.id;
  const user = m.public_user_data?.user_id;
  return {
    id: cleanText(m.id),
    ...(organization == null ? {} : { organization_id: cleanText(organization) }),
    ...(user == null ? {} : { user_id: cleanText(user) }),
  };
}

/**
 * A role key as Clerk treats it: `org:`-prefixed (Clerk's examples also send a bare `editor`).
 * @example orgKey('editor'); // 'org:editor'
 */
export function orgKey(key: string): string {
  const k = cleanText(key);
  return k.startsWith('org:') ? k : `org:${k}`;
}

/**
 * Maps a Clerk role to a {@link RoleRow}: its key `org:`-prefixed, its permissions as id and key.
 * @example toRoleRow(roleSchema.parse({ …, key: 'editor' })).key; // 'org:editor'
 */
export function toRoleRow(r: ClerkRole): RoleRow {
  return {
    id: cleanText(r.id),
    key: orgKey(r.key),
    name: cleanText(r.name),
    description: cleanOrNull(r.description),
    is_creator_eligible: r.is_creator_eligible ?? null,
    permissions: (r.permissions ?? []).map((p) => ({ id: cleanText(p.id), key: cleanText(p.key) })),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}

/** Maps a Clerk permission to a {@link PermissionRow}. */
export function toPermissionRow(p: ClerkPermission): PermissionRow {
  return {
    id: cleanText(p.id),
    key: cleanText(p.key),
    name: cleanText(p.name),
    description: cleanOrNull(p.description),
    type: cleanOrNull(p.type),
    created_at: iso(p.created_at),
    updated_at: iso(p.updated_at),
  };
}

/** Maps a Clerk organization invitation to an {@link InvitationRow}; its role `org:`-prefixed. */
export function toInvitationRow(i: ClerkInvitation): InvitationRow {
  return {
    id: cleanText(i.id),
    organization_id: cleanText(i.organization_id),
    email_address: cleanText(i.email_address),
    role: orgKey(i.role),
    status: cleanText(i.status),
    user_id: cleanOrNull(i.user_id),
    public_metadata: cleanMeta(i.public_metadata),
    private_metadata: cleanMeta(i.private_metadata),
    url: cleanOrNull(i.url),
    expires_at: isoOrNull(i.expires_at),
    created_at: iso(i.created_at),
    updated_at: iso(i.updated_at),
  };
}

/** Maps a Clerk organization domain to a {@link DomainRow}: `verified` from its verification's status. */
export function toDomainRow(d: ClerkDomain): DomainRow {
  return {
    id: cleanText(d.id),
    organization_id: cleanText(d.organization_id),
    name: cleanText(d.name),
    enrollment_mode: cleanOrNull(d.enrollment_mode),
    verified: d.verification?.status === 'verified',
    affiliation_email_address: cleanOrNull(d.affiliation_email_address),
    created_at: iso(d.created_at),
    updated_at: iso(d.updated_at),
  };
}

/** An id as Clerk's billing sends it: `""` (the payer's other id) and null alike stored as null. */
const idOrNull = (text: string | null | undefined): string | null =>
  text == null || text === '' ? null : cleanText(text);

type PayerInput = {
  payer_id?: string | null | undefined;
  payer?:
    | {
        id?: string | null | undefined;
        user_id?: string | null | undefined;
        organization_id?: string | null | undefined;
      }
    | null
    | undefined;
};

/** The payer's ids only (never its name, email or image). */
function payerOf(o: PayerInput): Payer {
  return {
    payer_id: idOrNull(o.payer_id ?? o.payer?.id),
    user_id: idOrNull(o.payer?.user_id),
    organization_id: idOrNull(o.payer?.organization_id),
  };
}

/**
 * Maps a Clerk subscription item to a {@link SubscriptionItemRow}; `within` is the subscription an
 * item nested in a `subscription.*` event belongs to (its payer and id).
 * @example toSubscriptionItemRow(subscriptionItemSchema.parse(event.data)).plan_slug; // 'pro'
 */
export function toSubscriptionItemRow(
  i: ClerkSubscriptionItem,
  within?: { id: string } & Payer,
): SubscriptionItemRow {
  const payer = payerOf(i);
  return {
    id: cleanText(i.id),
    subscription_id: within?.id ?? idOrNull(i.subscription_id),
    payer_id: payer.payer_id ?? within?.payer_id ?? null,
    user_id: payer.user_id ?? within?.user_id ?? null,
    organization_id: payer.organization_id ?? within?.organization_id ?? null,
    plan_id: idOrNull(i.plan_id ?? i.plan?.id),
    plan_slug: idOrNull(i.plan?.slug),
    status: cleanText(i.status),
    is_free_trial: i.is_free_trial ?? false,
    period_start: isoOrNull(i.period_start),
    period_end: isoOrNull(i.period_end),
    canceled_at: isoOrNull(i.canceled_at),
    ended_at: isoOrNull(i.ended_at),
    created_at: iso(i.created_at),
    updated_at: iso(i.updated_at),
  };
}

/**
 * Maps a Clerk subscription to a {@link SubscriptionRow}, its items with it (each carrying the
 * subscription's id and payer, which Clerk leaves out of nested items).
 * @example toSubscriptionRow(subscriptionSchema.parse(event.data)).items.length; // 1
 */
export function toSubscriptionRow(s: ClerkSubscription): SubscriptionRow {
  const id = cleanText(s.id);
  const payer = payerOf(s);
  return {
    id,
    ...payer,
    status: cleanText(s.status),
    active_at: isoOrNull(s.active_at),
    past_due_at: isoOrNull(s.past_due_at),
    canceled_at: isoOrNull(s.canceled_at),
    ended_at: isoOrNull(s.ended_at),
    created_at: iso(s.created_at),
    updated_at: iso(s.updated_at),
    items: (s.items ?? []).map((i) => toSubscriptionItemRow(i, { id, ...payer })),
  };
}

/** Maps a Clerk payment attempt to a {@link PaymentAttemptRow}: no card, gateway or payer details. */
export function toPaymentAttemptRow(a: ClerkPaymentAttempt): PaymentAttemptRow {
  const total = a.totals?.grand_total;
  return {
    id: cleanText(a.id),
    ...payerOf(a),
    status: cleanText(a.status),
    amount: total?.amount ?? null,
    currency: cleanOrNull(total?.currency),
    paid_at: isoOrNull(a.paid_at),
    failed_at: isoOrNull(a.failed_at),
    created_at: iso(a.created_at),
    updated_at: iso(a.updated_at),
  };
}

/**
 * Maps a Clerk plan to a {@link PlanRow}. Clerk's plans carry no timestamp, so unless one is sent
 * the row is dated when it is read (`now`): the newest backfill's plan wins.
 * @example toPlanRow(planSchema.parse(item)).features; // ['dashboard', 'exports']
 */
export function toPlanRow(p: ClerkPlan, now = Date.now()): PlanRow {
  return {
    id: cleanText(p.id),
    slug: cleanText(p.slug),
    name: cleanText(p.name),
    payer_type: cleanOrNull(p.for_payer_type),
    is_default: p.is_default ?? false,
    features: (p.features ?? []).map((f) => cleanText(f.slug)),
    amount: p.fee?.amount ?? null,
    currency: cleanOrNull(p.fee?.currency),
    updated_at: iso(p.updated_at ?? now),
  };
}
