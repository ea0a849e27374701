import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClerkApi } from '../../src/clerk/api.ts';
import { ClerkApiError } from '../../src/clerk/errors.ts';
import { bearerToken, createSessionVerifier, type SessionVerifier } from '../../src/ensure/token.ts';
import { type ClerkStandin, startClerkStandin } from '../support/clerk-standin.ts';
import { instanceKey, sessionToken } from '../support/session-tokens.ts';

const SECRET_KEY = 'sk_test_tokens';
const key = instanceKey();
const otherKey = instanceKey('ins_other_key');
const USER = 'user_2token';
const now = () => Math.floor(Date.now() / 1000);

let clerk: ClerkStandin;
beforeAll(async () => {
  clerk = await startClerkStandin({
    secretKey: SECRET_KEY,
    data: { users: [], organizations: [], memberships: [] },
    jwks: { keys: [key.jwk] },
  });
});
afterAll(() => clerk?.close());

const api = () =>
  createClerkApi({ secretKey: SECRET_KEY, apiUrl: clerk.url, maxRetries: 0, timeoutMs: 2_000 });

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

const refused: [string, () => string, string][] = [
  [
    'expired',
    () => sessionToken(key, USER, { exp: now() - 30, iat: now() - 90, nbf: now() - 90 }),
    'token-expired',
  ],
  ['not yet valid', () => sessionToken(key, USER, { nbf: now() + 60 }), 'token-not-active-yet'],
  ['issued in the future', () => sessionToken(key, USER, { iat: now() + 60 }), 'token-iat-in-the-future'],
  [
    'signed by another key',
    () => sessionToken(otherKey, USER, {}, { kid: key.kid }),
    'token-invalid-signature',
  ],
  [
    'of another authorized party',
    () => sessionToken(key, USER, { azp: 'https://evil.example' }),
    'token-invalid-authorized-parties',
  ],
  ['without azp', () => sessionToken(key, USER, { azp: undefined }), 'token-invalid-authorized-parties'],
  ['malformed: not three parts', () => 'not-a-token', 'token-invalid'],
  ['malformed: parts that are not JSON', () => 'abc.def.ghi', 'token-invalid'],
  [
    'unsigned (alg none)',
    () => `${b64({ alg: 'none', typ: 'JWT', kid: key.kid })}.${b64({ sub: USER, exp: now() + 60 })}.`,
    'token-invalid-algorithm',
  ],
  [
    'HS256 with the public key as secret',
    () => sessionToken(key, USER, {}, { alg: 'HS256' }),
    'token-invalid-algorithm',
  ],
  [
    'a machine token (subject not a user)',
    () => sessionToken(key, 'mch_2machine'),
    'token-not-a-user-session',
  ],
  [
    'tampered payload',
    () => {
      const [h, , s] = sessionToken(key, USER).split('.');
      return `${h}.${b64({ sub: 'user_someone_else', exp: now() + 60, azp: 'http://localhost:3000' })}.${s}`;
    },
    'token-invalid-signature',
  ],
];

describe.each<[string, () => SessionVerifier]>([
  [
    'networkless (CLERK_JWT_KEY)',
    () => createSessionVerifier({ jwtKey: key.pem, authorizedParties: ['http://localhost:3000'] }),
  ],
  [
    'with the JWKS of the Backend API',
    () => createSessionVerifier({ clerk: api(), authorizedParties: ['http://localhost:3000'] }),
  ],
])('session tokens, %s', (_, make) => {
  let verify: SessionVerifier;
  beforeAll(() => {
    verify = make();
  });

  it('accepts a valid token: the user and, from a v2 token, the active organization', async () => {
    expect(await verify(sessionToken(key, USER))).toEqual({
      ok: true,
      session: { userId: USER, organizationId: null },
    });
    expect(
      await verify(sessionToken(key, USER, { o: { id: 'org_2active', rol: 'admin', slg: 'acme' } })),
    ).toEqual({
      ok: true,
      session: { userId: USER, organizationId: 'org_2active' },
    });
    expect(await verify(sessionToken(key, USER, { v: undefined, org_id: 'org_2v1' }))).toMatchObject({
      session: { organizationId: 'org_2v1' },
    });
  });

  it('accepts a token a little outside its times (5 s of clock skew)', async () => {
    expect((await verify(sessionToken(key, USER, { exp: now() - 2, iat: now() - 60 }))).ok).toBe(true);
    expect((await verify(sessionToken(key, USER, { nbf: now() + 2, iat: now() + 2 }))).ok).toBe(true);
  });

  it.each(refused)('refuses a token %s', async (_label, token, reason) => {
    expect(await verify(token())).toEqual({ ok: false, reason });
  });
});

