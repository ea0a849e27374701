/**
 * @module The package entry for bundles without Node's sockets (export conditions `workerd`, which
 * wrangler picks, `edge-light` (Next.js's edge runtime) and `worker`): the same handler, writing through
 * supabase-js only, so no node-postgres in the bundle.
 */
import { type ClerkSyncHandler, type ClerkSyncHandlerOptions, clerkSyncHandler } from './handler.ts';

export type { ClerkSyncHandler, ClerkSyncHandlerOptions } from './handler.ts';

/**
 * The webhook receiver as a Web-standard handler (SUPABASE_URL + service role key).
 * @example export default { fetch: (req, env) => (handler ??= createClerkSyncHandler({ env }))(req) };
 */
export function createClerkSyncHandler(options: ClerkSyncHandlerOptions = {}): ClerkSyncHandler {
  return clerkSyncHandler(options);
}
