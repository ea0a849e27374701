/**
 * @module `clerk-sync rls <table>`: writes a migration that secures an app table by owner — a
 * `user_id` column defaulting to `requesting_user_id()`, its index, RLS and the four owner policies
 * for `authenticated` (the pattern of Clerk's Supabase guide) — or, with `--org`, by organization
 * membership: an `organization_id` column defaulting to the active organization, the four policies
 * open to the organization's members (in any of their organizations, from the mirror), writes
 * optionally requiring a permission (`--permission org:projects:write`, `has_org_permission`).
 */
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError, type Command } from '../command.ts';

export interface RlsTarget {
  schema: string;
  table: string;
  /** The owner column, `user_id` by default (`organization_id` with `org`). */
  column: string;
  /** Secure by organization membership; `permission`: the key a member needs to write. */
  org?: { permission?: string };
}

/** A permission key as Clerk writes them: `org:<feature>:<permission>`. */
const PERMISSION = /^org:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_IDENTIFIER = 63;

// PostgreSQL's reserved key words (including those allowed only as function or type names): as
// table or column names they must be quoted.
const RESERVED = new Set(
  `all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate
  collation column concurrently constraint create cross current_catalog current_date current_role
  current_schema current_time current_timestamp current_user default deferrable desc distinct do else end
  except false fetch for foreign freeze from full grant group having ilike in initially inner intersect into
  is isnull join lateral leading left like limit localtime localtimestamp natural not notnull null offset on
  only or order outer overlaps placing primary references returning right select session_user similar some
  symmetric system_user table tablesample then to trailing true union unique user using variadic verbose
  when where window with`.split(/\s+/),
);

/** An identifier as SQL: bare when Postgres would read it back unchanged, quoted otherwise. */
export function ident(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !RESERVED.has(name) ? name : `"${name}"`;
}

/** `table_column_suffix`, cut so that it fits Postgres' 63-byte identifiers. */
const derivedName = (table: string, column: string, suffix: string) =>
  `${`${table}_${column}`.slice(0, MAX_IDENTIFIER - suffix.length - 1)}_${suffix}`;

type PolicyCommand = 'select' | 'insert' | 'update' | 'delete';

/** The four owner policies, named as sentences (shortened when the table name makes them too long). */
export function policyNames(table: string): Record<PolicyCommand, string> {
  const verbs = { select: 'read', insert: 'create', update: 'update', delete: 'delete' } as const;
  const what = `Users can update their own ${table}`.length > MAX_IDENTIFIER ? 'rows' : table;
  return {
    select: `Users can ${verbs.select} their own ${what}`,
    insert: `Users can ${verbs.insert} their own ${what}`,
    update: `Users can ${verbs.update} their own ${what}`,
    delete: `Users can ${verbs.delete} their own ${what}`,
  };
}

/** The four organization policies, named as sentences (shortened like the owner ones). */
export function orgPolicyNames(table: string): Record<PolicyCommand, string> {
  const what = `Members can update their organization's ${table}`.length > MAX_IDENTIFIER ? 'rows' : table;
  return {
    select: `Members can read their organization's ${what}`,
    insert: `Members can create their organization's ${what}`,
    update: `Members can update their organization's ${what}`,
    delete: `Members can delete their organization's ${what}`,
  };
}

