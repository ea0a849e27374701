/**
 * @module Realistic sample payloads of the mirrored event types, modelled on Clerk's webhook
 * examples, with fresh ids. Used by `clerk-sync send-test-event` and by tests.
 */
import { EVENT_ROUTES, type EventDataInput, type MirroredEventType } from './kinds.ts';
import type { JsonObject } from './rows.ts';

export interface SampleEnvelope {
  object: 'event';
  timestamp: number;
  instance_id: string;
  event_attributes: JsonObject;
}

export type SampleEvent<K extends MirroredEventType> = SampleEnvelope & {
  type: K;
  data: EventDataInput<K>;
};

export interface SampleOptions {
  /** Id of the event's object (default: a fresh `user_…`, `org_…` or `orgmem_…`). */
  id?: string;
  /** Epoch ms for `timestamp`, `created_at` and `updated_at` (default: `Date.now()`). */
  now?: number;
  /** The user a user or membership event is about (and a billing event's payer). */
  userId?: string;
  /** The organization an organization, membership, invitation or domain event is about. */
  orgId?: string;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `prefix` + 27 base62 characters, the shape of Clerk ids. */
function randomId(prefix: string): string {
  let out = '';
  while (out.length < 27) {
    for (const byte of crypto.getRandomValues(new Uint8Array(32))) {
      // 248 = 4 × 62: dropping larger bytes keeps every character equally likely.
      if (byte < 248 && out.length < 27) out += BASE62.charAt(byte % 62);
    }
  }
  return prefix + out;
}

interface Ctx {
  now: number;
  userId: string;
  orgId: string;
  membershipId: string;
  /** The id of a role, permission, invitation or domain event's object. */
  objectId: string;
}

const IMAGE_URL = 'https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCJ9';
const emailOf = (userId: string) => `sample+${userId.slice(-8).toLowerCase()}@example.com`;

function user({ now, userId }: Ctx): EventDataInput<'user.created'> {
  const emailId = randomId('idn_');
  const phoneId = randomId('idn_');
  return {
    object: 'user',
    id: userId,
    external_id: null,
    primary_email_address_id: emailId,
    primary_phone_number_id: phoneId,
    primary_web3_wallet_id: null,
    username: null,
    first_name: 'Sample',
    last_name: 'User',
    profile_image_url: IMAGE_URL,
    image_url: IMAGE_URL,
    has_image: false,
    public_metadata: {},
    private_metadata: {},
    unsafe_metadata: {},
    email_addresses: [
      {
        id: emailId,
        object: 'email_address',
        email_address: emailOf(userId),
        reserved: false,
        verification: {
          object: 'verification_otp',
          status: 'verified',
          strategy: 'email_code',
          attempts: 1,
          expire_at: now + 600_000,
        },
        linked_to: [],
        created_at: now,
        updated_at: now,
      },
    ],
    phone_numbers: [
      {
        id: phoneId,
        object: 'phone_number',
        phone_number: '+15555550100',
        reserved_for_second_factor: false,
        default_second_factor: false,
        reserved: false,
        verification: {
          object: 'verification_otp',
          status: 'verified',
          strategy: 'phone_code',
          attempts: 1,
          expire_at: now + 600_000,
        },
        linked_to: [],
        backup_codes: null,
        created_at: now,
        updated_at: now,
      },
    ],
    web3_wallets: [],
    passkeys: [],
    password_enabled: false,
    two_factor_enabled: false,
    totp_enabled: false,
    backup_code_enabled: false,
    mfa_enabled_at: null,
    mfa_disabled_at: null,
    external_accounts: [],
    saml_accounts: [],
    enterprise_accounts: [],
    last_sign_in_at: null,
    banned: false,
    locked: false,
    lockout_expires_in_seconds: null,
    verification_attempts_remaining: null,
    created_at: now,
    updated_at: now,
    delete_self_enabled: true,
    create_organization_enabled: true,
    create_organizations_limit: null,
    last_active_at: null,
    legal_accepted_at: null,
  };
}

function organization({ now, userId, orgId }: Ctx): EventDataInput<'organization.created'> {
  return {
    object: 'organization',
    id: orgId,
    name: 'Sample Org',
    slug: `sample-org-${orgId.slice(-8).toLowerCase()}`,
    image_url: IMAGE_URL,
    has_image: false,
    members_count: 1,
    missing_member_with_elevated_permissions: false,
    pending_invitations_count: 0,
    max_allowed_memberships: 5,
    admin_delete_enabled: true,
    public_metadata: {},
    private_metadata: {},
    created_by: userId,
    created_at: now,
    updated_at: now,
  };
}

function membership(ctx: Ctx): EventDataInput<'organizationMembership.created'> {
  return {
    object: 'organization_membership',
    id: ctx.membershipId,
    role: 'org:member',
    role_name: 'Member',
    permissions: ['org:sys_memberships:read'],
    public_metadata: {},
    private_metadata: {},
    organization: organization(ctx),
    public_user_data: {
      user_id: ctx.userId,
      first_name: 'Sample',
      last_name: 'User',
      profile_image_url: IMAGE_URL,
      image_url: IMAGE_URL,
      has_image: false,
      identifier: emailOf(ctx.userId),
    },
    created_at: ctx.now,
    updated_at: ctx.now,
  };
}

function role(ctx: Ctx): EventDataInput<'role.created'> {
  return {
    object: 'role',
    id: ctx.objectId,
    name: 'Editor',
    key: 'org:editor',
    description: 'Can edit and publish content',
    is_creator_eligible: false,
    permissions: [permission({ ...ctx, objectId: 'perm_sample_posts_edit' })],
    created_at: ctx.now,
    updated_at: ctx.now,
  };
}

function permission({ now, objectId }: Ctx): EventDataInput<'permission.created'> {
  return {
    object: 'permission',
    id: objectId,
    name: 'Edit Posts',
    key: 'org:posts:edit',
    description: 'Ability to edit posts in the organization',
    type: 'custom',
    created_at: now,
    updated_at: now,
  };
}

const invitation =
  (status: 'pending' | 'accepted' | 'revoked') =>
  ({ now, objectId, orgId, userId }: Ctx): EventDataInput<'organizationInvitation.created'> => ({
    object: 'organization_invitation',
    id: objectId,
    email_address: emailOf(userId),
    role: 'org:member',
    role_name: 'Member',
    organization_id: orgId,
    status,
    public_metadata: {},
    private_metadata: {},
    url: `https://accounts.example.com/accept-invitation?token=${objectId.slice(-8)}`,
    ...(status === 'accepted' ? { user_id: userId } : {}),
    expires_at: now + 7 * 86_400_000,
    created_at: now,
    updated_at: now,
  });

function domain({ now, objectId, orgId }: Ctx): EventDataInput<'organizationDomain.created'> {
  return {
    object: 'organization_domain',
    id: objectId,
    organization_id: orgId,
    name: 'example.com',
    enrollment_mode: 'automatic_invitation',
    affiliation_email_address: 'admin@example.com',
    verification: null,
    total_pending_invitations: 0,
    total_pending_suggestions: 0,
    created_at: now,
    updated_at: now,
  };
}

const deleted =
  <O extends 'role' | 'permission' | 'organization_domain'>(object: O) =>
  ({ objectId }: Ctx) => ({ object, id: objectId, deleted: true });

/** A user payer (Clerk sends the other id as `""`); its name and email are sample values. */
const payer = ({ now, userId }: Ctx) => ({
  object: 'commerce_payer',
  id: `cpayer_${userId.slice(-27)}`,
  user_id: userId,
  organization_id: '',
  organization_name: '',
  first_name: 'Sample',
  last_name: 'Payer',
  email: emailOf(userId),
  image_url: IMAGE_URL,
  created_at: now,
  updated_at: now,
});
const MONTH_MS = 30 * 86_400_000;
const plan = {
  id: 'cplan_sample_pro',
  slug: 'pro',
  name: 'Pro',
  is_recurring: true,
  amount: 2000,
  currency: 'USD',
};

const subscriptionItem =
  (status: string, trial = false) =>
  (ctx: Ctx): EventDataInput<'subscriptionItem.updated'> => ({
    object: 'commerce_subscription_item',
    id: ctx.objectId,
    status,
    is_free_trial: trial,
    period_start: ctx.now,
    period_end: ctx.now + MONTH_MS,
    interval: 'month',
    plan_id: plan.id,
    plan,
    payer: payer(ctx),
    subscription_id: `csub_${ctx.objectId.slice(-27)}`,
    created_at: ctx.now,
    updated_at: ctx.now,
  });

const subscription =
  (status: string) =>
  (ctx: Ctx): EventDataInput<'subscription.updated'> => {
    const p = payer(ctx);
    const item = subscriptionItem(status, false)(ctx);
    return {
      object: 'commerce_subscription',
      id: ctx.objectId,
      status,
      payer_id: p.id,
      payer: p,
      active_at: ctx.now,
      past_due_at: status === 'past_due' ? ctx.now : null,
      canceled_at: null,
      ended_at: null,
      latest_payment_id: null,
      payment_source_id: null,
      // Clerk's nested items carry neither payer nor subscription id.
      items: [{ ...item, id: `csub_item_${ctx.objectId.slice(-27)}`, payer: null, subscription_id: null }],
      created_at: ctx.now,
      updated_at: ctx.now,
    };
  };

const paymentAttempt =
  (status: 'pending' | 'paid' | 'failed') =>
  (ctx: Ctx): EventDataInput<'paymentAttempt.updated'> => ({
    id: ctx.objectId,
    payment_id: `cpa_${ctx.objectId.slice(-27)}`,
    status,
    charge_type: 'recurring',
    payer: payer(ctx),
    totals: {
      grand_total: { amount: 2000, amount_formatted: '$20.00', currency: 'USD', currency_symbol: '$' },
    },
    paid_at: status === 'paid' ? ctx.now : null,
    failed_at: status === 'failed' ? ctx.now : null,
    failed_reason: null,
    created_at: ctx.now,
    updated_at: ctx.now,
  });

type Builders = { [K in MirroredEventType]: (ctx: Ctx) => EventDataInput<K> };

const builders = {
  'user.created': user,
  'user.updated': user,
  'user.deleted': ({ userId }) => ({ object: 'user', id: userId, deleted: true }),
  'organization.created': organization,
  'organization.updated': organization,
  'organization.deleted': ({ orgId }) => ({
    object: 'organization',
    id: orgId,
    slug: `sample-org-${orgId.slice(-8).toLowerCase()}`,
    deleted: true,
  }),
  'organizationMembership.created': membership,
  'organizationMembership.updated': membership,
  'organizationMembership.deleted': membership,
  'role.created': role,
  'role.updated': role,
  'role.deleted': deleted('role'),
  'permission.created': permission,
  'permission.updated': permission,
  'permission.deleted': deleted('permission'),
  'organizationInvitation.created': invitation('pending'),
  'organizationInvitation.accepted': invitation('accepted'),
  'organizationInvitation.revoked': invitation('revoked'),
  'organizationDomain.created': domain,
  'organizationDomain.updated': domain,
  'organizationDomain.deleted': deleted('organization_domain'),
  'subscription.created': subscription('active'),
  'subscription.updated': subscription('active'),
  'subscription.active': subscription('active'),
  'subscription.pastDue': subscription('past_due'),
  'subscriptionItem.updated': subscriptionItem('active'),
  'subscriptionItem.active': subscriptionItem('active'),
  'subscriptionItem.canceled': subscriptionItem('canceled'),
  'subscriptionItem.upcoming': subscriptionItem('upcoming'),
  'subscriptionItem.ended': subscriptionItem('ended'),
  'subscriptionItem.abandoned': subscriptionItem('abandoned'),
  'subscriptionItem.incomplete': subscriptionItem('incomplete'),
  'subscriptionItem.pastDue': subscriptionItem('past_due'),
  'subscriptionItem.freeTrialEnding': subscriptionItem('active', true),
  'paymentAttempt.created': paymentAttempt('pending'),
  'paymentAttempt.updated': paymentAttempt('paid'),
} satisfies Builders;

/** The id prefix of each kind's objects, as Clerk makes them. */
const ID_PREFIX: Record<string, string> = {
  role: 'role_',
  permission: 'perm_',
  invitation: 'orginv_',
  domain: 'orgdmn_',
  subscription: 'csub_',
  subscriptionItem: 'csub_item_',
  paymentAttempt: 'pa_',
};

/**
 * A realistic payload of `type` with fresh random ids; `opts.id` fixes the id of the event's object.
 *
 * @example
 * const event = sampleEvent('user.created', { now: Date.UTC(2026, 0, 1) });
 * interpret(event); // { kind: 'apply', op: 'upsert', objectKind: 'user', objectId: event.data.id, … }
 */
export function sampleEvent<K extends MirroredEventType>(type: K, opts: SampleOptions = {}): SampleEvent<K> {
  const kind = EVENT_ROUTES.get(type)?.kind;
  const ctx: Ctx = {
    now: opts.now ?? Date.now(),
    userId: (kind === 'user' ? opts.id : undefined) ?? opts.userId ?? randomId('user_'),
    orgId: (kind === 'organization' ? opts.id : undefined) ?? opts.orgId ?? randomId('org_'),
    membershipId: (kind === 'membership' ? opts.id : undefined) ?? randomId('orgmem_'),
    objectId: opts.id ?? randomId(ID_PREFIX[kind ?? ''] ?? 'obj_'),
  };
  const build: Builders[K] = builders[type];
  return {
    object: 'event',
    type,
    timestamp: ctx.now,
    instance_id: randomId('ins_'),
    event_attributes: {
      http_request: { client_ip: '192.0.2.1', user_agent: 'clerk-sync send-test-event' },
    },
    data: build(ctx),
  };
}
