/**
 * @module Opens the configured database on Node: DATABASE_URL, or the embedded PGlite under .data/.
 */
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import type { DatabaseConfig } from '../core/config.ts';
import type { Database } from './database.ts';
import { pgDatabase } from './pg.ts';

export const DATA_DIR = '.data';
const LOCK_FILE = `${DATA_DIR}/pglite.lock`;

/**
 * Opens a direct database connection; the supabase-js configuration has none.
 * @example const db = await openDatabase(config.database);
 */
export async function openDatabase(database: DatabaseConfig): Promise<Database> {
  if (database.kind === 'postgres') return pgDatabase(database.url);
  if (database.kind === 'embedded') {
    await mkdir(DATA_DIR, { recursive: true });
    await lockEmbedded();
    // Loaded only here: PGlite's WebAssembly Postgres weighs ~40 MB of memory once imported.
    const { pgliteDatabase } = await import('./pglite.ts');
    const db = await pgliteDatabase(`${DATA_DIR}/pglite`).catch(async (error: unknown) => {
      await unlink(LOCK_FILE).catch(() => {});
      throw error;
    });
    return { ...db, close: () => db.close().finally(() => unlink(LOCK_FILE).catch(() => {})) };
  }
  throw new Error('openDatabase: a Supabase HTTP configuration has no direct connection; set DATABASE_URL');
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
};

// PGlite is one process's database: a second process opening the same folder would corrupt it.
async function lockEmbedded(): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(LOCK_FILE, String(process.pid), { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(LOCK_FILE, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder))
        throw new Error(
          `the embedded database in ${DATA_DIR}/ is in use by process ${holder} (npm start?): stop it first, or set DATABASE_URL`,
        );
      await unlink(LOCK_FILE).catch(() => {}); // left by a process that died
    }
  }
}
