/**
 * @module What `POST /users/me/sync` and `ensureUser` are built from: the parsed config and the store.
 */
import { type ClerkApi, createClerkApi, DEFAULT_RATE } from '../clerk/api.ts';
import type { Rate } from '../clerk/limiter.ts';
import type { Config } from '../core/config.ts';
import type { Store } from '../store/port.ts';
import { createEnsurer } from './ensure.ts';
import type { EnsureRouteDeps } from './route.ts';
import { createSessionVerifier } from './token.ts';

/** 90 % of Clerk's limit for a production instance (1000 requests / 10 s); development: DEFAULT_RATE. */
const PRODUCTION_RATE: Rate = { requests: 900, windowMs: 10_000 };

/**
 * A Clerk client for requests a user waits on: one retry, short timeouts (the backfill's client
 * retries for minutes), and the request budget of the instance the key belongs to.
 * @example const clerk = ensureClerkApi('sk_test_…', 'https://api.clerk.com/v1');
 */
export function ensureClerkApi(secretKey: string, apiUrl: string): ClerkApi {
  return createClerkApi({
    secretKey,
    apiUrl,
    rate: secretKey.startsWith('sk_live_') ? PRODUCTION_RATE : DEFAULT_RATE,
    maxRetries: 1,
    timeoutMs: 5_000,
    retryAfterCapMs: 2_000,
  });
}

/**
 * The route's dependencies, or undefined when CLERK_SECRET_KEY is not set (the route then says so).
 * @example createApp({ store, signingSecret, logger, ensure: ensureDeps(config, store) });
 */
export function ensureDeps(config: Config, store: Store): EnsureRouteDeps | undefined {
  if (config.clerkSecretKey === undefined) return undefined;
  const clerk = ensureClerkApi(config.clerkSecretKey, config.clerkApiUrl);
  return {
    ensure: createEnsurer({ store, clerk }),
    verify: createSessionVerifier({
      jwtKey: config.clerkJwtKey,
      clerk,
      authorizedParties: config.authorizedParties,
    }),
    allowedOrigins: config.authorizedParties,
  };
}
