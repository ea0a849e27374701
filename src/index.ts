/**
 * @module The package entry (`import … from 'clerk-supabase-sync'`): re-exports only, so that what the
 * package offers is read in one place. Library functions (ensureUser) are exported here.
 */
export {
  type ClerkSyncHandler,
  type ClerkSyncHandlerOptions,
  createClerkSyncHandler,
} from './lib/handler.ts';