describe('without authorized parties', () => {
  it('any azp passes', async () => {
    const verify = createSessionVerifier({ jwtKey: key.pem });
    expect((await verify(sessionToken(key, USER, { azp: 'https://elsewhere.example' }))).ok).toBe(true);
  });
});

describe('the JWKS cache', () => {
  it('loads the JWKS once for many tokens', async () => {
    const before = clerk.stats.byPath['/jwks'] ?? 0;
    const verify = createSessionVerifier({ clerk: api() });
    const checks = await Promise.all(Array.from({ length: 10 }, () => verify(sessionToken(key, USER))));
    expect(checks.every((c) => c.ok)).toBe(true);
    expect((await verify(sessionToken(key, USER))).ok).toBe(true);
    expect((clerk.stats.byPath['/jwks'] ?? 0) - before).toBe(1);
  });

  it('an unknown key id costs at most one reload per interval, and a rotated-in key is found', async () => {
    let t = 1_000_000;
    const verify = createSessionVerifier({ clerk: api(), now: () => t, jwksRetryMs: 30_000 });
    const before = clerk.stats.byPath['/jwks'] ?? 0;
    expect((await verify(sessionToken(key, USER))).ok).toBe(true);
    for (let i = 0; i < 5; i++)
      expect(await verify(sessionToken(otherKey, USER, {}, { kid: `ins_forged_${i}` }))).toEqual({
        ok: false,
        reason: 'jwk-kid-mismatch',
      });
    expect((clerk.stats.byPath['/jwks'] ?? 0) - before).toBe(1);

    // The instance rotates to a new key: the first token with it waits at most the interval.
    clerk.jwks = { keys: [key.jwk, otherKey.jwk] };
    try {
      t += 30_000;
      expect((await verify(sessionToken(otherKey, USER))).ok).toBe(true);
      expect((clerk.stats.byPath['/jwks'] ?? 0) - before).toBe(2);
    } finally {
      clerk.jwks = { keys: [key.jwk] };
    }
  });

  it('Clerk unavailable: the load fails as a ClerkApiError (answered 503), and a key already loaded still verifies', async () => {
    let t = 1_000_000;
    const verify = createSessionVerifier({ clerk: api(), now: () => t });
    clerk.failWith = 503;
    try {
      await expect(verify(sessionToken(key, USER))).rejects.toBeInstanceOf(ClerkApiError);
      clerk.failWith = null;
      expect((await verify(sessionToken(key, USER))).ok).toBe(true);
      clerk.failWith = 503;
      t += 10 * 60_000; // the cache is stale, the reload fails: the key it had still serves
      expect((await verify(sessionToken(key, USER))).ok).toBe(true);
    } finally {
      clerk.failWith = null;
    }
  });

  it('needs a key or a client', () => {
    expect(() => createSessionVerifier({})).toThrow(/jwtKey \(CLERK_JWT_KEY\) or a Clerk client/);
  });
});

describe('bearerToken', () => {
  it.each<[string, string | undefined, string | null]>([
    ['a bearer token', 'Bearer abc.def.ghi', 'abc.def.ghi'],
    ['the scheme in any case', 'bearer abc.def.ghi', 'abc.def.ghi'],
    ['no header', undefined, null],
    ['another scheme', 'Basic dXNlcjpwYXNz', null],
    ['an empty token', 'Bearer ', null],
    ['two tokens', 'Bearer a.b.c d.e.f', null],
  ])('%s', (_, header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});
