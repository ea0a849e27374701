/**
 * @module A Supabase CLI project (a folder with `supabase/`) as `init` and `migrate` see it: its own
 * migrations, the package's migrations in the form the project uses (in `public`, or in the schema it
 * chose with `init --schema`), and the two together in version order.
 */
import { readdir } from 'node:fs/promises';
import { loadMigrations, type Migration } from '../db/migrate.ts';
import { CliError } from './command.ts';

const SCHEMA_MARK = /^-- clerk-sync init --schema ([A-Za-z_][A-Za-z0-9_]*)\b/;
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;
const RESERVED_SCHEMAS = new Set([
  'clerk_sync',
  'information_schema',
  'auth',
  'storage',
  'realtime',
  'extensions',
  'graphql',
  'graphql_public',
  'vault',
  'supabase_migrations',
  'supabase_functions',
]);

/** The migration files of a folder, oldest first; none when there is no such folder. */
export async function projectMigrations(dir: string): Promise<Migration[]> {
  const exists = await readdir(dir).then(
    () => true,
    () => false,
  );
  return exists ? loadMigrations(dir) : [];
}

/**
 * The package's migrations with the mirror tables (every table or view they create in `public`) in
 * `schema`: each `public.<table>` becomes `<schema>.<table>`; the helpers and the clerk_sync_* entry
 * points stay in `public`, where PostgREST's `/rpc` finds them. Every other line is unchanged.
 * @example await packageMigrations('clerk'); // → [{ version, name, file, sql: '-- clerk-sync init --schema clerk …' }]
 */
export async function packageMigrations(schema = 'public'): Promise<Migration[]> {
  const shipped = await loadMigrations();
  if (schema === 'public') return shipped;
  if (!SCHEMA_NAME.test(schema))
    throw new CliError(
      `--schema ${JSON.stringify(schema)} is not a plain lower-case identifier: use a-z, 0-9 and _, e.g. --schema clerk`,
    );
  // Not the internal schema (no app role may use it), nor one that Postgres or Supabase own.
  if (RESERVED_SCHEMAS.has(schema) || schema.startsWith('pg_'))
    throw new CliError(
      `--schema ${schema} is taken (by clerk-sync, Postgres or Supabase): choose another, e.g. --schema clerk`,
    );
  const tables = new Set<string>();
  for (const m of shipped)
    for (const match of m.sql.matchAll(
      /\bcreate\s+(?:table|view|materialized\s+view)\s+(?:if\s+not\s+exists\s+)?public\.([a-z_][a-z0-9_]*)/gi,
    ))
      tables.add((match[1] as string).toLowerCase());
  if (tables.size === 0) return shipped;
  const qualified = new RegExp(`\\bpublic\\.(${[...tables].join('|')})\\b`, 'g');
  return shipped.map((m) => {
    if (m.sql.search(qualified) === -1) return m;
    const header =
      `-- clerk-sync init --schema ${schema}: the package's migration ${m.file}, its mirror tables in schema ${schema}.\n` +
      `create schema if not exists ${schema};\ngrant usage on schema ${schema} to authenticated, service_role;\n\n`;
    return { ...m, sql: header + m.sql.replace(qualified, `${schema}.$1`) };
  });
}

/**
 * The schema a project's copies of the package's migrations use (`init --schema`), or undefined when it
 * has none of them yet.
 */
export async function projectSchema(project: Migration[]): Promise<string | undefined> {
  const versions = new Set((await loadMigrations()).map((m) => m.version));
  const ours = project.filter((m) => versions.has(m.version));
  if (ours.length === 0) return undefined;
  for (const m of ours) {
    const mark = SCHEMA_MARK.exec(m.sql);
    if (mark) return mark[1];
  }
  return 'public';
}

/**
 * What `migrate` applies: the project's migrations, and the package's own that the project has no copy
 * of (in the project's schema), by version; a project's file wins over the package's of the same version.
 */
export async function allMigrations(dir: string): Promise<Migration[]> {
  const project = await projectMigrations(dir);
  const have = new Set(project.map((m) => m.version));
  const shipped = await packageMigrations((await projectSchema(project)) ?? 'public');
  return [...project, ...shipped.filter((m) => !have.has(m.version))].sort((a, b) =>
    a.version < b.version ? -1 : a.version > b.version ? 1 : 0,
  );
}
