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

/** Who pays, as the billing rows store it: the user or the organization (the other one null). */
export interface Payer {
  payer_id: string | null;
  user_id: string | null;
  organization_id: string | null;
}

export interface SubscriptionItemRow extends Payer {
  id: string;
  /** Null from `GET /billing/subscription_items` (which does not say): a stored one is kept. */
  subscription_id: string | null;
  plan_id: string | null;
  plan_slug: string | null;
  /** `active`, `canceled`, `ended`, `past_due`, `upcoming`, `incomplete`, `abandoned`, … as Clerk sends it. */
  status: string;
  is_free_trial: boolean;
  period_start: string | null;
  /** Null for a default (free) plan's item: it does not end. */
  period_end: string | null;
  canceled_at: string | null;
  ended_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface SubscriptionRow extends Payer {
  id: string;
  status: string;
  active_at: string | null;
  past_due_at: string | null;
  canceled_at: string | null;
  ended_at: string | null;
  created_at: string;
  updated_at: string;
  /** The subscription's items (→ billing_subscription_items, each newest-wins on its own). */
  items: SubscriptionItemRow[];
}

/** No card, gateway or payer details. */
export interface PaymentAttemptRow extends Payer {
  id: string;
  /** `pending`, `paid`, `failed`. */
  status: string;
  /** The grand total, in the currency's smallest unit. */
  amount: number | null;
  currency: string | null;
  paid_at: string | null;
  failed_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface PlanRow {
  id: string;
  slug: string;
  name: string;
  /** `user` or `org`. */
  payer_type: string | null;
  is_default: boolean;
  /** The slugs of the plan's features. */
  features: string[];
  amount: number | null;
  currency: string | null;
  /** Clerk's plans carry no timestamp: when the backfill read it (the latest read wins). */
  updated_at: string;
}
