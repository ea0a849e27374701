/**
 * @module The package entry (`import … from 'clerk-supabase-sync'`): what the package offers, in one
 * place. Library functions (ensureUser) are exported here too; src/lib/web.ts mirrors this file for
 * bundles without Node's sockets.
 */
import { type EnsureResult, type EnsureUserOptions, ensureUserWith } from './ensure/ensure-user.ts';
import { type ClerkSyncHandler, type ClerkSyncHandlerOptions, clerkSyncHandler } from './lib/handler.ts';

export type {
  EnsureError,
  EnsureErrorCode,
  EnsureOutcome,
  EnsureResult,
  EnsureUserOptions,
} from './ensure/ensure-user.ts';
export type { ClerkSyncHandler, ClerkSyncHandlerOptions } from './lib/handler.ts';

const openPostgres = async (url: string) => (await import('./lib/postgres.ts')).openPostgres(url);

/**
 * The webhook receiver as a Web-standard handler, mountable at any route: a POST is a delivery, a GET
 * the health check. Writes to DATABASE_URL (one pool per process) or through SUPABASE_URL + key.
 * @example export const POST = createClerkSyncHandler(); // app/api/webhooks/clerk/route.ts
 */
export function createClerkSyncHandler(options: ClerkSyncHandlerOptions = {}): ClerkSyncHandler {
  return clerkSyncHandler(options, openPostgres);
}

/**
 * The user is mirrored before their first request: `POST /users/me/sync` for server code that has
 * verified the session (README, "The user is mirrored before their first request").
 * @example const { userId, orgId } = await auth(); if (userId) await ensureUser(userId, { organizationId: orgId });
 */
export function ensureUser(userId: string, options: EnsureUserOptions = {}): Promise<EnsureResult> {
  return ensureUserWith(userId, options, openPostgres);
}
