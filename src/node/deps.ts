/**
 * @module Builds the Node runtime's dependencies from the parsed config: the store (Postgres, supabase-js,
 * or the embedded PGlite, migrated at start), and on the embedded default a dev signing secret.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Config } from '../core/config.ts';
import { createStore, type Store } from '../core/store.ts';
import { migrate } from '../db/migrate.ts';
import { sqlRpc } from '../db/sql-rpc.ts';
import { supabaseStore } from '../store/supabase.ts';
import { DATA_DIR, openDatabase } from './database.ts';

export const SECRET_FILE = `${DATA_DIR}/signing-secret`;

export interface NodeDeps {
  store: Store;
  signingSecret: string;
  /** Set when the secret was made (or read back) for the embedded default, to show the user. */
  devSecret: boolean;
}

/** The embedded default's signing secret: made once, kept in .data/ so restarts keep it. */
export async function devSigningSecret(): Promise<string> {
  const existing = await readFile(SECRET_FILE, 'utf8').catch(() => '');
  if (existing.trim().startsWith('whsec_')) return existing.trim();
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  await mkdir(DATA_DIR, { recursive: true });
  await writeFile(SECRET_FILE, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * Opens the store for `config`.
 * @example const { store, signingSecret } = await nodeDeps(parseConfig(process.env, { signingSecret: true }));
 */
export async function nodeDeps(config: Config): Promise<NodeDeps> {
  if (config.database.kind === 'supabase') {
    if (config.signingSecret === undefined)
      throw new Error(
        'CLERK_WEBHOOK_SIGNING_SECRET is missing: set it to the whsec_… signing secret of your Clerk webhook endpoint',
      );
    return { store: supabaseStore(config.database), signingSecret: config.signingSecret, devSecret: false };
  }
  const db = await openDatabase(config.database);
  if (config.database.kind === 'embedded') await migrate(db);
  const store = createStore(sqlRpc(db), () => db.close());
  const devSecret = config.signingSecret === undefined;
  return { store, signingSecret: config.signingSecret ?? (await devSigningSecret()), devSecret };
}
