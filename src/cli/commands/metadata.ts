/**
 * @module `clerk-sync metadata`: lists the keys found in the mirror's `public_metadata` (users,
 * organizations) with their JSON types and the share of rows that have them; with `--column
 * users.public_metadata.plan:text`, writes a migration adding a typed, indexed generated column from
 * one of those keys, for policies to filter on.
 */
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../../core/config.ts';
import { openStore } from '../../store/open.ts';
import type { MetadataKey } from '../../store/port.ts';
import { CliError, type Command, must } from '../command.ts';
import { projectMigrations, projectSchema } from '../project.ts';
import { ident, nextVersion } from './rls.ts';

/** The mirror tables whose `public_metadata` a column can read, by the name the command takes. */
const SOURCES = { users: 'users_private', organizations: 'organizations' } as const;
type Source = keyof typeof SOURCES;

/**
 * The column types offered, each reading only values of its JSON type (NULL for any other), so that
 * no metadata a user or Clerk writes can make the column's expression fail — and with it the sync.
 */
const TYPES = {
  text: { json: 'string', sql: 'text', read: (x: string) => `(${x} #>> '{}')` },
  boolean: { json: 'boolean', sql: 'boolean', read: (x: string) => `(${x})::boolean` },
  numeric: { json: 'number', sql: 'numeric', read: (x: string) => `(${x})::numeric` },
  // Whole numbers that fit: 1.5, 1e3 or a 20-digit number read as NULL rather than fail.
  bigint: {
    json: 'number',
    sql: 'bigint',
    read: (x: string) => `case when (${x} #>> '{}') ~ '^-?[0-9]{1,18}$' then (${x} #>> '{}')::bigint end`,
  },
  jsonb: { json: null, sql: 'jsonb', read: (x: string) => x },
} as const;
type ColumnType = keyof typeof TYPES;
const ALIASES: Record<string, ColumnType> = {
  integer: 'bigint',
  int: 'bigint',
  bool: 'boolean',
  json: 'jsonb',
};

const KEY = /^[A-Za-z0-9_]+$/;
const MAX_IDENTIFIER = 63;

export interface MetadataColumn {
  source: Source;
  table: string;
  /** The keys from `public_metadata` down to the value. */
  path: string[];
  type: ColumnType;
  /** The generated column's name: `public_metadata_<keys joined by _>`. */
  column: string;
}

/**
 * Reads `users.public_metadata.plan:text` (nested keys: `organizations.public_metadata.billing.tier:text`),
 * or throws a one-line error saying what is wrong and what would be right.
 * @example parseColumn('users.public_metadata.plan:text').column; // 'public_metadata_plan'
 */
export function parseColumn(spec: string): MetadataColumn {
  const example = 'e.g. --column users.public_metadata.plan:text';
  const colon = spec.lastIndexOf(':');
  if (colon === -1) throw new CliError(`--column ${JSON.stringify(spec)} has no type: ${example}`);
  const typeName = spec.slice(colon + 1).toLowerCase();
  const type = (typeName in TYPES ? typeName : ALIASES[typeName]) as ColumnType | undefined;
  if (type === undefined)
    throw new CliError(
      `--column type ${JSON.stringify(typeName)} is not one of ${Object.keys(TYPES).join(', ')} (or integer): ${example}`,
    );
  const [source, field, ...path] = spec.slice(0, colon).split('.');
  if (source === undefined || !(source in SOURCES))
    throw new CliError(
      `--column ${JSON.stringify(spec)} must start with users. or organizations. (the mirror tables with public_metadata): ${example}`,
    );
  if (field !== 'public_metadata' || path.length === 0)
    throw new CliError(`--column ${JSON.stringify(spec)} must name a key of public_metadata: ${example}`);
  const bad = path.find((k) => !KEY.test(k));
  if (bad !== undefined)
    throw new CliError(
      `--column key ${JSON.stringify(bad)} is not letters, digits and _ only: rename the key in Clerk, or read it in SQL yourself`,
    );
  const column = `public_metadata_${path.join('_')}`;
  if (column.length > MAX_IDENTIFIER)
    throw new CliError(`--column ${JSON.stringify(spec)} makes a column name over Postgres' 63 characters`);
  return { source: source as Source, table: SOURCES[source as Source], path, type, column };
}

/**
 * The migration's SQL: a stored generated column (typed, NULL when the key is absent or of another
 * JSON type) and its index. Idempotent.
 * @example metadataMigration(parseColumn('users.public_metadata.plan:text'), 'public');
 */
