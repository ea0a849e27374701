/**
 * @module The webhook workload: a realistic mix of Clerk user, organization and membership events
 * (~3 KB on average, built on `sampleEvent` with the fields real deliveries carry: an OAuth account,
 * metadata, sign-in times), with unique ids per phase, plus a seeded pool of existing objects that
 * the `*.updated` and membership events refer to.
 */
import type { ClerkMembership, ClerkOrganization, ClerkUser } from '../../src/core/events.ts';
import type { KindName, MirroredEventType } from '../../src/core/kinds.ts';
import { toMembershipRow, toOrganizationRow, toUserRow } from '../../src/core/map.ts';
import { sampleEvent } from '../../src/core/samples.ts';

/** Share of each event type in the stream, in percent. */
export const MIX: readonly (readonly [MirroredEventType, number])[] = [
  ['user.created', 30],
  ['user.updated', 30],
  ['organization.created', 5],
  ['organization.updated', 5],
  ['organizationMembership.created', 25],
  ['organizationMembership.updated', 5],
];

/** Objects that exist before the load starts (updates and memberships point at them). */
export const SEED = { users: 2_000, organizations: 200, memberships: 2_000 } as const;

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const seedUserId = (k: number) => `user_seed${pad(k, 23)}`;
const seedOrgId = (k: number) => `org_seed${pad(k, 23)}`;
const seedMembershipId = (k: number) => `orgmem_seed${pad(k, 23)}`;
const seedMembershipPair = (k: number) => ({
  userId: seedUserId(k % SEED.users),
  orgId: seedOrgId(k % SEED.organizations),
});

/** mulberry32: a small deterministic PRNG, so every variant of a phase sees the same stream. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const hash = (s: string) =>
  [...s].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16_777_619), 2_166_136_261);

const UA =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

type Json = Record<string, unknown>;

function enrichUser(data: Json, ts: number, i: number): Json {
  const emails = data.email_addresses as Json[];
  const primary = emails[0] as Json;
  const email = primary.email_address as string;
  return {
    ...data,
    // A second, verified address (work email), as many accounts have.
    email_addresses: [
      ...emails,
      {
        ...primary,
        id: `idn_w${pad(i, 26)}`,
        email_address: `ada.lovelace${i}@work.example.com`,
        linked_to: [{ type: 'oauth_google', id: `idn_g${pad(i, 26)}` }],
      },
    ],
    first_name: `Ada${i % 997}`,
    last_name: `Lovelace${i % 991}`,
    username: null,
    public_metadata: {
      plan: i % 3 === 0 ? 'pro' : 'free',
      onboardingComplete: true,
      locale: 'en-US',
      timezone: 'Europe/London',
      roles: ['editor', 'billing'],
    },
    unsafe_metadata: { theme: i % 2 === 0 ? 'dark' : 'light', newsletter: false },
    private_metadata: { stripeCustomerId: `cus_${pad(i, 14)}`, seats: 1 + (i % 5) },
    last_sign_in_at: ts - 60_000,
    last_active_at: ts,
    external_accounts: [
      {
        object: 'google_account',
        id: `idn_g${pad(i, 26)}`,
        provider: 'oauth_google',
        identification_id: `idn_g${pad(i, 26)}`,
        provider_user_id: `1${pad(i, 20)}`,
        approved_scopes:
          'email https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid profile',
        email_address: email,
        first_name: `Ada${i % 997}`,
        last_name: `Lovelace${i % 991}`,
        avatar_url: `https://lh3.googleusercontent.com/a/ACg8ocK${pad(i, 12)}xYz=s1000-c`,
        image_url: `https://img.clerk.com/eyJ0eXBlIjoicHJveHkiLCJzcmMiOiJodHRwczovL2xoMy5nb29nbGV1c2VyY29udGVudC5jb20vYS9${pad(i, 12)}`,
        username: null,
        public_metadata: {},
        label: null,
        verification: {
          status: 'verified',
          strategy: 'oauth_google',
          attempts: null,
          expire_at: ts + 600_000,
        },
        created_at: ts,
        updated_at: ts,
      },
    ],
  };
}

/** The event `i` of a phase, as Clerk would send it. `ts` orders it after every earlier phase. */
function buildEvent(type: MirroredEventType, i: number, tag: string, ts: number, pick: number): Json {
  const fresh = (prefix: string) => `${prefix}_${tag}${pad(i, Math.max(1, 27 - tag.length))}`;
  let event: Json;
  switch (type) {
    case 'user.created':
    case 'user.updated': {
      const id = type === 'user.created' ? fresh('user') : seedUserId(pick % SEED.users);
      const e = sampleEvent(type, { id, now: ts }) as unknown as Json;
      event = { ...e, data: enrichUser(e.data as Json, ts, i) };
      break;
    }
    case 'organization.created':
    case 'organization.updated': {
      const id = type === 'organization.created' ? fresh('org') : seedOrgId(pick % SEED.organizations);
      const e = sampleEvent(type, { id, now: ts, userId: seedUserId(pick % SEED.users) }) as unknown as Json;
      event = {
        ...e,
        data: {
          ...(e.data as Json),
          name: `Acme ${i}`,
          public_metadata: {
            tier: 'business',
            region: 'eu-west-1',
            seats: 25,
            features: ['sso', 'audit-log'],
          },
          private_metadata: { billingId: `sub_${pad(i, 14)}`, stripeCustomerId: `cus_${pad(i, 14)}` },
        },
      };
      break;
    }
    default: {
      const pair =
        type === 'organizationMembership.updated'
          ? seedMembershipPair(pick % SEED.memberships)
          : { userId: seedUserId(pick % SEED.users), orgId: seedOrgId((pick >>> 8) % SEED.organizations) };
      const id =
        type === 'organizationMembership.updated'
          ? seedMembershipId(pick % SEED.memberships)
          : fresh('orgmem');
      const e = sampleEvent(type, { id, now: ts, ...pair }) as unknown as Json;
      event = {
        ...e,
        data: { ...(e.data as Json), public_metadata: { team: `team-${pick % 17}`, title: 'Engineer' } },
      };
    }
  }
  return {
    ...event,
    event_attributes: { http_request: { client_ip: `203.0.113.${i % 250}`, user_agent: UA } },
  };
}

