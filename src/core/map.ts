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
import type { ClerkDeletedMembership, ClerkMembership, ClerkOrganization, ClerkUser } from './events.ts';
import type { Json, JsonObject, MembershipRow, OrganizationRow, UserRow } from './rows.ts';

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
    role: cleanText(m.role),
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
