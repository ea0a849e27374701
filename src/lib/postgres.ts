/**
 * @module The handler's store over `DATABASE_URL`: a node-postgres pool and the SQL entry points. Loaded
 * only when DATABASE_URL is set; node-postgres needs Node's sockets (Node, Bun, Deno, or nodejs_compat).
 */

import { pgDatabase } from '../db/pg.ts';
import type { Store } from '../store/port.ts';
import { sqlStore } from '../store/sql.ts';

/** Opens a pool on `url`. */
export async function openPostgres(url: string): Promise<Store> {
  const db = pgDatabase(url);
  return sqlStore(db, () => db.close());
}
