/**
 * @module Where this package is installed (a clone, or node_modules/clerk-supabase-sync), and its version.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package's root folder (this file is src/node/ or dist/node/ under it). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The installed package's name and version, from its package.json. */
export function packageInfo(): { name: string; version: string } {
  return JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as { name: string; version: string };
}
