/**
 * @module Says, in one line, why the configured database could not be used and what to change:
 * for the CLI, `npm start` and `doctor`. Names where the database is, never its password.
 */

import { checkHealth, schemaMissing } from '../app/health.ts';
import type { DatabaseConfig } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { type Store, StoreError } from '../store/port.ts';

/**
 * Where the database is, without its password.
 * @example describeDatabase({ kind: 'postgres', url: 'postgres://u:pw@127.0.0.1:5432/app' }); // '127.0.0.1:5432/app'
 */
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

/**
 * Says plainly, at start-up, when the database cannot take deliveries yet (unreachable, never
 * migrated, another schema version). The receiver serves anyway: /healthz says the same, and
 * deliveries are answered 503 (Svix retries them) until it is fixed.
 * @example await checkDatabaseAtStart(store, config.database, logger);
 */
export async function checkDatabaseAtStart(
  store: Store,
  database: DatabaseConfig,
  logger: Logger,
): Promise<void> {
  const { health, error } = await checkHealth(store.schemaVersion());
  if (health.status === 'ok') return;
  const where = describeDatabase(database);
  const line = { database: where, health: health.status };
  const until = 'until then every delivery is answered 503 and Svix retries it';
  if (health.status === 'schema_missing')
    logger.error(
      line,
      `the database at ${where} has no clerk-sync schema: run clerk-sync migrate (or supabase db push); ${until}`,
    );
  else if (health.status === 'schema_outdated')
    logger.error(
      line,
      `the database at ${where} has schema ${health.actual}, this version expects ${health.expected}: ${health.fix}; /healthz answers 503 until then`,
    );
  else
    logger.error(
      line,
      `${(error && explainDatabaseError(error, database)) ?? `the database at ${where} is not answering (${health.reason})`}; ${until}`,
    );
}
