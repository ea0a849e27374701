/**
 * @module The handler's store over `DATABASE_URL`: a node-postgres pool and the SQL entry points. Loaded
 * only when DATABASE_URL is set; node-postgres needs Node's sockets (Node, Bun, Deno, or nodejs_compat).
 */
import { createStore, type Store } from '../core/store.ts';
import { pgDatabase } from '../db/pg.ts';
import { sqlRpc } from '../db/sql-rpc.ts';

/** Opens a pool on `url`. */
export async function openPostgres(url: string): Promise<Store> {
  const db = pgDatabase(url);
  return createStore(sqlRpc(db), () => db.close());
}
