/**
 * @module Opens the configured store on Node: a direct connection (DATABASE_URL or the embedded
 * PGlite) or supabase-js.
 */
import type { Config } from '../core/config.ts';
import { createStore, type Store } from '../core/store.ts';
import { migrate } from '../db/migrate.ts';
import { sqlRpc } from '../db/sql-rpc.ts';
import { openDatabase } from './database.ts';

/**
 * Opens the store; the embedded database is migrated first.
 * @example const store = await openStore(parseConfig(process.env));
 */
export async function openStore(config: Config): Promise<Store> {
  if (config.database.kind === 'supabase') {
    const { supabaseStore } = await import('../store/supabase.ts');
    return supabaseStore(config.database);
  }
  const db = await openDatabase(config.database);
  if (config.database.kind === 'embedded') await migrate(db);
  return createStore(sqlRpc(db), () => db.close());
}
