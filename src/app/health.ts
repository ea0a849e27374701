/**
 * @module What `GET /healthz` and the receiver's start-up say about the database: reachable, migrated,
 * and at the schema version this code expects — and, when not, what to do.
 */
import type { Result, StoreError, StoreErrorCode } from '../store/port.ts';
import { SCHEMA_VERSION } from '../store/port.ts';

const MIGRATE = 'run clerk-sync migrate';

export type Health =
  | { status: 'ok'; schema: string }
  /** The database answers but has no clerk-sync functions or tables: never migrated. */
  | { status: 'schema_missing'; expected: string; fix: typeof MIGRATE }
  | { status: 'schema_outdated'; expected: string; actual: string; fix: string }
  | { status: 'unavailable'; reason: StoreErrorCode };

/** SQLSTATEs that mean the clerk-sync functions, tables or schema are not there. */
const SCHEMA_MISSING = new Set(['42883', '42P01', '3F000']);

/**
 * Whether a store failure means the database has no clerk-sync schema: a missing function or
 * table, or PostgREST not knowing the function (PGRST202).
 * @example schemaMissing(new StoreError('unavailable', '42883: …', { sqlstate: '42883' })); // true
 */
export function schemaMissing(error: StoreError): boolean {
  return SCHEMA_MISSING.has(error.sqlstate ?? '') || /\bPGRST20[25]\b/.test(error.message);
}

/**
 * Reads the schema version and says what it means.
 * @example const health = await checkHealth(store.schemaVersion()); // { status: 'ok', schema: '…' }
 */
export async function checkHealth(
  version: Promise<Result<string>>,
): Promise<{ health: Health; error?: StoreError }> {
  const found = await version;
  if (!found.ok)
    return {
      health: schemaMissing(found.error)
        ? { status: 'schema_missing', expected: SCHEMA_VERSION, fix: MIGRATE }
        : { status: 'unavailable', reason: found.error.code },
      error: found.error,
    };
  if (found.value !== SCHEMA_VERSION)
    return {
      health: {
        status: 'schema_outdated',
        expected: SCHEMA_VERSION,
        actual: found.value,
        fix: found.value < SCHEMA_VERSION ? MIGRATE : 'upgrade clerk-supabase-sync',
      },
    };
  return { health: { status: 'ok', schema: found.value } };
}
