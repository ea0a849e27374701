/**
 * @module The store transport over a direct connection (node-postgres pool or PGlite): one
 * `select` of the SQL function per call; failures sorted by the one policy (src/store/failure.ts).
 */
import type { Queryable } from '../db/database.ts';
import { batched } from './batch.ts';
import { classify } from './failure.ts';
import { createStore, type Result, type Rpc, type Store, StoreError } from './port.ts';

const IDENT = /^[a-z_][a-z0-9_]*$/;

/** A jsonb argument encoded ahead of its call (`Rpc.encodeJson`). */
class JsonText {
  constructor(readonly text: string) {}
}

// The jsonb parameters of our SQL functions go as JSON text; the others as they are (a string array
// becomes a Postgres text[]). By name, because an empty array is both '[]' and '{}'.
const JSONB_ARGS = new Set(['rows', 'data', 'payload', 'events']);
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
    let params: unknown[];
    try {
      params = names.map((n) => encode(n, args[n]));
    } catch (error) {
      // JSON.stringify's recursion ends before deep nesting does: the content, not the database.
      if (!(error instanceof RangeError)) throw error;
      const message = `${fn}: an argument is nested too deeply to encode`;
      return { ok: false, error: new StoreError('rejected', message, { cause: error, reason: 'too_deep' }) };
    }
    try {
      const { rows } = await db.query<Record<string, unknown>>(sql, params);
      return { ok: true, value: returns === 'scalar' ? rows[0]?.value : rows };
    } catch (error) {
      return { ok: false, error: classify(error) } satisfies Result<never>;
    }
  };
  rpc.encodeJson = encodeJson;
  return rpc;
}

/**
 * The store over a direct connection as a long-running process uses it: concurrent deliveries are
 * applied together (group commit, src/store/batch.ts).
 * @example const store = sqlStore(db, () => db.close());
 */
export function sqlStore(db: Queryable, close?: () => Promise<void>): Store {
  return batched(createStore(sqlRpc(db), close));
}
