/**
 * @module `clerk-sync migrate`: applies, in version order and each once, the current project's
 * supabase/migrations/ together with the package's own migrations, over a direct connection.
 */
import { realpath } from 'node:fs/promises';
import { type DatabaseConfig, parseConfig } from '../../core/config.ts';
import { migrate as applyMigrations, MIGRATIONS_DIR } from '../../db/migrate.ts';
import { DATA_DIR, openDatabase } from '../../db/open.ts';
import { CliError, type Command } from '../command.ts';
import { allMigrations } from '../project.ts';

/** The database as the user can recognise it, without its password. */
export function describeDatabase(database: DatabaseConfig): string {
  if (database.kind !== 'postgres') return `the embedded database in ${DATA_DIR}/`;
  try {
    const url = new URL(database.url);
    url.password = '';
    url.search = '';
    return url.toString();
  } catch {
    return 'DATABASE_URL';
  }
}

// Only in the package's own repository (a clone, whose migrations are the package's) is the embedded
// database the quickstart's default.
const isPackageMigrations = async (dir: string) =>
  (await realpath(dir).catch(() => dir)) === (await realpath(MIGRATIONS_DIR).catch(() => MIGRATIONS_DIR));

export const migrate: Command = {
  summary: "apply the project's supabase/migrations/ and the package's own to DATABASE_URL",
  usage: [
    'clerk-sync migrate [--dir supabase/migrations] [--embedded] [--json]',
    '',
    "Applies, in version order and each once, the migrations in --dir (your app's, the ones",
    "clerk-sync init and clerk-sync rls wrote) and the package's own, to DATABASE_URL. Versions are",
    'recorded where supabase db push records them, so the two agree.',
    '',
    '  --dir        the migrations folder (default supabase/migrations; skipped when absent)',
    '  --embedded   without DATABASE_URL, use the embedded database in .data/ (for trying it out)',
    '  --json       print {"database", "applied", "current"}',
  ].join('\n'),
  options: { dir: { type: 'string' }, embedded: { type: 'boolean' }, json: { type: 'boolean' } },
  async run({ values }, env, io) {
    const config = parseConfig(env, { directDatabase: true });
    const dir = typeof values.dir === 'string' ? values.dir : 'supabase/migrations';
    if (config.database.kind === 'embedded' && !values.embedded && !(await isPackageMigrations(dir)))
      throw new CliError(
        'DATABASE_URL is missing: set it to the database to migrate (Supabase: Project Settings → Database → Connection string), or pass --embedded for the embedded database in .data/',
      );
    const migrations = await allMigrations(dir);
    const database = describeDatabase(config.database);
    const db = await openDatabase(config.database);
    try {
      const result = await applyMigrations(db, migrations);
      if (values.json) io.out(JSON.stringify({ database, ...result }));
      else if (result.applied.length === 0) io.out(`Schema is current (${result.current}) in ${database}.`);
      else
        io.out(`Applied ${result.applied.length} migration(s) to ${database}: ${result.applied.join(', ')}.`);
      return 0;
    } finally {
      await db.close();
    }
  },
};
