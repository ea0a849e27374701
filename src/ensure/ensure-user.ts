/**
 * @module `ensureUser(userId, options?)`: `POST /users/me/sync` for server code that has verified
 * the session itself (Next.js `auth()`), with the same semantics. Configured from the environment
 * like the receiver; the database connection and the Clerk client are opened on the first call
 * and shared by the later ones (and so are their single-flight and rate limit).
 */
import { type Config, ConfigError, type Env, parseConfig } from '../core/config.ts';
import type { Store } from '../core/store.ts';
import { ensureClerkApi } from './deps.ts';
import { createEnsurer, type EnsureOptions, type EnsureResult, type Ensurer } from './ensure.ts';

export type { EnsureError, EnsureErrorCode, EnsureOutcome, EnsureResult } from './ensure.ts';

export interface EnsureUserOptions extends EnsureOptions {
  /** The variables to read: `CLERK_SECRET_KEY`, `DATABASE_URL` or `SUPABASE_URL` + key, … Default `process.env`. */
  env?: Env;
}

const ensurers = new Map<string, Promise<Ensurer>>();

async function openStore(config: Config): Promise<Store> {
  if (config.database.kind === 'supabase') {
    const { supabaseStore } = await import('../store/supabase.ts');
    return supabaseStore(config.database);
  }
  const { openStore: openNodeStore } = await import('../node/store.ts');
  return openNodeStore(config);
}

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
export async function ensureUser(userId: string, options: EnsureUserOptions = {}): Promise<EnsureResult> {
  if (typeof userId !== 'string' || userId === '')
    throw new TypeError('ensureUser: userId is empty; call it once the session has a user (auth().userId)');
  const env = options.env ?? (globalThis as { process?: { env: Env } }).process?.env ?? {};
  const config = parseConfig(env, { clerkSecretKey: true });
  if (config.database.kind === 'embedded')
    throw new ConfigError([
      'DATABASE_URL is missing: ensureUser writes to your database; set DATABASE_URL, or SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY',
    ]);
  const key = JSON.stringify([config.database, config.clerkSecretKey, config.clerkApiUrl]);
  let ensurer = ensurers.get(key);
  if (ensurer === undefined) {
    const secretKey = config.clerkSecretKey as string;
    ensurer = openStore(config).then((store) =>
      createEnsurer({ store, clerk: ensureClerkApi(secretKey, config.clerkApiUrl) }),
    );
    ensurers.set(key, ensurer);
    ensurer.catch(() => ensurers.delete(key));
  }
  return (await ensurer)(userId, { organizationId: options.organizationId });
}