export function metadataMigration(c: MetadataColumn, schema: string): string {
  const t = `${ident(schema)}.${ident(c.table)}`;
  const col = ident(c.column);
  const value = `public_metadata #> '{${c.path.join(',')}}'`;
  const spec = TYPES[c.type];
  const expression =
    spec.json === null
      ? spec.read(value)
      : `case when jsonb_typeof(${value}) = '${spec.json}' then ${spec.read(value)} end`;
  const index = ident(`${c.table}_${c.column}_idx`.slice(0, MAX_IDENTIFIER));
  return `-- A typed, indexed column of ${t} read from public_metadata.${c.path.join('.')}, for policies
-- and queries to filter on (e.g. \`using (${c.column} = 'pro')\`). Generated and stored: Postgres keeps it
-- current with every write of the mirror. It reads only a JSON ${spec.json ?? 'value'}${
    spec.json === null ? '' : ` (NULL when the key is absent or holds another type)`
  }, so no metadata can make a write fail.
-- Generated by \`clerk-sync metadata --column ${c.source}.public_metadata.${c.path.join('.')}:${c.type}\`.
-- Safe to apply again. Needs the clerk-supabase-sync migrations (20261202600000 or later: its writers
-- list their columns, so they leave this one to Postgres).

alter table ${t}
  add column if not exists ${col} ${spec.sql}
  generated always as (${expression}) stored;

create index if not exists ${index} on ${t} (${col});
`;
}

function table(keys: MetadataKey[]): string[] {
  if (keys.length === 0) return [];
  const width = Math.max(...keys.map((k) => k.path.length), 3);
  return keys.map(
    (k) =>
      `  ${k.path.padEnd(width)}  ${k.type.padEnd(7)}  ${((100 * k.rows) / k.total).toFixed(1).padStart(5)}%  (${k.rows}/${k.total})`,
  );
}

export const metadata: Command = {
  summary: "list the keys of the mirror's public_metadata, or add a typed column from one (--column)",
  usage: [
    'clerk-sync metadata [--json]',
    'clerk-sync metadata --column users.public_metadata.plan:text [--dir supabase/migrations] [--dry-run] [--json]',
    '',
    "Lists the keys found in the public_metadata of the mirror's users and organizations (nested ones",
    'as dotted paths), each with its JSON type and the share of rows that have it. Reads DATABASE_URL',
    '(or SUPABASE_URL and the service role key).',
    '',
    'With --column <users|organizations>.public_metadata.<key>[.<key>…]:<type>, writes a migration',
    'adding to users_private or organizations a generated, indexed column public_metadata_<key> of',
    'that type (text, boolean, numeric, bigint/integer, jsonb), for policies to filter on. Apply it with',
    'supabase db push or clerk-sync migrate.',
    '',
    '  --column   what to add, e.g. users.public_metadata.plan:text',
    '  --dir      migrations folder (default supabase/migrations)',
    '  --dry-run  print the SQL instead of writing it',
    '  --json     print the keys (or {"file", "column"}) as JSON',
  ].join('\n'),
  options: {
    column: { type: 'string' },
    dir: { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }, env, io) {
    if (positionals.length > 0)
      throw new CliError(
        `metadata takes no arguments (got ${positionals.join(' ')}): use --column to add one`,
      );
    if (typeof values.column === 'string') {
      const c = parseColumn(values.column);
      const dir = typeof values.dir === 'string' ? values.dir : 'supabase/migrations';
      // The mirror tables live where the project's copies of the package's migrations put them (init --schema).
      const schema = (await projectSchema(await projectMigrations(dir))) ?? 'public';
      const sql = metadataMigration(c, schema);
      if (values['dry-run']) {
        io.out(sql);
        return 0;
      }
      const isDir = await stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (!isDir)
        throw new CliError(
          `no folder ${dir}: run this at the root of your Supabase project (supabase init makes supabase/migrations), or pass --dir`,
        );
      const file = join(
        dir,
        `${nextVersion(await readdir(dir))}_metadata_${c.source}_${c.path.join('_')}.sql`,
      );
      await writeFile(file, sql, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
        throw new CliError(`cannot write ${file}: ${error.code ?? error.message}`);
      });
      const column = `${schema}.${c.table}.${c.column}`;
      if (values.json) io.out(JSON.stringify({ file, column }));
      else
        io.out(`Wrote ${file} (${column} ${c.type}). Apply it with supabase db push or clerk-sync migrate.`);
      return 0;
    }
    if (values.dir !== undefined || values['dry-run'])
      throw new CliError(
        '--dir and --dry-run go with --column, e.g. --column users.public_metadata.plan:text',
      );
    const store = await openStore(parseConfig(env));
    let keys: MetadataKey[];
    try {
      keys = must(await store.metadataKeys());
    } finally {
      await store.close();
    }
    if (values.json) {
      io.out(JSON.stringify(keys));
      return 0;
    }
    for (const source of Object.keys(SOURCES) as Source[]) {
      const of = keys.filter((k) => k.source === source);
      io.out(of.length === 0 ? `${source}: no public_metadata keys` : `${source} (${of[0]?.total} rows):`);
      for (const line of table(of)) io.out(line);
    }
    return 0;
  },
};