/** What the owner and organization migrations differ in. */
function scheme(target: RlsTarget, c: string) {
  if (target.org === undefined) {
    const owner = `${c} = (select public.requesting_user_id())`;
    return {
      names: policyNames(target.table),
      summary: `by owner: each row belongs to the Clerk user in ${c}, and
-- signed-in users (role authenticated) read and change only their own rows; anon gets no policy, so
-- it sees and changes nothing. The pattern of Clerk's Supabase guide, with requesting_user_id()
-- (the JWT sub claim) rather than auth.uid(), which would cast Clerk's ids to uuid.`,
      flags: target.column === 'user_id' ? '' : ` --column ${target.column}`,
      needs: 'public.requesting_user_id()',
      what: 'Owner',
      ids: 'Clerk user ids are text (user_…)',
      fill: 'a requesting user',
      defaultTo: 'public.requesting_user_id()',
      newRows: 'New rows get the inserting user.',
      ownerless: 'invisible to users until you give them an owner',
      heading: 'Owner policies for authenticated: (select …) evaluates the helper once per statement',
      read: owner,
      write: owner,
    };
  }
  const permission = target.org.permission;
  // `= any (array(…))`: an init plan evaluated once per statement whose result the index on the
  // column can take (an `in (select …)` of a set-returning function is planned as a sequential
  // scan filtered by a hashed subplan: ×100 the service role's time on 1M rows in the bench).
  const member = `${c} = any (array(select public.requesting_user_organization_ids()))`;
  return {
    names: orgPolicyNames(target.table),
    summary: `by organization: each row belongs to the Clerk
-- organization in ${c}, and signed-in users (role authenticated) read and change the rows of
-- every organization they are a member of (from the mirror's memberships, not only the
-- organization active in their token)${
      permission === undefined
        ? ''
        : `; creating, changing and deleting a row also needs the permission
-- ${permission} in its organization (through the member's role: has_org_permission)`
    }. anon gets no policy, so it sees and changes nothing.`,
    flags: ` --org${target.column === 'organization_id' ? '' : ` --column ${target.column}`}${
      permission === undefined ? '' : ` --permission ${permission}`
    }`,
    needs:
      'public.requesting_org_id(),\n-- public.requesting_user_organization_ids() and public.has_org_permission()',
    what: 'Organization',
    ids: 'Clerk organization ids are text (org_…)',
    fill: 'an active organization',
    defaultTo: 'public.requesting_org_id()',
    newRows: "New rows get the inserting user's active organization.",
    ownerless: 'invisible to members until you give them an organization',
    heading: 'Organization policies for authenticated: (select …) reads the memberships once per statement',
    read: member,
    write:
      permission === undefined
        ? member
        : // Uncorrelated: the organizations where the user has the permission are found once per
          // statement (has_org_permission once per membership), not once per row.
          `${c} = any (array(select o from public.requesting_user_organization_ids() o\n    where public.has_org_permission(o, '${permission}')))`,
  };
}

/**
 * The migration's SQL: idempotent, so applying it twice changes nothing the second time.
 * @example await db.exec(rlsMigration({ schema: 'public', table: 'todos', column: 'user_id' }));
 */
export function rlsMigration(target: RlsTarget): string {
  const { schema, table, column } = target;
  const t = `${ident(schema)}.${ident(table)}`;
  const c = ident(column);
  const regclass = `'${t}'::regclass`;
  const notNull = ident(derivedName(table, column, 'not_null'));
  const index = ident(derivedName(table, column, 'idx'));
  const k = scheme(target, c);
  const names = k.names;
  const schemaGrant =
    schema === 'public'
      ? ''
      : `-- The table's privileges mean nothing without access to its schema.\ngrant usage on schema ${ident(schema)} to authenticated;\n`;
  const policy = (command: keyof typeof names, clauses: string) => {
    const name = `"${names[command]}"`;
    return `drop policy if exists ${name} on ${t};
create policy ${name}
  on ${t} for ${command} to authenticated
  ${clauses};`;
  };
  return `-- Row-level security for ${t} ${k.summary}
-- Generated by \`clerk-sync rls ${schema}.${table}${k.flags}\`.
-- Safe to apply again: every step checks what is already there. Needs ${k.needs}
-- from the clerk-supabase-sync migrations.

-- ============================================================================================
-- ${k.what} column
-- ============================================================================================

-- Added without a default, then given one: adding it with a default would rewrite every existing
-- row (and a migration has no ${k.fill} to fill in anyway). ${k.newRows}
alter table ${t} add column if not exists ${c} text;

-- An existing column must hold text: ${k.ids}, not uuids.
do $$
declare
  v_type regtype;
begin
  select a.atttypid::regtype into v_type
  from pg_catalog.pg_attribute a
  where a.attrelid = ${regclass} and a.attname = '${column}' and not a.attisdropped;
  if v_type not in ('text'::regtype, 'character varying'::regtype) then
    raise exception '% is %, but ${k.ids}: change its type to text first',
      '${schema}.${table}.${column}', v_type;
  end if;
end
$$;

alter table ${t} alter column ${c} set default ${k.defaultTo};

-- NOT NULL. A plain \`set not null\` fails while rows without an owner exist, so it is set only
-- when every row has one (always so for an empty table). Otherwise a CHECK constraint marked NOT
-- VALID enforces it for every new or changed row, while existing ownerless rows stay as they are:
-- ${k.ownerless}. Then finish with
--   alter table ${t} validate constraint ${notNull};
--   alter table ${t} alter column ${c} set not null;
do $$
begin
  if not exists (select 1 from ${t} where ${c} is null) then
    alter table ${t} alter column ${c} set not null;
  elsif not exists (
    select 1 from pg_catalog.pg_constraint
    where conrelid = ${regclass} and conname = '${derivedName(table, column, 'not_null')}'
  ) then
    alter table ${t} add constraint ${notNull} check (${c} is not null) not valid;
  end if;
end
$$;

-- Every policy filters on ${c}. (On a large, busy table, create this index beforehand with
-- \`create index concurrently\`, which cannot run inside a migration's transaction.)
create index if not exists ${index} on ${t} (${c});

-- ============================================================================================
-- Row-level security and privileges
-- ============================================================================================

alter table ${t} enable row level security;

${schemaGrant}grant select, insert, update, delete on table ${t} to authenticated;

-- Inserting into a serial or identity column draws from its sequence, which needs USAGE.
do $$
declare
  v_sequence regclass;
begin
  for v_sequence in
    select d.objid::regclass
    from pg_catalog.pg_depend d
    join pg_catalog.pg_class s on s.oid = d.objid and s.relkind = 'S'
    where d.refobjid = ${regclass} and d.classid = 'pg_catalog.pg_class'::regclass and d.deptype in ('a', 'i')
  loop
    execute format('grant usage on sequence %s to authenticated', v_sequence);
  end loop;
end
$$;

-- ============================================================================================
-- ${k.heading}
-- ============================================================================================

${policy('select', `using (${k.read})`)}

${policy('insert', `with check (${k.write})`)}

${policy('update', `using (${k.write})\n  with check (${k.write})`)}

${policy('delete', `using (${k.write})`)}
`;
}

/** `YYYYMMDDHHMMSS` in UTC. */
const version = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/\D/g, '');
const versionMs = (v: string) =>
  Date.UTC(
    +v.slice(0, 4),
    +v.slice(4, 6) - 1,
    +v.slice(6, 8),
    +v.slice(8, 10),
    +v.slice(10, 12),
    +v.slice(12, 14),
  );

