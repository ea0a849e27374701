import { describe, expect, it } from 'vitest';
import { loadMigrations, MigrationError, migrate } from '../../src/db/migrate.ts';
import { pgliteDatabase } from '../../src/db/pglite.ts';
import { createEmptyDatabase, onServer } from '../support/db.ts';

// What a Supabase project has before our migrations: its roles, and default privileges that hand
// every new table and function in public to anon and authenticated.
const SUPABASE_LIKE = `
  create role anon nologin noinherit;
  create role authenticated nologin noinherit;
  create role service_role nologin noinherit bypassrls;
  alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
  alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
`;

const roles = async (db: Awaited<ReturnType<typeof pgliteDatabase>>) =>
  (
    await db.query<{ rolname: string; rolbypassrls: boolean }>(
      "select rolname, rolbypassrls from pg_roles where rolname in ('anon', 'authenticated', 'service_role') order by 1",
    )
  ).rows;

describe('clerk-sync migrate', () => {
  it('creates the Supabase roles on plain Postgres, then applies every migration once', async () => {
    const db = await pgliteDatabase();
    try {
      expect(await roles(db)).toEqual([]);
      const first = await migrate(db);
      const versions = (await loadMigrations()).map((m) => m.version);
      expect(first.applied).toEqual(versions);
      expect(await roles(db)).toEqual([
        { rolname: 'anon', rolbypassrls: false },
        { rolname: 'authenticated', rolbypassrls: false },
        { rolname: 'service_role', rolbypassrls: true },
      ]);
      expect(await migrate(db)).toEqual({ applied: [], current: versions.at(-1) });
      const recorded = await db.query(
        'select version, name from supabase_migrations.schema_migrations order by 1',
      );
      expect(recorded.rows.map((r) => (r as { version: string }).version)).toEqual(versions);
    } finally {
      await db.close();
    }
  }, 30_000);

  it('applies on a database that already has Supabase roles and default grants, and still locks anon out', async () => {
    const db = await pgliteDatabase();
    try {
      await db.query('select 1');
      await db.transaction((tx) => tx.exec(SUPABASE_LIKE));
      await migrate(db);
      const { rows } = await db.query<{ t: string; anon: boolean; auth_write: boolean }>(
        `select t, has_table_privilege('anon', t, 'select') as anon,
                has_table_privilege('authenticated', t, 'insert,update,delete') as auth_write
         from unnest(array['public.users_public', 'public.users_private', 'public.organizations',
                           'public.organization_memberships']) t`,
      );
      expect(rows.every((r) => !r.anon && !r.auth_write)).toBe(true);
      const fns = await db.query(
        `select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'public' and p.proname like 'clerk_sync_%'
           and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute'))`,
      );
      expect(fns.rows).toEqual([]);
    } finally {
      await db.close();
    }
  }, 30_000);

  it.runIf(onServer)('applies on the server, whose cluster already has the roles', async () => {
    const { db, drop } = await createEmptyDatabase();
    try {
      expect((await migrate(db)).applied.length).toBeGreaterThan(0);
      expect((await migrate(db)).applied).toEqual([]);
    } finally {
      await drop();
    }
  });

  it('rolls back a failing migration and names the file and the Postgres error', async () => {
    const db = await pgliteDatabase();
    try {
      const good = await loadMigrations();
      const bad = {
        version: '29990101000000',
        name: 'broken',
        file: '29990101000000_broken.sql',
        sql: 'create table public.half_done (id int); select * from public.no_such_table;',
      };
      const failure = await migrate(db, [...good, bad]).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(MigrationError);
      expect((failure as Error).message).toMatch(/29990101000000_broken\.sql.*rolled back.*no_such_table/);
      expect((await db.query("select to_regclass('public.half_done') as t")).rows).toEqual([{ t: null }]);
      expect((await migrate(db, good)).applied).toEqual([]);
    } finally {
      await db.close();
    }
  }, 30_000);
});
