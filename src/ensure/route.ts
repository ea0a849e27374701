/**
 * @module `POST /users/me/sync`: the signed-in user (`Authorization: Bearer <Clerk session token>`)
 * is mirrored before their first request. 200 `{outcome}`; 401 for a missing or refused token;
 * 404 when Clerk no longer has the user; 429 when one user calls too often; 503 when Clerk or the
 * database is unavailable. Browsers may call it from the authorized parties (CORS).
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { Logger } from '../core/logger.ts';
import { asEnsureError, type EnsureError, type EnsureErrorCode, type Ensurer } from './ensure.ts';
import { bearerToken, type SessionVerifier } from './token.ts';

export const ENSURE_PATH = '/users/me/sync';

export interface EnsureRouteDeps {
  ensure: Ensurer;
  verify: SessionVerifier;
  /** Origins that may call from a browser (`CLERK_AUTHORIZED_PARTIES`); unset: any (bearer tokens, no cookies). */
  allowedOrigins?: string[] | undefined;
}

const STATUS = {
  not_found: 404,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
} as const satisfies Record<EnsureErrorCode, number>;

const BODY = {
  not_found: { error: 'user not found' },
  rate_limited: { error: 'too many requests, retry later' },
  unavailable: { error: 'temporarily unavailable, retry later' },
  internal: { error: 'internal error' },
} as const satisfies Record<EnsureErrorCode, { error: string }>;

/**
 * The route, as a sub-app for `createApp` to mount. Without `deps` (no CLERK_SECRET_KEY) it answers
 * 501 and says what to set.
 * @example app.route('/', ensureRoutes({ ensure, verify }, logger));
 */
export function ensureRoutes(
  deps: EnsureRouteDeps | undefined,
  logger: Logger,
  now: () => number = Date.now,
): Hono {
  const app = new Hono();
  app.use(
    ENSURE_PATH,
    cors({
      origin: deps?.allowedOrigins ?? '*',
      allowMethods: ['POST'],
      allowHeaders: ['Authorization', 'Content-Type'],
      maxAge: 600,
    }),
  );

  app.post(ENSURE_PATH, async (c) => {
    if (deps === undefined) {
      logger.warn({ status: 501 }, 'ensure refused: not configured (set CLERK_SECRET_KEY)');
      return c.json(
        { error: 'not configured', fix: 'set CLERK_SECRET_KEY (and CLERK_JWT_KEY) on the receiver' },
        501,
      );
    }
    const started = now();
    const token = bearerToken(c.req.header('authorization'));
    if (token === null) {
      logger.warn({ reason: 'token-missing', status: 401 }, 'ensure refused');
      c.header('WWW-Authenticate', 'Bearer');
      return c.json({ error: 'missing session token' }, 401);
    }

    let failed: EnsureError;
    let userId: string | undefined;
    try {
      const check = await deps.verify(token);
      if (!check.ok) {
        logger.warn({ reason: check.reason, status: 401 }, 'ensure refused');
        c.header('WWW-Authenticate', 'Bearer error="invalid_token"');
        return c.json({ error: 'invalid session token' }, 401);
      }
      userId = check.session.userId;
      const result = await deps.ensure(userId, { organizationId: check.session.organizationId });
      if (result.ok) {
        logger.info({ user_id: userId, outcome: result.outcome, status: 200, ms: now() - started }, 'ensure');
        return c.json({ outcome: result.outcome });
      }
      failed = result.error;
    } catch (error) {
      failed = asEnsureError(error); // the JWKS could not be loaded
    }

    const status = STATUS[failed.code];
    if (failed.retryAfterMs !== undefined)
      c.header('Retry-After', String(Math.ceil(failed.retryAfterMs / 1000)));
    const line = {
      user_id: userId,
      code: failed.code,
      status,
      ms: now() - started,
      err: { message: failed.message },
    };
    if (status >= 500) logger.error(line, 'ensure failed');
    else logger.warn(line, 'ensure refused');
    return c.json(BODY[failed.code], status);
  });
  return app;
}