/**
 * The version of a new migration in `existing` (file names): now, or one second after the newest
 * one when that is not older — `supabase db push` refuses a migration older than the last applied.
 * @example nextVersion(['20261122000200_x.sql'], Date.UTC(2026, 0, 1)); // '20261122000201'
 */
export function nextVersion(existing: string[], now = Date.now()): string {
  const newest = existing
    .map((f) => /^(\d{14})_/.exec(f)?.[1])
    .filter((v): v is string => v !== undefined)
    .sort()
    .at(-1);
  const candidate = version(now);
  return newest === undefined || candidate > newest ? candidate : version(versionMs(newest) + 1000);
}

/** Reads `<table>` or `<schema>.<table>` and the options into a target, or throws a one-line error. */
export function parseTarget(positionals: string[], values: Record<string, unknown>): RlsTarget {
  if (positionals.length === 0) throw new CliError('give the table to secure, e.g. clerk-sync rls todos');
  if (positionals.length > 1)
    throw new CliError(`give one table, not ${positionals.length} (${positionals.join(' ')})`);
  let table = positionals[0] as string;
  let schema = typeof values.schema === 'string' ? values.schema : 'public';
  const qualified = /^([^.]+)\.([^.]+)$/.exec(table);
  if (qualified && values.schema === undefined)
    [, schema, table] = qualified as unknown as [string, string, string];
  const org = values.org === true;
  const permission = typeof values.permission === 'string' ? values.permission : undefined;
  if (permission !== undefined && !org)
    throw new CliError('--permission secures writes by organization: add --org');
  if (permission !== undefined && !PERMISSION.test(permission))
    throw new CliError(
      `--permission ${JSON.stringify(permission)} is not a permission key like org:projects:write (org:<feature>:<permission>)`,
    );
  const column = typeof values.column === 'string' ? values.column : org ? 'organization_id' : 'user_id';
  for (const [what, name] of [
    ['table', table],
    ['--schema', schema],
    ['--column', column],
  ] as const) {
    if (!NAME.test(name))
      throw new CliError(
        `${what} ${JSON.stringify(name)} is not a plain identifier: use letters, digits and _ only, starting with a letter or _`,
      );
    if (name.length > MAX_IDENTIFIER)
      throw new CliError(
        `${what} ${JSON.stringify(name)} is longer than Postgres' ${MAX_IDENTIFIER} characters`,
      );
  }
  return { schema, table, column, ...(org ? { org: permission === undefined ? {} : { permission } } : {}) };
}

