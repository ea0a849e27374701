/**
 * @module The store transport over a direct connection (node-postgres pool or PGlite): one
 * `select` of the SQL function per call, and Postgres failures sorted into retryable or final.
 */

import type { Queryable } from '../db/database.ts';
import type { Result, Rpc, StoreErrorCode } from './port.ts';
import { StoreError } from './port.ts';

const IDENT = /^[a-z_][a-z0-9_]*$/;

/** A jsonb argument encoded ahead of its call (`Rpc.encodeJson`). */
class JsonText {
  constructor(readonly text: string) {}
}

// The jsonb parameters of our SQL functions go as JSON text; the others as they are (a string array
// becomes a Postgres text[]). By name, because an empty array is both '[]' and '{}'.
const JSONB_ARGS = new Set(['rows', 'data', 'payload']);
const encode = (name: string, value: unknown): unknown =>
  value instanceof JsonText
    ? value.text
    : value !== null && (JSONB_ARGS.has(name) || (typeof value === 'object' && !Array.isArray(value)))
      ? JSON.stringify(value)
      : value;

const encodeJson = (value: unknown): JsonText => new JsonText(JSON.stringify(value));

/**
 * Calls `public.<fn>(name => $1, …)` on `db`.
 * @example const store = createStore(sqlRpc(pool));
 */
export function sqlRpc(db: Queryable): Rpc {
  const rpc: Rpc = async (fn, args, returns) => {
    const names = Object.keys(args);
    if (!IDENT.test(fn) || !names.every((n) => IDENT.test(n)))
      throw new Error(`sqlRpc: bad identifier in ${fn}`);
    const call = `public.${fn}(${names.map((n, i) => `${n} => $${i + 1}`).join(', ')})`;
    const sql = returns === 'scalar' ? `select ${call} as value` : `select * from ${call}`;
    try {
      const { rows } = await db.query<Record<string, unknown>>(
        sql,
        names.map((n) => encode(n, args[n])),
      );
      return { ok: true, value: returns === 'scalar' ? rows[0]?.value : rows };
    } catch (error) {
      return { ok: false, error: classify(error) } satisfies Result<never>;
    }
  };
  rpc.encodeJson = encodeJson;
  return rpc;
}

const TRANSIENT_SQLSTATE: Record<string, StoreErrorCode> = {
  '40001': 'conflict', // serialization_failure
  '40P01': 'conflict', // deadlock_detected
  '55P03': 'conflict', // lock_not_available
  '57014': 'timeout', // query_canceled (statement_timeout)
  '57P01': 'unavailable', // admin_shutdown (pg_terminate_backend)
  '57P02': 'unavailable', // crash_shutdown
  '57P03': 'unavailable', // cannot_connect_now (starting up)
  '53300': 'unavailable', // too_many_connections
  '53400': 'unavailable', // configuration_limit_exceeded
};

const NETWORK =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection.*(closed|lost)|Query read timeout/i;

/** The first line of a database message, quoted values (which can be personal data) blanked. */
export const redactValues = (message: string): string =>
  message.replace(/"[^"]*"/g, '"…"').split('\n')[0] as string;

/** Sorts a database failure into a StoreError code; messages keep no quoted values (they can be personal data). */
export function classify(error: unknown): StoreError {
  const e = error as { code?: unknown; message?: unknown };
  const sqlstate = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const redacted = redactValues(message);
  let code: StoreErrorCode = 'rejected';
  if (sqlstate !== undefined)
    code = TRANSIENT_SQLSTATE[sqlstate] ?? (sqlstate.startsWith('08') ? 'unavailable' : 'rejected');
  else if (NETWORK.test(message) || (typeof e.code === 'string' && NETWORK.test(e.code)))
    code = 'unavailable';
  if (/Query read timeout/i.test(message)) code = 'timeout';
  return new StoreError(code, sqlstate === undefined ? redacted : `${sqlstate}: ${redacted}`, {
    cause: error,
    sqlstate,
  });
}
