/**
 * @module The embedded default: PGlite (Postgres in WebAssembly), in memory or under a folder.
 */
import { PGlite } from '@electric-sql/pglite';
import type { Database, Session } from './database.ts';

/**
 * Opens PGlite; `dataDir` undefined keeps it in memory.
 * @example const db = await pgliteDatabase('.data/pglite');
 */
export async function pgliteDatabase(dataDir?: string): Promise<Database> {
  const db = await PGlite.create(dataDir === undefined ? {} : { dataDir });
  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): Session => ({
    query: async <T>(sql: string, params?: unknown[]) => ({
      rows: (await q.query<T>(sql, params, { parsers: textTimestamps })).rows,
    }),
    exec: async (sql: string) => {
      await q.exec(sql);
    },
  });
  const root = wrap(db);
  return {
    query: root.query,
    withSession: (fn) => fn(root),
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    close: () => db.close(),
  };
}

// Same as node-postgres here: timestamptz, timestamp and bigint as strings.
const asText = (v: string) => v;
const textTimestamps = { 1184: asText, 1114: asText, 20: asText };
