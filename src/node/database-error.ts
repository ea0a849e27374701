/**
 * @module Says, in one line, why the configured database could not be used and what to change:
 * for the CLI, `npm start` and `doctor`. Names where the database is, never its password.
 */
import type { DatabaseConfig } from '../core/config.ts';
import { StoreError } from '../core/store.ts';

/** Where the database is, without its password: `127.0.0.1:5432/app`, `Supabase at <ref>.supabase.co`. */
export function describeDatabase(database: DatabaseConfig): string {
  if (database.kind === 'embedded') return 'the embedded database (.data/pglite)';
  try {
    const url = new URL(database.url);
    return database.kind === 'supabase'
      ? `Supabase at ${url.host}`
      : `${url.hostname}:${url.port || 5432}${url.pathname}`;
  } catch {
    return database.kind === 'supabase' ? 'Supabase' : 'DATABASE_URL';
  }
}

/** SQLSTATEs that mean the clerk-sync functions or tables are not there: the schema was never applied. */
const SCHEMA_MISSING = new Set(['42883', '42P01', '3F000']);

/**
 * Whether a store failure means the database has no clerk-sync schema (never migrated): a missing
 * function or table, or PostgREST not knowing the function (PGRST202).
 * @example schemaMissing(new StoreError('unavailable', '42883: function … does not exist', { sqlstate: '42883' })); // true
 */
export function schemaMissing(error: StoreError): boolean {
  return SCHEMA_MISSING.has(error.sqlstate ?? '') || /\bPGRST20[25]\b/.test(error.message);
}

const variable = (database: DatabaseConfig) =>
  database.kind === 'supabase' ? 'SUPABASE_URL' : 'DATABASE_URL';

/**
 * One line: what went wrong with the database and what to fix, or null when `error` is not a
 * database failure this knows.
 * @example explainDatabaseError(connectError, { kind: 'postgres', url }); // 'cannot reach the database at 127.0.0.1:9/app (connection refused): …'
 */
export function explainDatabaseError(error: unknown, database: DatabaseConfig): string | null {
  const cause = error instanceof StoreError ? (error.cause ?? error) : error;
  const code = (cause as { code?: unknown } | null)?.code;
  const sqlstate = error instanceof StoreError ? error.sqlstate : typeof code === 'string' ? code : undefined;
  const where = describeDatabase(database);
  const name = variable(database);
  let url: URL | null = null;
  try {
    url = database.kind === 'embedded' ? null : new URL(database.url);
  } catch {}
  const host = url?.hostname ?? '';
  const dbName = decodeURIComponent(url?.pathname.slice(1) ?? '');
  const user = decodeURIComponent(url?.username ?? '');
  const message = error instanceof Error ? error.message : String(error);

  if (error instanceof StoreError && schemaMissing(error))
    return `the database at ${where} has no clerk-sync schema: run clerk-sync migrate (or supabase db push) first`;
  switch (sqlstate ?? code) {
    case 'ECONNREFUSED':
      return `cannot reach the database at ${where} (connection refused): is it running, and are the host and port in ${name} right?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot find the database host '${host}': check the host name in ${name}`;
    case 'ETIMEDOUT':
      return `no answer from the database at ${where}: check the host and port in ${name}, and that this machine may reach it (firewall, VPN)`;
    case '3D000':
      return `the database '${dbName}' does not exist on ${url?.host ?? where}: create it (createdb ${dbName}) or fix the database name in ${name}`;
    case '28P01':
    case '28000':
      return `the database refused the login${user ? ` of user '${user}'` : ''}: check the user and password in ${name}`;
  }
  if (/timeout exceeded when trying to connect|Connection terminated/i.test(message))
    return `no answer from the database at ${where}: check the host and port in ${name}, and that this machine may reach it (firewall, VPN)`;
  if (database.kind === 'supabase' && /unreachable/i.test(message))
    return `cannot reach ${where}: check SUPABASE_URL and the network`;
  return null;
}
