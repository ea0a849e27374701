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

/** `user.deleted` / `organization.deleted` carry only the id (+ `external_id` / `slug`). */
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
