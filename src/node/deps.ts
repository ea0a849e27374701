/**
 * @module Builds the Node runtime's dependencies from the parsed config: the store (Postgres, supabase-js,
 * or the embedded PGlite, migrated at start), and on the embedded default a dev signing secret.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Config } from '../core/config.ts';
import { DATA_DIR } from '../db/open.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/port.ts';

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
 * Opens the store for `config` and settles the signing secret (parseConfig has already required
 * one everywhere but on the embedded default).
 * @example const { store, signingSecret } = await nodeDeps(parseConfig(process.env, { signingSecret: true }));
 */
export async function nodeDeps(config: Config): Promise<NodeDeps> {
  const store = await openStore(config);
  const devSecret = config.signingSecret === undefined;
  return { store, signingSecret: config.signingSecret ?? (await devSigningSecret()), devSecret };
}
