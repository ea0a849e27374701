/**
 * @module Zod schemas of the Clerk webhook envelope and of the objects we mirror (the event types are
 * derived from them in `kinds.ts`).
 *
 * Lenient where Clerk is (nullable names, unknown fields kept, `verification` in several
 * shapes), strict where a wrong row would follow (ids, epoch-ms timestamps). Unknown fields are
 * kept as JSON (`catchall(z.json())`, a typed `looseObject`) so they can land in `attrs`.
 */
import * as z from 'zod';

const id = z.string().min(1);
/**
 * Clerk object timestamps: integer epoch milliseconds. Any integer passes; the mapping clamps or
 * nulls those outside what it stores (src/core/map.ts), so an impossible time never fails an event.
 */
const epochMs = z.int();
/** The largest time a JS Date holds; beyond it `toISOString()` throws. */
const MAX_EPOCH_MS = 8.64e15;
/**
 * Every payload comes from JSON.parse, so whatever it holds is JSON already: metadata, verification
 * objects and unknown fields are checked for their shape (an object, an array) and typed as JSON, not
 * re-validated recursively — walking them with `z.json()` was most of the cost of validating a user.
 */
const jsonObject = z.record(z.string(), z.unknown()) as unknown as z.ZodRecord<z.ZodString, z.ZodJSONSchema>;
const jsonArray = z.array(z.unknown()) as unknown as z.ZodArray<z.ZodJSONSchema>;
/** Unknown fields pass through, typed as JSON (see above). */
const loose = <S extends z.core.$ZodLooseShape>(shape: S) =>
  z.looseObject(shape) as unknown as z.ZodObject<S, z.core.$catchall<z.ZodJSONSchema>>;

// Clerk sends an object, but older payloads and some strategies send null or an array.
const verification = z.union([jsonObject, jsonArray, z.null()]).optional();

export const emailAddressSchema = loose({ id, email_address: z.string(), verification });
export const phoneNumberSchema = loose({ id, phone_number: z.string(), verification });

export const userSchema = loose({
  object: z.literal('user'),
  id,
  external_id: z.string().nullish(),
  username: z.string().nullish(),
  first_name: z.string().nullish(),
  last_name: z.string().nullish(),
  image_url: z.string().nullish(),
  profile_image_url: z.string().nullish(),
  primary_email_address_id: z.string().nullish(),
  primary_phone_number_id: z.string().nullish(),
  email_addresses: z.array(emailAddressSchema).optional(),
  phone_numbers: z.array(phoneNumberSchema).optional(),
  public_metadata: jsonObject.nullish(),
  unsafe_metadata: jsonObject.nullish(),
  private_metadata: jsonObject.nullish(),
  last_sign_in_at: epochMs.nullish(),
  banned: z.boolean().optional(),
  locked: z.boolean().optional(),
  created_at: epochMs,
  updated_at: epochMs,
});

export const organizationSchema = loose({
  object: z.literal('organization'),
  id,
  name: z.string(),
  slug: z.string().nullish(),
  image_url: z.string().nullish(),
  public_metadata: jsonObject.nullish(),
  private_metadata: jsonObject.nullish(),
  created_by: z.string().nullish(),
  created_at: epochMs,
  updated_at: epochMs,
});

export const membershipSchema = loose({
  object: z.literal('organization_membership'),
  id,
  role: z.string(),
  permissions: z.array(z.string()).nullish(),
  public_metadata: jsonObject.nullish(),
  private_metadata: jsonObject.nullish(),
  organization: loose({ id }),
  public_user_data: loose({ user_id: id }),
  created_at: epochMs,
  updated_at: epochMs,
});

/** A role as Clerk sends it; `key` may lack the `org:` prefix (`"editor"`), the mapper adds it. */
export const roleSchema = loose({
  object: z.literal('role'),
  id,
  key: z.string().min(1),
  name: z.string(),
  description: z.string().nullish(),
  is_creator_eligible: z.boolean().nullish(),
  permissions: z.array(loose({ id, key: z.string().min(1) })).nullish(),
  created_at: epochMs,
  updated_at: epochMs,
});

export const permissionSchema = loose({
  object: z.literal('permission'),
  id,
  key: z.string().min(1),
  name: z.string(),
  description: z.string().nullish(),
  type: z.string().nullish(),
  created_at: epochMs,
  updated_at: epochMs,
});

/** Accepted and revoked invitations are states (`status`), not deletes. */
export const invitationSchema = loose({
  object: z.literal('organization_invitation'),
  id,
  email_address: z.string(),
  role: z.string().min(1),
  organization_id: id,
  status: z.string().min(1),
  user_id: z.string().nullish(),
  public_metadata: jsonObject.nullish(),
  private_metadata: jsonObject.nullish(),
  url: z.string().nullish(),
  expires_at: epochMs.nullish(),
  created_at: epochMs,
  updated_at: epochMs,
});

export const domainSchema = loose({
  object: z.literal('organization_domain'),
  id,
  organization_id: id,
  name: z.string(),
  enrollment_mode: z.string().nullish(),
  affiliation_email_address: z.string().nullish(),
  // `{ status: 'verified', … }` once verified; null before.
  verification: z.union([loose({ status: z.string().nullish() }), z.null()]).optional(),
  created_at: epochMs,
  updated_at: epochMs,
});

/**
 * A Clerk Billing payer as webhooks and the Backend API send it: a user or an organization, the
 * other id `""` (webhooks) or null (Backend API). Its name, email and image are not kept.
 */
const payerSchema = loose({
  id: z.string().nullish(),
  user_id: z.string().nullish(),
  organization_id: z.string().nullish(),
});