export const rls: Command = {
  summary:
    'generate a migration that secures an app table by user_id = requesting_user_id(), or by organization',
  usage: [
    'clerk-sync rls <table> [--schema public] [--column user_id] [--dir supabase/migrations] [--dry-run] [--json]',
    'clerk-sync rls <table> --org [--column organization_id] [--permission org:<feature>:<permission>] [...]',
    '',
    'Writes <dir>/<timestamp>_rls_<table>.sql, which adds the owner column (text, default',
    'requesting_user_id(), not null) if missing, indexes it, enables row-level security, grants',
    'authenticated select/insert/update/delete, and adds the four owner policies. Apply it with',
    'supabase db push. Applying it twice is safe.',
    'With --org the column holds the organization (default: the active one, requesting_org_id()) and',
    "the four policies let the members of the row's organization in; with --permission, creating,",
    'changing and deleting also need that permission in the organization (has_org_permission).',
    '',
    '  --schema      schema of the table (default public; or write <schema>.<table>)',
    '  --column      owner column (default user_id; organization_id with --org)',
    '  --org         secure by organization membership instead of by owner',
    '  --permission  with --org: the permission key a member needs to write',
    '  --dir       migrations folder (default supabase/migrations)',
    '  --dry-run   print the SQL instead of writing it (also --stdout)',
    '  --json      print {"file", "table", "version"} after writing',
  ].join('\n'),
  options: {
    schema: { type: 'string' },
    column: { type: 'string' },
    org: { type: 'boolean' },
    permission: { type: 'string' },
    dir: { type: 'string' },
    'dry-run': { type: 'boolean' },
    stdout: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }, _env, io) {
    const target = parseTarget(positionals, values);
    const sql = rlsMigration(target);
    if (values['dry-run'] || values.stdout) {
      io.out(sql);
      return 0;
    }
    const dir = typeof values.dir === 'string' ? values.dir : 'supabase/migrations';
    const isDir = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir)
      throw new CliError(
        `no folder ${dir}: run this at the root of your Supabase project (supabase init makes supabase/migrations), or pass --dir`,
      );
    const v = nextVersion(await readdir(dir));
    const file = join(dir, `${v}_rls_${target.table}.sql`);
    // 'wx': never overwrite a migration that may already be applied somewhere.
    await writeFile(file, sql, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
      throw new CliError(`cannot write ${file}: ${error.code ?? error.message}`);
    });
    const qualified = `${target.schema}.${target.table}`;
    if (values.json) io.out(JSON.stringify({ file, table: qualified, version: v }));
    else io.out(`Wrote ${file} (row-level security for ${qualified}). Apply it with supabase db push.`);
    return 0;
  },
};
