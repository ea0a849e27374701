/**
 * @module The webhook workload: a realistic mix of Clerk user, organization and membership events
 * (~3 KB on average, built on `sampleEvent` with the fields real deliveries carry: an OAuth account,
 * metadata, sign-in times) with unique ids per phase. An `*.updated` event, and a new membership,
 * refers to an object created earlier in the same stream, far enough back (`LAG` events) to have
 * been applied at any concurrency the bench uses.
 */
import type { MirroredEventType } from '../../src/core/kinds.ts';
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
/** An update refers to an object created at least this many events earlier (above any concurrency). */
const LAG = 64;

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** mulberry32: a small deterministic PRNG, so both receivers see the same stream. */
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

/** A user as real deliveries carry one: a second (work) address, an OAuth account, metadata, times. */
function enrichUser(data: Json, ts: number, i: number): Json {
  const [primary] = data.email_addresses as Json[];
  const google = `idn_g${pad(i, 26)}`;
  const name = { first_name: `Ada${i % 997}`, last_name: `Lovelace${i % 991}` };
  return {
    ...data,
    ...name,
    email_addresses: [
      primary,
      {
        ...primary,
        id: `idn_w${pad(i, 26)}`,
        email_address: `ada.lovelace${i}@work.example.com`,
        linked_to: [{ type: 'oauth_google', id: google }],
      },
    ],
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
        ...name,
        object: 'google_account',
        id: google,
        provider: 'oauth_google',
        identification_id: google,
        provider_user_id: `1${pad(i, 20)}`,
        approved_scopes:
          'email https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid profile',
        email_address: primary?.email_address,
        avatar_url: `https://lh3.googleusercontent.com/a/ACg8ocK${pad(i, 12)}xYz=s1000-c`,
        image_url: `https://img.clerk.com/eyJ0eXBlIjoicHJveHkiLCJzcmMiOiJodHRwczovL2xoMy5nb29nbGV1c2VyY29udGVudC5jb20vYS9${pad(i, 12)}`,
        username: null,
        public_metadata: {},
        label: null,
        created_at: ts,
        updated_at: ts,
        verification: {
          status: 'verified',
          strategy: 'oauth_google',
          attempts: null,
          expire_at: ts + 600_000,
        },
      },
    ],
  };
}

/** Objects created so far in a stream, with the index of the event that created each. */
interface Created {
  users: { at: number; id: string }[];
  organizations: { at: number; id: string }[];
  memberships: { at: number; id: string; userId: string; orgId: string }[];
}

/** An object created at least LAG events before event `i`, or undefined if there is none yet. */
function earlier<T extends { at: number }>(list: T[], i: number, pick: number): T | undefined {
  let n = list.length;
  while (n > 0 && (list[n - 1] as T).at > i - LAG) n--;
  return n === 0 ? undefined : list[pick % n];
}

/** The event `i` of a phase, as Clerk would send it. `ts` orders it after every earlier phase. */
function buildEvent(
  wanted: MirroredEventType,
  i: number,
  tag: string,
  ts: number,
  pick: number,
  made: Created,
): Json {
  const fresh = (prefix: string) => `${prefix}_${tag}${pad(i, Math.max(1, 27 - tag.length))}`;
  const [oldUser, oldOrg] = [earlier(made.users, i, pick), earlier(made.organizations, i, pick >>> 8)];
  const membership = earlier(made.memberships, i, pick);
  const user = oldUser?.id ?? fresh('user');
  const org = oldOrg?.id ?? fresh('org');
  // Until there is something to update, an update is a creation.
  const type: MirroredEventType =
    wanted === 'user.updated' && !oldUser
      ? 'user.created'
      : wanted === 'organization.updated' && !oldOrg
        ? 'organization.created'
        : wanted === 'organizationMembership.updated' && !membership
          ? 'organizationMembership.created'
          : wanted;
  let event: Json;
  if (type === 'user.created' || type === 'user.updated') {
    const id = type === 'user.created' ? fresh('user') : user;
    if (type === 'user.created') made.users.push({ at: i, id });
    const e = sampleEvent(type, { id, now: ts }) as unknown as Json;
    event = { ...e, data: enrichUser(e.data as Json, ts, i) };
  } else if (type === 'organization.created' || type === 'organization.updated') {
    const id = type === 'organization.created' ? fresh('org') : org;
    if (type === 'organization.created') made.organizations.push({ at: i, id });
    const e = sampleEvent(type, { id, now: ts, userId: user }) as unknown as Json;
    const data = {
      ...(e.data as Json),
      name: `Acme ${i}`,
      public_metadata: { tier: 'business', region: 'eu-west-1', seats: 25, features: ['sso', 'audit-log'] },
      private_metadata: { billingId: `sub_${pad(i, 14)}`, stripeCustomerId: `cus_${pad(i, 14)}` },
    };
    event = { ...e, data };
  } else {
    const m =
      type === 'organizationMembership.updated' && membership
        ? membership
        : { at: i, id: fresh('orgmem'), userId: user, orgId: org };
    if (m.at === i) made.memberships.push(m);
    const e = sampleEvent(type, { id: m.id, now: ts, userId: m.userId, orgId: m.orgId }) as unknown as Json;
    event = {
      ...e,
      data: { ...(e.data as Json), public_metadata: { team: `team-${pick % 17}`, title: 'Engineer' } },
    };
  }
  return {
    ...event,
    event_attributes: { http_request: { client_ip: `203.0.113.${i % 250}`, user_agent: UA } },
  };
}

/**
 * The `count` events of a phase, built lazily in order: ids and svix-ids derive from `tag`, event `i`
 * happens at `tsBase + i` ms, and `seed` makes the same stream for the same tag.
 */
export function* phaseEvents(
  tag: string,
  count: number,
  tsBase: number,
  seed: number,
): Generator<{ id: string; event: Json }> {
  const rand = prng(seed ^ hash(tag));
  const table: MirroredEventType[] = MIX.flatMap(([type, weight]) =>
    Array<MirroredEventType>(weight).fill(type),
  );
  const made: Created = { users: [], organizations: [], memberships: [] };
  for (let i = 0; i < count; i++) {
    const type = table[Math.floor(rand() * table.length)] as MirroredEventType;
    const pick = Math.floor(rand() * 2 ** 31);
    yield { id: `msg_${tag}_${pad(i, 7)}`, event: buildEvent(type, i, tag, tsBase + i, pick, made) };
  }
}
