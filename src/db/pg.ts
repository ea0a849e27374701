/**
 * @module Postgres through a node-postgres pool (`DATABASE_URL`).
 */
import pg from 'pg';
import type { Database, Session } from './database.ts';

export interface PgOptions {
  /** Pool size. */
  max?: number;
  /** Server-side statement timeout in ms, below the receiver's 10 s deadline (default 8 s). */
  statementTimeoutMs?: number;
  /**
   * Client-side: how long a query may go without an answer before its connection is given up and
   * destroyed (default: the statement timeout + 1 s, still below the deadline). This is what frees
   * the pool from a connection that stopped answering without closing (a frozen network path).
   */
  queryTimeoutMs?: number;
  connectionTimeoutMs?: number;
  applicationName?: string;
}

// Return timestamptz and bigint columns as strings: the callers decide what they mean.
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === 1184 || oid === 1114 || oid === 20
      ? (v: string) => v
      : pg.types.getTypeParser(oid, format as 'text'),
};

function session(client: pg.PoolClient): Session {
  return {
    query: async <T>(sql: string, params?: unknown[]) => ({
      rows: (await client.query(sql, params as unknown[])).rows as T[],
    }),
    exec: async (sql: string) => {
      await client.query(sql);
    },
  };
}

/**
 * Opens a pooled connection to Postgres.
 * @example const db = pgDatabase(process.env.DATABASE_URL!, { max: 10 });
 */
export function pgDatabase(connectionString: string, options: PgOptions = {}): Database {
  const statementTimeout = options.statementTimeoutMs ?? 8_000;
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    statement_timeout: statementTimeout,
    // A query unanswered this long fails, and the pool destroys its client (released with the error).
    query_timeout: options.queryTimeoutMs ?? statementTimeout + 1_000,
    // A peer that disappears (host down, connection dropped by a middlebox) is noticed by TCP.
    keepAlive: true,
    keepAliveInitialDelayMillis: 5_000,
    idleTimeoutMillis: 10_000,
    application_name: options.applicationName ?? 'clerk-supabase-sync',
    types,
  });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on('error', () => {});

  async function withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let broken: Error | undefined;
    // A checked-out client whose backend goes away (pg_terminate_backend, a restart) emits 'error'
    // after the failed query; unheard, that would crash the process. The query already failed.
    const onError = (error: Error) => {
      broken = error;
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } catch (error) {
      broken = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  return {
    query: async <T>(sql: string, params?: unknown[]) => ({
      rows: (await pool.query(sql, params as unknown[])).rows as T[],
    }),
    withSession: (fn) => withClient((client) => fn(session(client))),
    transaction: (fn) =>
      withClient(async (client) => {
        await client.query('begin');
        try {
          const result = await fn(session(client));
          await client.query('commit');
          return result;
        } catch (error) {
          // Only a server that answered gets a rollback; a connection that did not (timeout, network)
          // is destroyed on release, which rolls back server-side — asking it would wait once more.
          if (
            typeof (error as { code?: unknown }).code === 'string' &&
            /^[0-9A-Z]{5}$/.test((error as { code: string }).code)
          )
            await client.query('rollback').catch(() => {});
          throw error;
        }
      }),
    close: () => pool.end(),
  };
}
