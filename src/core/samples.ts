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
  /** The user a user or membership event is about. */
  userId?: string;
  /** The organization an organization or membership event is about. */
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
} satisfies Builders;

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
