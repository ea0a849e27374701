/**
 * @module Clerk JSON (already validated by `events.ts`) → the rows the SQL sync functions take.
 */
import type { ClerkMembership, ClerkOrganization, ClerkUser } from './events.ts';
import type { JsonObject, MembershipRow, OrganizationRow, UserRow } from './rows.ts';

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null | undefined): string | null => (ms == null ? null : iso(ms));

/**
 * The fields of `object` not in `columns`, in their order. A loop instead of `...rest`: zod's
 * output objects are in dictionary mode, where V8's rest copy is ~5× slower (4 of 5 ms per page
 * of 500 users, most of the mapping in a backfill).
 */
function rest(object: Record<string, unknown>, columns: ReadonlySet<string>): JsonObject {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(object)) if (!columns.has(key)) out[key] = object[key];
  return out as JsonObject;
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
    id,
    username: username ?? null,
    first_name: first_name ?? null,
    last_name: last_name ?? null,
    image_url: image_url ?? user.profile_image_url ?? null,
    email: email?.email_address ?? null,
    phone: phone?.phone_number ?? null,
    external_id: external_id ?? null,
    public_metadata: public_metadata ?? {},
    unsafe_metadata: unsafe_metadata ?? {},
    private_metadata: private_metadata ?? {},
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
    id,
    name,
    slug: slug ?? null,
    image_url: image_url ?? null,
    public_metadata: public_metadata ?? {},
    private_metadata: private_metadata ?? {},
    created_by: created_by ?? null,
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
    id: m.id,
    organization_id: m.organization.id,
    user_id: m.public_user_data.user_id,
    role: m.role,
    permissions: m.permissions ?? [],
    public_metadata: m.public_metadata ?? {},
    private_metadata: m.private_metadata ?? {},
    created_at: iso(m.created_at),
    updated_at: iso(m.updated_at),
  };
}
