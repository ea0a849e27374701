/**
 * @module Applies supabase/migrations/*.sql in order, each in its own transaction, recording them
 * in supabase_migrations.schema_migrations exactly where the Supabase CLI does, so both agree.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../supabase/migrations/', import.meta.url));

export interface Migration {
  version: string;
  name: string;
  file: string;
  sql: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Lists the migration files, oldest first. */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{14}_.+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const match = /^(\d{14})_(.+)\.sql$/.exec(file) as RegExpExecArray;
      return {
        version: match[1] as string,
        name: match[2] as string,
        file,
        sql: await readFile(`${dir}/${file}`, 'utf8'),
      };
    }),
  );
}

// Supabase's roles, created only where they are missing (plain Postgres); on Supabase they exist.
const ROLES_SQL = `
do $$
declare
  r record;
begin
  for r in select * from (values ('anon', false), ('authenticated', false), ('service_role', true)) v(name, bypass)
  loop
    if not exists (select 1 from pg_roles where rolname = r.name) then
      begin
        execute format('create role %I nologin noinherit%s', r.name, case when r.bypass then ' bypassrls' else '' end);
      exception when duplicate_object or unique_violation then
        null; -- created meanwhile by a concurrent migrate on another database of the cluster
      end;
    end if;
  end loop;
end
$$;`;

const LEDGER_SQL = `
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  statements text[],
  name text
);`;

// Any constant: two `migrate` runs (or two servers starting) must not apply the same file twice.
const MIGRATE_LOCK = 7_214_392_001;

export interface MigrateResult {
  applied: string[];
  current: string | null;
}

/**
 * Creates the Supabase roles when absent, then applies every pending migration.
 * @example const { applied } = await migrate(db);
 */
export async function migrate(db: Database, migrations?: Migration[]): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  return db.withSession(async (session) => {
    await session.query('select pg_advisory_lock($1)', [MIGRATE_LOCK]);
    try {
      await session.exec(ROLES_SQL);
      await session.exec(LEDGER_SQL);
      const done = new Set(
        (
          await session.query<{ version: string }>(
            'select version from supabase_migrations.schema_migrations',
          )
        ).rows.map((r) => r.version),
      );
      const applied: string[] = [];
      for (const m of all) {
        if (done.has(m.version)) continue;
        try {
          await session.exec('begin');
          await session.exec(m.sql);
          await session.query(
            'insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)',
            [m.version, m.name, [m.sql]],
          );
          await session.exec('commit');
        } catch (error) {
          await session.exec('rollback').catch(() => {});
          const reason = error instanceof Error ? error.message : String(error);
          throw new MigrationError(`migration ${m.file} failed and was rolled back: ${reason}`, {
            cause: error,
          });
        }
        applied.push(m.version);
      }
      return { applied, current: all.at(-1)?.version ?? null };
    } finally {
      await session.query('select pg_advisory_unlock($1)', [MIGRATE_LOCK]);
    }
  });
}
