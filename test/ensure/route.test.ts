/**
 * `POST /users/me/sync` end to end: the real app and store on real Postgres semantics, Clerk played
 * by the local stand-in (its JWKS serves the same generated key as CLERK_JWT_KEY).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { createClerkApi } from '../../src/clerk/api.ts';
import { parseConfig } from '../../src/core/config.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { ensureDeps } from '../../src/ensure/deps.ts';
import { createEnsurer } from '../../src/ensure/ensure.ts';
import { createStore, type Store } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { type ClerkStandin, startClerkStandin } from '../support/clerk-standin.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { captureLogs } from '../support/logs.ts';
import { instanceKey, sessionToken } from '../support/session-tokens.ts';
import { post, SECRET, signed } from '../support/webhooks.ts';

const SECRET_KEY = 'sk_test_ensure';
const APP_ORIGIN = 'http://localhost:3000';
const key = instanceKey();
const otherKey = instanceKey();
const logs = captureLogs();

let t: TestDatabase;
let clerk: ClerkStandin;
let store: Store;

const env = (more: Record<string, string> = {}) => ({
  CLERK_SECRET_KEY: SECRET_KEY,
  CLERK_API_URL: clerk.url,
  CLERK_JWT_KEY: key.pem,
  CLERK_AUTHORIZED_PARTIES: `${APP_ORIGIN}, https://app.example.com`,
  ...more,
});
const appFor = (e: Record<string, string | undefined>, s: Store = store) =>
  createApp({ store: s, signingSecret: SECRET, logger: logs.logger, ensure: ensureDeps(parseConfig(e), s) });
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  t = await openTestDatabase();
  store = createStore(sqlRpc(t.db));
  clerk = await startClerkStandin({
    secretKey: SECRET_KEY,
    data: { users: [], organizations: [], memberships: [] },
    jwks: { keys: [key.jwk] },
  });
}, 60_000);
afterAll(async () => {
  await clerk?.close();
  await t?.close();
});
beforeEach(async () => {
  await t.reset();
  clerk.data = { users: [], organizations: [], memberships: [] };
  clerk.failWith = null;
  clerk.latencyMs = 0;
  app = appFor(env()); // a fresh app: its single-flight and rate limit start empty
});

let serial = 0;
/** A user Clerk has (updated at `now`), with a fresh id. */
function clerkUser(now = Date.UTC(2026, 0, 1)) {
  const data = sampleEvent('user.created', { id: `user_ensure${++serial}`, now }).data;
  clerk.data.users.push(data as never);
  return data;
}
function clerkOrgWithMember(userId: string) {
  const org = sampleEvent('organization.created', {
    id: `org_ensure${++serial}`,
    now: Date.UTC(2026, 0, 1),
  }).data;
  const membership = sampleEvent('organizationMembership.created', {
    id: `orgmem_ensure${serial}`,
    orgId: org.id,
    userId,
    now: Date.UTC(2026, 0, 1),
  }).data;
  clerk.data.organizations.push(org as never);
  clerk.data.memberships.push(membership as never);
  return { org, membership };
}

