/**
 * @module Realistic Clerk users for the backfill bench: the shape of Clerk's `user.created` example
 * (shared/clerk/webhook-examples/user.created.json) filled in the way a live instance fills it —
 * one to three email addresses, up to two phone numbers, OAuth accounts (ExternalAccountWithVerification
 * in Clerk's Backend API spec) linked to their emails, and public, private and unsafe metadata.
 * Deterministic (seeded by the user's index), so runs compare; about 2.5 KB of JSON per user on average.
 */

type Obj = Record<string, unknown> & { id: string; created_at: number; updated_at: number };

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia', 'Linus'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Perlman'];
const DOMAINS = ['gmail.com', 'outlook.com', 'example.com', 'acme.io', 'proton.me'];
const PLANS = ['free', 'starter', 'pro', 'enterprise'];

/**
 * User `i` of a realistic instance, created at `now` (epoch ms).
 * @example const user = realisticUser(0, Date.UTC(2025, 0, 1)); // user.id === 'user_00000000'
 */
export function realisticUser(i: number, now: number): Obj {
  const r = rng(i + 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const token = (n: number) => {
    let s = '';
    for (let k = 0; k < n; k++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
    return s;
  };
  const clerkId = (prefix: string) => `${prefix}${token(27)}`;
  const id = `user_${String(i).padStart(8, '0')}`;
  const first = pick(FIRST);
  const last = pick(LAST);
  const handle = `${first}.${last}${i}`.toLowerCase();
  const created = now;
  const updated = now + Math.floor(r() * 86_400_000);
  const signedIn = updated - Math.floor(r() * 3_600_000);

  // About half the users signed up with OAuth (a few linked two providers); some added a second or
  // third address and a phone.
  const x = r();
  const oauth = x < 0.08 ? ['google', 'github'] : x < 0.5 ? [pick(['google', 'github'])] : [];
  const y = r();
  const emailCount = Math.max(oauth.length, y < 0.1 ? 3 : y < 0.4 ? 2 : 1);
  const z = r();
  const phoneCount = z < 0.08 ? 2 : z < 0.45 ? 1 : 0;
  const emails = Array.from({ length: emailCount }, (_, e) => ({
    id: clerkId('idn_'),
    object: 'email_address',
    email_address: e === 0 ? `${handle}@${pick(DOMAINS)}` : `${handle}+${e}@${pick(DOMAINS)}`,
    reserved: false,
    verification: {
      object: 'verification_email_code',
      status: 'verified',
      strategy: e < oauth.length ? `from_oauth_${oauth[e]}` : 'email_code',
      attempts: 1,
      expire_at: created + 600_000,
    },
    linked_to: [] as { type: string; id: string }[],
    matches_sso_connection: false,
    created_at: created,
    updated_at: updated,
  }));
  const phones = Array.from({ length: phoneCount }, (_, p) => ({
    id: clerkId('idn_'),
    object: 'phone_number',
    phone_number: `+1555${String(Math.floor(r() * 1e7)).padStart(7, '0')}`,
    reserved_for_second_factor: p === 0,
    default_second_factor: p === 0,
    reserved: false,
    verification: {
      object: 'verification_otp',
      status: 'verified',
      strategy: 'phone_code',
      attempts: 1,
      expire_at: created + 600_000,
    },
    linked_to: [],
    backup_codes: null,
    created_at: created,
    updated_at: updated,
  }));
  const externalAccounts = oauth.map((provider, a) => {
    const email = emails[a] as (typeof emails)[number];
    const accountId = clerkId('eac_');
    email.linked_to.push({ type: `oauth_${provider}`, id: accountId });
    return {
      object: 'external_account',
      id: accountId,
      provider: `oauth_${provider}`,
      identification_id: email.id,
      provider_user_id: String(Math.floor(r() * 1e15)),
      approved_scopes: 'email https://www.googleapis.com/auth/userinfo.email openid profile',
      email_address: email.email_address,
      email_address_verified: true,
      first_name: first,
      last_name: last,
      image_url: `https://img.clerk.com/${token(32)}`,
      username: provider === 'github' ? handle : null,
      phone_number: null,
      public_metadata: {},
      label: null,
      created_at: created,
      updated_at: updated,
      verification: {
        object: 'verification_oauth',
        status: 'verified',
        strategy: `oauth_${provider}`,
        attempts: null,
        expire_at: created + 600_000,
      },
    };
  });
  const primaryPhone = phones[0]?.id ?? null;
  return {
    object: 'user',
    id,
    external_id: r() < 0.3 ? `crm-${Math.floor(r() * 1e9)}` : null,
    primary_email_address_id: (emails[0] as { id: string }).id,
    primary_phone_number_id: primaryPhone,
    primary_web3_wallet_id: null,
    username: r() < 0.5 ? handle : null,
    first_name: first,
    last_name: last,
    profile_image_url: `https://img.clerk.com/${token(32)}`,
    image_url: `https://img.clerk.com/${token(32)}`,
    has_image: true,
    public_metadata: {
      plan: pick(PLANS),
      role: pick(['member', 'admin', 'owner']),
      onboarded: r() < 0.8,
      team_size: 1 + Math.floor(r() * 50),
    },
    private_metadata: {
      stripe_customer_id: `cus_${token(14)}`,
      risk_score: Math.round(r() * 100) / 100,
    },
    unsafe_metadata: { theme: pick(['light', 'dark', 'system']), locale: pick(['en-US', 'de-DE', 'fr-FR']) },
    email_addresses: emails,
    phone_numbers: phones,
    web3_wallets: [],
    passkeys: [],
    password_enabled: oauth.length === 0 || r() < 0.3,
    two_factor_enabled: primaryPhone !== null,
    totp_enabled: false,
    backup_code_enabled: false,
    mfa_enabled_at: primaryPhone === null ? null : created,
    mfa_disabled_at: null,
    external_accounts: externalAccounts,
    saml_accounts: [],
    enterprise_accounts: [],
    last_sign_in_at: signedIn,
    banned: false,
    locked: false,
    lockout_expires_in_seconds: null,
    verification_attempts_remaining: 100,
    updated_at: updated,
    created_at: created,
    delete_self_enabled: true,
    create_organization_enabled: true,
    create_organizations_limit: null,
    last_active_at: signedIn,
    legal_accepted_at: created,
  };
}

/**
 * `count` realistic users, created one millisecond apart from `start` (the stand-in's ids and order).
 * @example const users = realisticUsers(10_000);
 */
export function realisticUsers(count: number, start = Date.UTC(2025, 0, 1)): Obj[] {
  return Array.from({ length: count }, (_, i) => realisticUser(i, start + i));
}

/** Mean JSON bytes per user, and the mean count of emails, phones and OAuth accounts. */
export function describeUsers(users: readonly Obj[]): {
  meanBytes: number;
  emails: number;
  phones: number;
  externalAccounts: number;
} {
  let bytes = 0;
  let emails = 0;
  let phones = 0;
  let accounts = 0;
  for (const u of users) {
    bytes += Buffer.byteLength(JSON.stringify(u));
    emails += (u.email_addresses as unknown[]).length;
    phones += (u.phone_numbers as unknown[]).length;
    accounts += (u.external_accounts as unknown[]).length;
  }
  const n = Math.max(1, users.length);
  return { meanBytes: bytes / n, emails: emails / n, phones: phones / n, externalAccounts: accounts / n };
}
