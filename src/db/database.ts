/**
 * @module A minimal SQL session interface that both node-postgres and PGlite satisfy, so the
 * migration runner, the SQL store and the tests are written once.
 */

export interface Queryable {
  /** Runs one parameterised statement. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

export interface Session extends Queryable {
  /** Runs a script of several statements (no parameters). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  /** Runs `fn` in one transaction on one connection; rolls back if it throws. */
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
  /** Runs `fn` on one connection, outside any transaction the caller did not open. */
  withSession<T>(fn: (session: Session) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
