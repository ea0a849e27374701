/**
 * @module Postgres through a node-postgres pool (`DATABASE_URL`).
 */
import pg from 'pg';
import type { Database, Session } from './database.ts';

export interface PgOptions {
  /** Pool size. */
  max?: number;
  /** Server-side statement timeout in ms, kept below Svix's 15 s delivery timeout. */
  statementTimeoutMs?: number;
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
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    statement_timeout: options.statementTimeoutMs ?? 10_000,
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
          await client.query('rollback').catch(() => {});
          throw error;
        }
      }),
    close: () => pool.end(),
  };
}
