/**
 * @module The package entry for bundles without Node's sockets (export conditions `workerd`, which
 * wrangler picks, `edge-light` (Next.js's edge runtime) and `worker`): the same handler, writing through
 * supabase-js only, so no node-postgres in the bundle.
 */
import { type EnsureResult, type EnsureUserOptions, ensureUserWith } from '../ensure/ensure-user.ts';
import { type ClerkSyncHandler, type ClerkSyncHandlerOptions, clerkSyncHandler } from './handler.ts';

export type {
  EnsureError,
  EnsureErrorCode,
  EnsureOutcome,
  EnsureResult,
  EnsureUserOptions,
} from '../ensure/ensure-user.ts';
export type { ClerkSyncHandler, ClerkSyncHandlerOptions } from './handler.ts';

/**
 * The webhook receiver as a Web-standard handler (SUPABASE_URL + service role key).
 * @example export default { fetch: (req, env) => (handler ??= createClerkSyncHandler({ env }))(req) };
 */
export function createClerkSyncHandler(options: ClerkSyncHandlerOptions = {}): ClerkSyncHandler {
  return clerkSyncHandler(options);
}

/**
 * `ensureUser` writing through supabase-js (SUPABASE_URL + service role key).
 * @example if (userId) await ensureUser(userId, { organizationId: orgId });
 */
export function ensureUser(userId: string, options: EnsureUserOptions = {}): Promise<EnsureResult> {
  return ensureUserWith(userId, options);
}
