/**
 * @module `ensureUser(userId, options?)`: `POST /users/me/sync` for server code that has verified
 * the session itself (Next.js `auth()`), with the same semantics. Configured from the environment
 * like the handler, and writing through the same store (one pool per database per process); the
 * Clerk client, single-flight and rate limit are shared by the calls of a process. The package
 * entries (src/index.ts, src/lib/web.ts) give it the Postgres opener or not.
 */
import { type Env, parseConfig } from '../core/config.ts';
import { type PostgresOpener, sharedStore } from '../lib/handler.ts';
import { ensureClerkApi } from './deps.ts';
import { createEnsurer, type EnsureOptions, type EnsureResult, type Ensurer } from './ensure.ts';

export type { EnsureError, EnsureErrorCode, EnsureOutcome, EnsureResult } from './ensure.ts';

export interface EnsureUserOptions extends EnsureOptions {
  /** The variables to read: `CLERK_SECRET_KEY`, `DATABASE_URL` or `SUPABASE_URL` + key, … Default `process.env`. */
  env?: Env;
}

const ensurers = new Map<string, Promise<Ensurer>>();

/**
 * Mirrors the user (and the active organization and membership) unless the mirror has them, and
 * answers as `POST /users/me/sync` does: `{ ok: true, outcome }`, or `{ ok: false, error }` whose
 * `code` is `not_found`, `rate_limited`, `unavailable` or `internal`. A configuration problem
 * throws a ConfigError that names the variable to set.
 *
 * @example
 * // app/layout.tsx (Next.js App Router)
 * import { auth } from '@clerk/nextjs/server';
 * import { ensureUser } from 'clerk-supabase-sync';
 *
 * const { userId, orgId } = await auth();
 * if (userId) await ensureUser(userId, { organizationId: orgId });
 */
export async function ensureUserWith(
  userId: string,
  options: EnsureUserOptions,
  postgres?: PostgresOpener,
): Promise<EnsureResult> {
  if (typeof userId !== 'string' || userId === '')
    throw new TypeError('ensureUser: userId is empty; call it once the session has a user (auth().userId)');
  const env = options.env ?? (globalThis as { process?: { env: Env } }).process?.env ?? {};
  const config = parseConfig(env, { clerkSecretKey: true, noEmbedded: true });
  if (config.database.kind === 'embedded')
    throw new Error('unreachable: parseConfig requires a database here');
  const secretKey = config.clerkSecretKey as string;
  const shared = sharedStore(config.database, postgres);
  const key = JSON.stringify([shared.key, secretKey, config.clerkApiUrl]);
  let ensurer = ensurers.get(key);
  if (ensurer === undefined) {
    ensurer = shared.store.then((store) =>
      createEnsurer({ store, clerk: ensureClerkApi(secretKey, config.clerkApiUrl) }),
    );
    ensurers.set(key, ensurer);
    ensurer.catch(() => ensurers.delete(key));
  }
  return (await ensurer)(userId, { organizationId: options.organizationId });
}