const sync = (token?: string, to = app) =>
  to.request('/users/me/sync', {
    method: 'POST',
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
const call = async (token?: string, to = app) => {
  const res = await sync(token, to);
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
};
const rows = async (sql: string, params: unknown[] = []) => (await t.db.query(sql, params)).rows;
const mirrored = async () => ({
  users: (await rows('select id from public.users_public order by id')).map((r) => r.id),
  private: (await rows('select id from public.users_private order by id')).map((r) => r.id),
  organizations: (await rows('select id from public.organizations order by id')).map((r) => r.id),
  memberships: (await rows('select id from public.organization_memberships order by id')).map((r) => r.id),
});
const NOTHING = { users: [], private: [], organizations: [], memberships: [] };
const clerkCalls = (path: string) => clerk.stats.byPath[path] ?? 0;
const deliver = async (payload: unknown) => {
  const res = await app.request('/webhooks/clerk', post(signed(payload)));
  expect(res.status).toBe(200);
};

describe('POST /users/me/sync', () => {
  it('mirrors a new user from Clerk, then answers from the mirror without asking Clerk again', async () => {
    const user = clerkUser();
    const before = clerkCalls('/users/:id');
    expect(await call(sessionToken(key, user.id))).toMatchObject({
      status: 200,
      body: { outcome: 'applied' },
    });
    expect(await mirrored()).toEqual({ ...NOTHING, users: [user.id], private: [user.id] });
    expect(
      await rows('select email, first_name from public.users_private join public.users_public using (id)'),
    ).toEqual([{ email: user.email_addresses?.[0]?.email_address, first_name: user.first_name }]);
    expect(await call(sessionToken(key, user.id))).toMatchObject({
      status: 200,
      body: { outcome: 'present' },
    });
    expect(clerkCalls('/users/:id') - before).toBe(1);
  });

  it("mirrors the token's active organization and the membership with the user", async () => {
    const user = clerkUser();
    const { org, membership } = clerkOrgWithMember(user.id);
    const token = sessionToken(key, user.id, { o: { id: org.id, rol: 'member', slg: org.slug } });
    expect(await call(token)).toMatchObject({ status: 200, body: { outcome: 'applied' } });
    expect(await mirrored()).toEqual({
      users: [user.id],
      private: [user.id],
      organizations: [org.id],
      memberships: [membership.id],
    });
    expect(await rows('select organization_id, user_id, role from public.organization_memberships')).toEqual([
      { organization_id: org.id, user_id: user.id, role: 'org:member' },
    ]);
    // A user already mirrored whose membership is not: only the organization's side is fetched.
    await t.db.query('delete from public.organization_memberships');
    const userCalls = clerkCalls('/users/:id');
    expect(await call(token)).toMatchObject({ status: 200, body: { outcome: 'applied' } });
    expect(clerkCalls('/users/:id')).toBe(userCalls);
    expect((await mirrored()).memberships).toEqual([membership.id]);
  });

  it('an organization Clerk does not know (or no membership in it) still mirrors the user', async () => {
    const user = clerkUser();
    const token = sessionToken(key, user.id, { o: { id: 'org_gone', rol: 'member' } });
    expect(await call(token)).toMatchObject({ status: 200, body: { outcome: 'applied' } });
    expect(await mirrored()).toEqual({ ...NOTHING, users: [user.id], private: [user.id] });
  });

  it('an organization deleted from the mirror stays deleted; the user is still mirrored', async () => {
    const user = clerkUser();
    const { org } = clerkOrgWithMember(user.id);
    await deliver(sampleEvent('organization.deleted', { id: org.id }));
    const before = clerkCalls('/organizations/:id');
    const token = sessionToken(key, user.id, { o: { id: org.id, rol: 'member' } });
    expect(await call(token)).toMatchObject({ status: 200, body: { outcome: 'applied' } });
    expect(await mirrored()).toEqual({ ...NOTHING, users: [user.id], private: [user.id] });
    expect(clerkCalls('/organizations/:id')).toBe(before);
  });

  it('one of the requests to Clerk failing: nothing written, not even what the others fetched', async () => {
    const user = clerkUser();
    const { org } = clerkOrgWithMember(user.id);
    // The user's request succeeds (and is over before the others fail, so none is left in flight).
    let userAnswered: Promise<unknown> = Promise.resolve();
    const failingOrgs: typeof fetch = (input, init) => {
      if (!String(input).includes('/organizations/')) {
        const answer = fetch(input, init);
        userAnswered = answer.then((r) => r.clone().text());
        return answer;
      }
      return userAnswered.then(() => new Response('{}', { status: 502 }));
    };
    const ensure = createEnsurer({
      store,
      clerk: createClerkApi({ secretKey: SECRET_KEY, apiUrl: clerk.url, fetch: failingOrgs, maxRetries: 0 }),
    });
    expect(await ensure(user.id, { organizationId: org.id })).toMatchObject({
      ok: false,
      error: { code: 'unavailable' },
    });
    expect(await mirrored()).toEqual(NOTHING);
  });

  it('20 concurrent calls for a new user: one row, one request to Clerk for it', async () => {
    const user = clerkUser();
    clerk.latencyMs = 50;
    const before = clerkCalls('/users/:id');
    const answers = await Promise.all(Array.from({ length: 20 }, () => call(sessionToken(key, user.id))));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.filter((a) => a.body.outcome === 'applied').length).toBeGreaterThanOrEqual(1);
    expect(clerkCalls('/users/:id') - before).toBe(1);
    expect(await mirrored()).toEqual({ ...NOTHING, users: [user.id], private: [user.id] });
  });

  it('20 concurrent calls across two receivers: still one row (the SQL, not the process, decides)', async () => {
    const user = clerkUser();
    clerk.latencyMs = 30;
    const second = appFor(env());
    const before = clerkCalls('/users/:id');
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(sessionToken(key, user.id), i % 2 ? app : second)),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(clerkCalls('/users/:id') - before).toBeLessThanOrEqual(2);
    expect(await mirrored()).toEqual({ ...NOTHING, users: [user.id], private: [user.id] });
  });

  it('a deleted user stays deleted: 404, without asking Clerk', async () => {
    const user = clerkUser();
    await deliver(sampleEvent('user.deleted', { id: user.id }));
    const before = clerk.stats.requests;
    expect(await call(sessionToken(key, user.id))).toMatchObject({
      status: 404,
      body: { error: 'user not found' },
    });
    expect(clerk.stats.requests).toBe(before);
    expect(await mirrored()).toEqual(NOTHING);
  });

  it('a user deleted while Clerk is asked: the stale read does not bring them back (404)', async () => {
    const user = clerkUser();
    clerk.latencyMs = 300;
    const pending = call(sessionToken(key, user.id));
    await new Promise((r) => setTimeout(r, 100));
    await deliver(sampleEvent('user.deleted', { id: user.id }));
    expect(await pending).toMatchObject({ status: 404 });
    expect(await mirrored()).toEqual(NOTHING);
  });

  it('a newer version from a webhook meanwhile is not overwritten by the older read', async () => {
    const user = clerkUser(Date.UTC(2026, 0, 1));
    clerk.latencyMs = 300;
    const pending = call(sessionToken(key, user.id));
    await new Promise((r) => setTimeout(r, 100));
    const newer = sampleEvent('user.updated', { id: user.id, now: Date.UTC(2026, 0, 2) });
    newer.data.first_name = 'Renamed';
    await deliver(newer);
    expect(await pending).toMatchObject({ status: 200, body: { outcome: 'present' } });
    expect(await rows('select first_name, updated_at from public.users_public')).toEqual([
      { first_name: 'Renamed', updated_at: expect.stringMatching(/^2026-01-02/) },
    ]);
  });

  it('Clerk no longer has the user: 404, nothing written', async () => {
    expect(await call(sessionToken(key, 'user_not_in_clerk'))).toMatchObject({ status: 404 });
    expect(await mirrored()).toEqual(NOTHING);
  });

  it('Clerk unavailable: 503, nothing written; a later call succeeds', async () => {
    const user = clerkUser();
    clerk.failWith = 503;
    const token = sessionToken(key, user.id);
    expect(await call(token)).toMatchObject({
      status: 503,
      body: { error: 'temporarily unavailable, retry later' },
    });
    expect(await mirrored()).toEqual(NOTHING);
    clerk.failWith = null;
    expect(await call(token)).toMatchObject({ status: 200, body: { outcome: 'applied' } });
  });

  it('Clerk unavailable for the organization of a user the mirror has: 200 present, the webhooks bring the rest', async () => {
    const user = clerkUser();
    const { org } = clerkOrgWithMember(user.id);
    expect(await call(sessionToken(key, user.id))).toMatchObject({
      status: 200,
      body: { outcome: 'applied' },
    });
    clerk.failWith = 503;
    const token = sessionToken(key, user.id, { o: { id: org.id, rol: 'member' } });
    expect(await call(token)).toMatchObject({ status: 200, body: { outcome: 'present' } });
    expect(await mirrored()).toEqual({ ...NOTHING, users: [user.id], private: [user.id] });
  });

  it('a secret key Clerk refuses: 500 and a log line saying what to check, nothing written', async () => {
    const user = clerkUser();
    const misconfigured = appFor(env({ CLERK_SECRET_KEY: 'sk_test_wrong' }));
    expect(await call(sessionToken(key, user.id), misconfigured)).toMatchObject({ status: 500 });
    expect(await mirrored()).toEqual(NOTHING);
    expect(logs.text()).toMatch(/check CLERK_SECRET_KEY/);
  });

  it('the database unavailable: 503', async () => {
    const down = pgDatabase('postgres://postgres@127.0.0.1:9/none', { connectionTimeoutMs: 1_000 });
    try {
      const user = clerkUser();
      const res = await call(sessionToken(key, user.id), appFor(env(), createStore(sqlRpc(down))));
      expect(res).toMatchObject({ status: 503 });
    } finally {
      await down.close();
    }
  });

  it('one user calling too often: 429 with Retry-After, and no more requests to Clerk', async () => {
    const token = sessionToken(key, 'user_never_in_clerk');
    for (let i = 0; i < 5; i++) expect((await call(token)).status).toBe(404);
    const before = clerk.stats.requests;
    const limited = await call(token);
    expect(limited).toMatchObject({ status: 429, body: { error: 'too many requests, retry later' } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(clerk.stats.requests).toBe(before);
    // Another user is not held back by it.
    const other = clerkUser();
    expect((await call(sessionToken(key, other.id))).status).toBe(200);
  });

  it('over the limit, a user the mirror has is still answered (present)', async () => {
    const user = clerkUser();
    const token = sessionToken(key, user.id, { o: { id: 'org_clerk_lacks', rol: 'member' } });
    for (let i = 0; i < 6; i++) expect(await call(token)).toMatchObject({ status: 200 });
    expect(await call(token)).toMatchObject({ status: 200, body: { outcome: 'present' } });
  });

  it.each<[string, () => string | undefined, string]>([
    ['no token', () => undefined, 'missing session token'],
    ['a malformed token', () => 'not-a-jwt', 'invalid session token'],
    [
      'an expired token',
      () => sessionToken(key, 'user_x', { exp: Math.floor(Date.now() / 1000) - 60 }),
      'invalid session token',
    ],
    [
      'a token not yet valid',
      () => sessionToken(key, 'user_x', { nbf: Math.floor(Date.now() / 1000) + 60 }),
      'invalid session token',
    ],
    [
      'a token signed with another key',
      () => sessionToken(otherKey, 'user_x', {}, { kid: key.kid }),
      'invalid session token',
    ],
    [
      'a token for another authorized party',
      () => sessionToken(key, 'user_x', { azp: 'https://evil.example' }),
      'invalid session token',
    ],
  ])('%s: 401, Clerk not asked, nothing written', async (_, token, error) => {
    clerkUser();
    const before = clerk.stats.requests;
    const res = await call(token());
    expect(res).toMatchObject({ status: 401, body: { error } });
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(clerk.stats.requests).toBe(before);
    expect(await mirrored()).toEqual(NOTHING);
  });

  it('verifies with the JWKS of the Backend API when CLERK_JWT_KEY is not set', async () => {
    const user = clerkUser();
    const viaJwks = appFor(env({ CLERK_JWT_KEY: '' }));
    expect(await call(sessionToken(key, user.id), viaJwks)).toMatchObject({
      status: 200,
      body: { outcome: 'applied' },
    });
    expect(await call(sessionToken(otherKey, user.id, {}, { kid: key.kid }), viaJwks)).toMatchObject({
      status: 401,
    });
    clerk.failWith = 503;
    const cold = appFor(env({ CLERK_JWT_KEY: '' }));
    expect(await call(sessionToken(key, user.id), cold)).toMatchObject({ status: 503 });
  });

  it('without CLERK_SECRET_KEY: 501 naming what to set', async () => {
    const bare = createApp({ store, signingSecret: SECRET, logger: logs.logger });
    expect(await call(sessionToken(key, 'user_x'), bare)).toEqual({
      status: 501,
      headers: expect.anything(),
      body: { error: 'not configured', fix: 'set CLERK_SECRET_KEY (and CLERK_JWT_KEY) on the receiver' },
    });
  });

  it('answers a browser preflight from an authorized party, and no other origin', async () => {
    const preflight = (origin: string) =>
      app.request('/users/me/sync', {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization',
        },
      });
    const allowed = await preflight('https://app.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const other = await preflight('https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
  });

  it('logs no token and no personal data', async () => {
    const user = clerkUser();
    await call(sessionToken(key, user.id));
    await call('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyX3gifQ.c2lnbmF0dXJl');
    const text = logs.text();
    expect(text).not.toMatch(/eyJ/);
    expect(text).not.toContain('@example.com');
    expect(logs.lines().filter((l) => l.msg === 'ensure' && l.user_id === user.id)).toHaveLength(1);
  });
});