/** The plan embedded in a subscription item (its slug is what entitlements compare). */
const itemPlanSchema = loose({ id: z.string().nullish(), slug: z.string().nullish() });

/**
 * A subscription item: as a `subscriptionItem.*` event (`payer`, `subscription_id`), inside a
 * `subscription.*` event's `items` (neither: they come from the subscription) and from
 * `GET /billing/subscription_items` (`payer_id`, `canceled_at`, `ended_at`; no `subscription_id`).
 * `object` differs between them (`subscription_item`, `commerce_subscription_item`): not checked.
 */
export const subscriptionItemSchema = loose({
  id,
  status: z.string().min(1),
  is_free_trial: z.boolean().nullish(),
  period_start: epochMs.nullish(),
  period_end: epochMs.nullish(),
  canceled_at: epochMs.nullish(),
  ended_at: epochMs.nullish(),
  plan_id: z.string().nullish(),
  plan: itemPlanSchema.nullish(),
  payer_id: z.string().nullish(),
  payer: payerSchema.nullish(),
  subscription_id: z.string().nullish(),
  created_at: epochMs,
  updated_at: epochMs,
});

/** A subscription (`subscription.*`), with the items that make it up. */
export const subscriptionSchema = loose({
  object: z.literal('commerce_subscription'),
  id,
  status: z.string().min(1),
  payer_id: z.string().nullish(),
  payer: payerSchema.nullish(),
  active_at: epochMs.nullish(),
  past_due_at: epochMs.nullish(),
  canceled_at: epochMs.nullish(),
  ended_at: epochMs.nullish(),
  items: z.array(subscriptionItemSchema).nullish(),
  created_at: epochMs,
  updated_at: epochMs,
});

const billingAmount = loose({ amount: z.number().nullish(), currency: z.string().nullish() });

/**
 * A payment attempt (`paymentAttempt.*`). Its card, gateway and payer details are not kept; its
 * `subscription_items` carry no `updated_at`, so they are not read at all.
 */
export const paymentAttemptSchema = loose({
  id,
  status: z.string().min(1),
  payer: payerSchema.nullish(),
  totals: loose({ grand_total: billingAmount.nullish() }).nullish(),
  paid_at: epochMs.nullish(),
  failed_at: epochMs.nullish(),
  created_at: epochMs,
  updated_at: epochMs,
});

/**
 * A plan from `GET /billing/plans` (no webhooks). Clerk's plan carries no timestamps; when it does
 * (`updated_at`), that is used.
 */
export const planSchema = loose({
  object: z.literal('commerce_plan').optional(),
  id,
  slug: z.string().min(1),
  name: z.string(),
  for_payer_type: z.string().nullish(),
  is_default: z.boolean().nullish(),
  fee: billingAmount.nullish(),
  features: z.array(loose({ slug: z.string().min(1) })).nullish(),
  updated_at: epochMs.nullish(),
});

/**
 * `organizationMembership.deleted`: a delete needs only the id (Clerk's spec requires no more); the
 * organization and user, when present, are checked like a membership's.
 */
export const deletedMembershipSchema = loose({
  object: z.literal('organization_membership'),
  id,
  organization: loose({ id }).nullish(),
  public_user_data: loose({ user_id: id }).nullish(),
});

/** `user.deleted` / `organization.deleted` (and role, permission, domain deletes) carry only the id (+ `external_id` / `slug`). */
const deletedSchema = <O extends string>(object: O) =>
  loose({
    object: z.literal(object),
    id,
    deleted: z.boolean().optional(),
    external_id: z.string().nullish(),
    slug: z.string().nullish(),
  });
export const deletedUserSchema = deletedSchema('user');
export const deletedOrganizationSchema = deletedSchema('organization');
export const deletedRoleSchema = deletedSchema('role');
export const deletedPermissionSchema = deletedSchema('permission');
export const deletedDomainSchema = deletedSchema('organization_domain');

/**
 * Real deliveries use epoch ms; Clerk's OpenAPI examples use seconds. It only breaks ties between
 * versions with the same `updated_at`, so it never fails an event: missing, not a number or out of
 * range, it is null.
 */
const eventTimestamp = z
  .unknown()
  .optional()
  .transform((t): number | null => {
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) return null;
    const ms = Math.round(t < 1e12 ? t * 1000 : t);
    return ms <= MAX_EPOCH_MS ? ms : null;
  });

/** Any Clerk event, mirrored or not. `data` is checked per type. */
export const envelopeSchema = loose({
  object: z.literal('event'),
  type: z.string().min(1),
  timestamp: eventTimestamp,
  instance_id: z.string().optional(),
  event_attributes: jsonObject.optional(),
  data: z.unknown() as unknown as z.ZodJSONSchema,
});

export type ClerkUser = z.infer<typeof userSchema>;
export type ClerkOrganization = z.infer<typeof organizationSchema>;
export type ClerkMembership = z.infer<typeof membershipSchema>;
export type ClerkDeletedMembership = z.infer<typeof deletedMembershipSchema>;
export type ClerkRole = z.infer<typeof roleSchema>;
export type ClerkPermission = z.infer<typeof permissionSchema>;
export type ClerkInvitation = z.infer<typeof invitationSchema>;
export type ClerkDomain = z.infer<typeof domainSchema>;
export type ClerkSubscription = z.infer<typeof subscriptionSchema>;
export type ClerkSubscriptionItem = z.infer<typeof subscriptionItemSchema>;
export type ClerkPaymentAttempt = z.infer<typeof paymentAttemptSchema>;
export type ClerkPlan = z.infer<typeof planSchema>;
