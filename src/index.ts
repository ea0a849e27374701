/**
 * @module The package entry (`import … from 'clerk-supabase-sync'`): what the package offers, in one
 * place. Library functions (ensureUser) are exported here too; src/lib/web.ts mirrors this file for
 * bundles without Node's sockets.
 */
import { type ClerkSyncHandler, type ClerkSyncHandlerOptions, clerkSyncHandler } from './lib/handler.ts';

export type { ClerkSyncHandler, ClerkSyncHandlerOptions } from './lib/handler.ts';

/**
 * The webhook receiver as a Web-standard handler, mountable at any route: a POST is a delivery, a GET
 * the health check. Writes to DATABASE_URL (one pool per process) or through SUPABASE_URL + key.
 * @example export const POST = createClerkSyncHandler(); // app/api/webhooks/clerk/route.ts
 */
export function createClerkSyncHandler(options: ClerkSyncHandlerOptions = {}): ClerkSyncHandler {
  return clerkSyncHandler(options, async (url) => (await import('./lib/postgres.ts')).openPostgres(url));
}
