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