export interface PhaseWorkload {
  /** Unique per phase and receiver: ids and svix-ids are derived from it. */
  tag: string;
  count: number;
  /** Epoch ms of the phase's first event; event `i` happens at `tsBase + i`. */
  tsBase: number;
  /** Seeds the type and target choices (same seed → same stream). */
  seed: number;
}

/** What the orchestrator tells the load generator (`procs/loadgen.ts`) to send. */
export interface PhaseSpec {
  tag: string;
  seed: number;
  /** Epoch ms of the first (warm-up) event; the phase uses `warmup + count` consecutive ms. */
  tsBase: number;
  concurrency: number;
  /** Requests sent first and not timed (JIT, plan caches, pool connections). */
  warmup: number;
  /** At most this many timed requests… */
  count: number;
  /** …and none started after this long. */
  durationMs: number;
  url: string;
  secret: string;
}

/** The warm-up and the timed workloads of a phase. */
export function workloads(spec: PhaseSpec): { warm: PhaseWorkload; timed: PhaseWorkload } {
  return {
    warm: { tag: `${spec.tag}w`, count: spec.warmup, tsBase: spec.tsBase, seed: spec.seed },
    timed: { tag: spec.tag, count: spec.count, tsBase: spec.tsBase + spec.warmup, seed: spec.seed },
  };
}

/** The events of a phase, built lazily in order. */
export function* phaseEvents(w: PhaseWorkload): Generator<{ id: string; event: Json }> {
  const rand = prng(w.seed ^ hash(w.tag));
  const table: MirroredEventType[] = MIX.flatMap(([type, weight]) =>
    Array<MirroredEventType>(weight).fill(type),
  );
  for (let i = 0; i < w.count; i++) {
    const type = table[Math.floor(rand() * table.length)] as MirroredEventType;
    const pick = Math.floor(rand() * 2 ** 31);
    yield { id: `msg_${w.tag}_${pad(i, 7)}`, event: buildEvent(type, i, w.tag, w.tsBase + i, pick) };
  }
}

/** The seed pool as webhook-shaped events (mapped to rows by the caller). */
export function seedEvents(ts: number): { users: Json[]; organizations: Json[]; memberships: Json[] } {
  const users = Array.from({ length: SEED.users }, (_, k) => {
    const e = sampleEvent('user.created', { id: seedUserId(k), now: ts }) as unknown as Json;
    return { ...e, data: enrichUser(e.data as Json, ts, k) };
  });
  const organizations = Array.from(
    { length: SEED.organizations },
    (_, k) => sampleEvent('organization.created', { id: seedOrgId(k), now: ts }) as unknown as Json,
  );
  const memberships = Array.from(
    { length: SEED.memberships },
    (_, k) =>
      sampleEvent('organizationMembership.created', {
        id: seedMembershipId(k),
        now: ts,
        ...seedMembershipPair(k),
      }) as unknown as Json,
  );
  return { users, organizations, memberships };
}

/**
 * Maps an upsert event of the workload as the minimal receiver does, trusting the body (no schema
 * check): the registry's kind and row, or null for any other type.
 */
export function mapTrusted(e: { type: string; data: unknown }): { kind: KindName; row: unknown } | null {
  if (e.type === 'user.created' || e.type === 'user.updated')
    return { kind: 'user', row: toUserRow(e.data as ClerkUser) };
  if (e.type === 'organization.created' || e.type === 'organization.updated')
    return { kind: 'organization', row: toOrganizationRow(e.data as ClerkOrganization) };
  if (e.type === 'organizationMembership.created' || e.type === 'organizationMembership.updated')
    return { kind: 'membership', row: toMembershipRow(e.data as ClerkMembership) };
  return null;
}
