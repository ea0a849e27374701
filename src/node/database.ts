/**
 * @module Opens the configured database on Node: DATABASE_URL, or the embedded PGlite under .data/.
 */
import { mkdir } from 'node:fs/promises';
import type { DatabaseConfig } from '../core/config.ts';
import type { Database } from '../db/database.ts';
import { pgDatabase } from '../db/pg.ts';
import { pgliteDatabase } from '../db/pglite.ts';

export const DATA_DIR = '.data';

/**
 * Opens a direct database connection; the supabase-js configuration has none.
 * @example const db = await openDatabase(config.database);
 */
export async function openDatabase(database: DatabaseConfig): Promise<Database> {
  if (database.kind === 'postgres') return pgDatabase(database.url);
  if (database.kind === 'embedded') {
    await mkdir(DATA_DIR, { recursive: true });
    return pgliteDatabase(`${DATA_DIR}/pglite`);
  }
  throw new Error('openDatabase: a Supabase HTTP configuration has no direct connection; set DATABASE_URL');
}
