/**
 * @module Clerk session tokens for `POST /users/me/sync`, checked by Clerk's own JWT verification
 * (`@clerk/backend/jwt`): signature, `exp`/`nbf`/`iat` with a clock skew, `azp` against the
 * authorized parties. The key is the instance's PEM public key (`CLERK_JWT_KEY`, no network) or
 * the instance's JWKS from the Backend API, fetched through our Clerk client and cached
 * (docs/decisions/0008-ensure-token-keys.md says why not `verifyToken`'s own loader).
 */
import type { ClerkApi } from '../clerk/api.ts';
import { ClerkApiError } from '../clerk/errors.ts';

/** What the receiver needs from a verified session token. */
export interface Session {
  /** `sub`: the Clerk user id. */
  userId: string;
  /** The active organization: session token v2 `o.id`, v1 `org_id`; null without one. */
  organizationId: string | null;
}

/**
 * A verified session, or why the token is refused (401). A failure to load the keys from Clerk is
 * not the token's fault: it rejects with a {@link ClerkApiError}, which the caller answers 503.
 */
export type SessionCheck = { ok: true; session: Session } | { ok: false; reason: string };

export type SessionVerifier = (token: string, signal?: AbortSignal) => Promise<SessionCheck>;

export interface SessionVerifierOptions {
  /** The instance's PEM public key: verify with no network call. */
  jwtKey?: string | undefined;
  /** Without `jwtKey`: the client that loads `GET /jwks`. */
  clerk?: ClerkApi | undefined;
  /** Origins the token's `azp` must be one of; unset: any. */
  authorizedParties?: string[] | undefined;
  /** Leeway for `exp`, `nbf` and `iat`. Default 5 s (Clerk's). */
  clockSkewMs?: number;
  /** How long a loaded JWKS is used before it is loaded again. Default 5 min (Clerk's). */
  jwksTtlMs?: number;
  /**
   * The least time between two loads prompted by a key id the cached JWKS does not have (a key
   * rotation). The id is the token's to choose: it must not buy a Clerk request per token. Default 30 s.
   */
  jwksRetryMs?: number;
  now?: () => number;
}

type Jwk = JsonWebKey & { kid: string };

// Loaded on the first token, not at start-up: importing it took ~250 ms on a busy 2-core machine,
// which a receiver that only takes webhooks should not pay (a bundle, as on Workers, inlines it).
let clerkJwt: Promise<typeof import('@clerk/backend/jwt')> | undefined;

/** Loads the JWKS once per `ttlMs`, at most once per `retryMs` for an unknown key id, one load at a time. */
function jwksCache(clerk: ClerkApi, now: () => number, ttlMs: number, retryMs: number) {
  let keys = new Map<string, Jwk>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  let triedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | null = null;

  const load = (signal?: AbortSignal) => {
    loading ??= (async () => {
      triedAt = now();
      try {
        const body = (await clerk.get('/jwks', undefined, signal)) as { keys?: unknown } | null;
        if (!Array.isArray(body?.keys))
          throw new ClerkApiError('unexpected_response', "Clerk's answer to GET /jwks has no keys array.", {
            path: '/jwks',
          });
        const list = body.keys.filter(
          (k): k is Jwk => typeof (k as { kid?: unknown } | null)?.kid === 'string',
        );
        keys = new Map(list.map((k) => [k.kid, k]));
        loadedAt = now();
      } finally {
        loading = null;
      }
    })();
    return loading;
  };

  return async (kid: string, signal?: AbortSignal): Promise<Jwk | undefined> => {
    const known = keys.get(kid);
    const fresh = now() - loadedAt < ttlMs;
    if (known && fresh) return known;
    if (!fresh || now() - triedAt >= retryMs) {
      try {
        await load(signal);
      } catch (error) {
        // Clerk is down: a key it served before still verifies what it signed.
        if (known) return known;
        throw error;
      }
    }
    return keys.get(kid);
  };
}

const reasonOf = (error: unknown): string => {
  const reason = (error as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' ? reason : 'token-invalid';
};

/**
 * Builds the verifier. Needs `jwtKey` or `clerk` (a programmer mistake otherwise: it throws).
 * @example
 * const verify = createSessionVerifier({ jwtKey: config.clerkJwtKey, authorizedParties: ['https://app.example.com'] });
 * const check = await verify(token);
 * if (check.ok) console.log(check.session.userId);
 */
export function createSessionVerifier(options: SessionVerifierOptions): SessionVerifier {
  const { jwtKey, clerk, authorizedParties, clockSkewMs = 5_000, now = Date.now } = options;
  if (jwtKey === undefined && clerk === undefined)
    throw new TypeError('createSessionVerifier: give jwtKey (CLERK_JWT_KEY) or a Clerk client for the JWKS');
  const jwks =
    jwtKey === undefined && clerk !== undefined
      ? jwksCache(clerk, now, options.jwksTtlMs ?? 300_000, options.jwksRetryMs ?? 30_000)
      : undefined;

  return async (token, signal) => {
    clerkJwt ??= import('@clerk/backend/jwt');
    const { decodeJwt, verifyJwt } = await clerkJwt;
    let key: string | JsonWebKey | undefined = jwtKey;
    if (jwks !== undefined) {
      let kid: unknown;
      try {
        kid = decodeJwt(token).header.kid;
      } catch (error) {
        return { ok: false, reason: reasonOf(error) };
      }
      if (typeof kid !== 'string') return { ok: false, reason: 'token-kid-missing' };
      key = await jwks(kid, signal);
      if (key === undefined) return { ok: false, reason: 'jwk-kid-mismatch' };
    }
    let claims: Record<string, unknown>;
    try {
      claims = (await verifyJwt(token, {
        key: key as string | JsonWebKey,
        clockSkewInMs: clockSkewMs,
        ...(authorizedParties === undefined ? {} : { authorizedParties }),
      })) as unknown as Record<string, unknown>;
    } catch (error) {
      return { ok: false, reason: reasonOf(error) };
    }
    // Machine (M2M, OAuth) tokens signed by the same instance have other subjects: not a user session.
    const { sub } = claims;
    if (typeof sub !== 'string' || !sub.startsWith('user_'))
      return { ok: false, reason: 'token-not-a-user-session' };
    const org = (claims.o as { id?: unknown } | undefined)?.id ?? claims.org_id;
    return {
      ok: true,
      session: { userId: sub, organizationId: typeof org === 'string' && org !== '' ? org : null },
    };
  };
}

/**
 * The token of an `Authorization: Bearer <token>` header (RFC 6750), or null.
 * @example bearerToken('Bearer eyJ…'); // 'eyJ…'
 */
export function bearerToken(header: string | undefined | null): string | null {
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i.exec(header ?? '');
  return match ? (match[1] as string) : null;
}
