/**
 * @module Opens the configured store on Node: a direct connection (DATABASE_URL or the embedded
 * PGlite) or supabase-js.
 */
import type { Config } from '../core/config.ts';
import { migrate } from '../db/migrate.ts';
import { openDatabase } from '../db/open.ts';
import type { Store } from './port.ts';
import { sqlStore } from './sql.ts';

/**
 * Opens the store; the embedded database is migrated first.
 * @example const store = await openStore(parseConfig(process.env));
 */
export async function openStore(config: Config): Promise<Store> {
  if (config.database.kind === 'supabase') {
    const { supabaseStore } = await import('./supabase.ts');
    return supabaseStore(config.database);
  }
  const db = await openDatabase(config.database);
  if (config.database.kind === 'embedded') await migrate(db);
  return sqlStore(db, () => db.close());
}
