/**
 * @module The row shapes the SQL sync functions take (`clerk_sync.write_*` in supabase/migrations/).
 * Timestamps are ISO 8601 strings; `private_metadata` goes to service-only storage, never to a
 * table an app role can read.
 */

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface UserRow {
  id: string;
  username: string | null;
  first_name: string | null;
  last_name: string | null;
  image_url: string | null;
  /** The primary email, picked by `primary_email_address_id`. */
  email: string | null;
  /** The primary phone, picked by `primary_phone_number_id`. */
  phone: string | null;
  external_id: string | null;
  public_metadata: JsonObject;
  unsafe_metadata: JsonObject;
  private_metadata: JsonObject;
  last_sign_in_at: string | null;
  banned: boolean;
  locked: boolean;
  created_at: string;
  updated_at: string;
  /** The rest of the Clerk user object, minus `private_metadata`. */
  attrs: JsonObject;
}

export interface OrganizationRow {
  id: string;
  name: string;
  slug: string | null;
  image_url: string | null;
  public_metadata: JsonObject;
  private_metadata: JsonObject;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  /** The rest of the Clerk organization object, minus `private_metadata`. */
  attrs: JsonObject;
}

export interface MembershipRow {
  id: string;
  organization_id: string;
  user_id: string;
  role: string;
  permissions: string[];
  public_metadata: JsonObject;
  private_metadata: JsonObject;
  created_at: string;
  updated_at: string;
}

export interface RoleRow {
  id: string;
  /** Always `org:`-prefixed. */
  key: string;
  name: string;
  description: string | null;
  is_creator_eligible: boolean | null;
  /** The permissions the role grants (→ organization_role_permissions). */
  permissions: { id: string; key: string }[];
  created_at: string;
  updated_at: string;
}

export interface PermissionRow {
  id: string;
  key: string;
  name: string;
  description: string | null;
  type: string | null;
  created_at: string;
  updated_at: string;
}

export interface InvitationRow {
  id: string;
  organization_id: string;
  email_address: string;
  /** Always `org:`-prefixed. */
  role: string;
  /** `pending`, `accepted`, `revoked` as Clerk sends it (the view reads `expired` past `expires_at`). */
  status: string;
  user_id: string | null;
  public_metadata: JsonObject;
  private_metadata: JsonObject;
  /** Holds the invitation token: stored where only the service role reads it. */
  url: string | null;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface DomainRow {
  id: string;
  organization_id: string;
  name: string;
  enrollment_mode: string | null;
  verified: boolean;
  affiliation_email_address: string | null;
  created_at: string;
  updated_at: string;
}
