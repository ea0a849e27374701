/**
 * `clerk-sync init` and `clerk-sync migrate` in a Supabase CLI project (a fixture shaped as `supabase init`
 * leaves it, with one app migration): init is idempotent and, after an upgrade, adds only what is missing;
 * migrate applies the app's, the package's and an `rls`-generated migration, each once; `--schema`
 * puts the mirror beside an app's own `public.organizations`.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { edgeFunctionSource } from '../../src/cli/commands/init.ts';
import { main } from '../../src/cli/main.ts';
import { allMigrations, packageMigrations } from '../../src/cli/project.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { loadMigrations, migrate } from '../../src/db/migrate.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { createStore } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { createEmptyDatabase, onServer } from '../support/db.ts';
import { SECRET, signed } from '../support/webhooks.ts';

// As `supabase init` writes it (abridged).
const CONFIG_TOML = `project_id = "my-app"

[api]
enabled = true
port = 54321
schemas = ["public", "graphql_public"]

[db]
port = 54322
major_version = 15
`;
const TODOS = `create table public.todos (
  id bigint generated always as identity primary key,
  title text not null
);
`;
const APP_ORGANIZATIONS = `create table public.organizations (id bigint primary key, name text not null);
insert into public.organizations values (1, 'the app''s own');
`;

let project: string;
let supabase: string;
let migrations: string;

async function cli(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Every file under supabase/ with its content and mtime. */
async function snapshot(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(supabase, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      files[path.slice(supabase.length)] = `${(await stat(path)).mtimeMs} ${await readFile(path, 'utf8')}`;
    }
  return files;
}

beforeEach(async () => {
  project = await mkdtemp(join(tmpdir(), 'clerk-sync-init-'));
  supabase = join(project, 'supabase');
  migrations = join(supabase, 'migrations');
  await mkdir(migrations, { recursive: true });
  await writeFile(join(supabase, 'config.toml'), CONFIG_TOML);
  await writeFile(join(migrations, '20250101000000_todos.sql'), TODOS);
});
afterEach(async () => {
  await rm(project, { recursive: true, force: true });
});

describe('clerk-sync init', () => {
  it("writes the package's migrations under their own versions, the Edge Function and its config section", async () => {
    const shipped = await loadMigrations();
    const r = await cli(['init', '--dir', supabase]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Next: supabase db push \(or npx clerk-sync migrate\)/);
    for (const m of shipped) expect(await readFile(join(migrations, m.file), 'utf8')).toBe(m.sql);
    const fn = await readFile(join(supabase, 'functions/clerk-webhook/index.ts'), 'utf8');
    expect(fn).toMatch(
      /^import \{ createClerkSyncHandler \} from 'npm:clerk-supabase-sync@\^\d+\.\d+\.\d+';$/m,
    );
    const config = await readFile(join(supabase, 'config.toml'), 'utf8');
    expect(config.startsWith(CONFIG_TOML)).toBe(true);
    expect(config).toMatch(/\n\[functions\.clerk-webhook\]\n(#.*\n)?verify_jwt = false\n$/);
  });

  it('changes nothing when run again', async () => {
    expect((await cli(['init', '--dir', supabase])).code).toBe(0);
    const before = await snapshot();
    const again = await cli(['init', '--dir', supabase]);
    expect(again).toMatchObject({ code: 0, out: expect.stringMatching(/^Nothing to do/) });
    expect(await snapshot()).toEqual(before);
  });

  it('after an upgrade adds only the migrations the project lacks, and leaves the rest as it is', async () => {
    expect((await cli(['init', '--dir', supabase])).code).toBe(0);
    // The project as an older version left it: without the newest migration; the function edited since.
    // The newest migration with mirror tables to move (20261202700000 has none).
    const newest = (await packageMigrations('clerk'))
      .filter((m) => m.sql.startsWith('-- clerk-sync init'))
      .at(-1) as {
      file: string;
    };
    await unlink(join(migrations, newest.file));
    await writeFile(join(supabase, 'functions/clerk-webhook/index.ts'), '// edited by the app\n');
    await writeFile(join(migrations, '20991231000000_later_app_change.sql'), 'select 1;\n');
    const before = await snapshot();
    const r = await cli(['init', '--dir', supabase, '--json']);
    expect(JSON.parse(r.out)).toEqual({
      schema: 'public',
      added: [join(migrations, newest.file)],
      function: false,
      config: false,
    });
    const after = await snapshot();
    delete after[`/migrations/${newest.file}`];
    expect(after).toEqual(before);
  });

  it('refuses a folder that is not a Supabase project, with one line saying what to do', async () => {
    const r = await cli(['init', '--dir', join(project, 'nope')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /^clerk-sync init: no .*nope\/ folder here: run this at the root of your Supabase project/,
    );
  });

  it('the Edge Function source imports the package from npm and serves its handler', () => {
    expect(edgeFunctionSource('clerk-supabase-sync', '1.2.3')).toContain(
      "import { createClerkSyncHandler } from 'npm:clerk-supabase-sync@^1.2.3';\n\nDeno.serve(createClerkSyncHandler({ env: Deno.env.toObject() }));",
    );
  });
});

describe('clerk-sync migrate in an app', () => {
  const rlsOn = async (db: { query: (sql: string) => Promise<{ rows: unknown[] }> }) =>
    (await db.query(`select relrowsecurity from pg_class where oid = 'public.todos'::regclass`)).rows;

  it("applies the app's, the package's and an rls-generated migration, in version order, each once", async () => {
    expect((await cli(['init', '--dir', supabase])).code).toBe(0);
    expect((await cli(['rls', 'todos', '--dir', migrations])).code).toBe(0);
    const all = await allMigrations(migrations);
    const shipped = await loadMigrations();
    expect(all.map((m) => m.name)).toEqual(['todos', ...shipped.map((m) => m.name), 'rls_todos']);
    const { db, drop } = await createEmptyDatabase();
    try {
      expect((await migrate(db, all)).applied).toHaveLength(all.length);
      expect(await rlsOn(db)).toEqual([{ relrowsecurity: true }]);
      expect((await migrate(db, await allMigrations(migrations))).applied).toEqual([]);
    } finally {
      await drop();
    }
  }, 60_000);

  it("applies the package's migrations in a project that has not run init", async () => {
    const all = await allMigrations(migrations);
    expect(all.map((m) => m.name)).toEqual(['todos', ...(await loadMigrations()).map((m) => m.name)]);
  });

  it.runIf(onServer)(
    'as a command: names the database (no password) and picks up a new rls migration',
    async () => {
      const { url, drop } = await createEmptyDatabase();
      const withPassword = new URL(url as string);
      withPassword.password = 'hunter2';
      const env = { DATABASE_URL: withPassword.toString() };
      try {
        expect((await cli(['init', '--dir', supabase])).code).toBe(0);
        const first = await cli(['migrate', '--dir', migrations], env);
        expect(first.code).toBe(0);
        expect(first.out).toContain(`to ${url}:`);
        expect(first.out).not.toContain('hunter2');
        // What the issue saw: a later `rls` migration reported as "current" and skipped.
        const rls = await cli(['rls', 'todos', '--dir', migrations, '--json']);
        const { version } = JSON.parse(rls.out) as { version: string };
        expect(await cli(['migrate', '--dir', migrations], env)).toMatchObject({
          code: 0,
          out: `Applied 1 migration(s) to ${url}: ${version}.`,
        });
        const db = pgDatabase(url as string);
        try {
          expect(await rlsOn(db)).toEqual([{ relrowsecurity: true }]);
        } finally {
          await db.close();
        }
      } finally {
        await drop();
      }
    },
    60_000,
  );

  it('outside the package’s repository, never the embedded database without --embedded', async () => {
    const r = await cli(['migrate', '--dir', migrations]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^clerk-sync migrate: DATABASE_URL is missing: .* or pass --embedded/);
    await expect(stat(join(project, '.data'))).rejects.toThrow();
  });
});

describe('clerk-sync init --schema', () => {
  beforeEach(async () => {
    await writeFile(join(migrations, '20250101000100_app_organizations.sql'), APP_ORGANIZATIONS);
  });

  it('puts the mirror tables in their own schema, beside the app’s public.organizations', async () => {
    const r = await cli(['init', '--dir', supabase, '--schema', 'clerk', '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ schema: 'clerk' });
    const { db, drop } = await createEmptyDatabase();
    try {
      await migrate(db, await allMigrations(migrations));
      const tables = await db.query<{ t: string }>(
        `select table_schema || '.' || table_name as t from information_schema.tables
         where table_name in ('organizations', 'users_public') order by 1`,
      );
      expect(tables.rows.map((row) => row.t)).toEqual([
        'clerk.organizations',
        'clerk.users_public',
        'public.organizations',
      ]);
      // Deliveries land in clerk.*, the app's table is untouched.
      const app = createApp({ store: createStore(sqlRpc(db)), signingSecret: SECRET, logger: silentLogger });
      const d = signed(sampleEvent('organization.created', { id: 'org_mirror' }));
      const res = await app.request('/webhooks/clerk', { method: 'POST', headers: d.headers, body: d.body });
      expect(await res.json()).toEqual({ outcome: 'applied' });
      expect((await db.query('select id from clerk.organizations')).rows).toEqual([{ id: 'org_mirror' }]);
      expect((await db.query('select id, name from public.organizations')).rows).toEqual([
        { id: '1', name: "the app's own" },
      ]);
    } finally {
      await drop();
    }
  }, 60_000);

  it('remembers the schema: a later init keeps it, another --schema is refused', async () => {
    expect((await cli(['init', '--dir', supabase, '--schema', 'clerk'])).code).toBe(0);
    // The newest migration with mirror tables to move (20261202700000 has none).
    const newest = (await packageMigrations('clerk'))
      .filter((m) => m.sql.startsWith('-- clerk-sync init'))
      .at(-1) as {
      file: string;
    };
    await unlink(join(migrations, newest.file));
    expect(JSON.parse((await cli(['init', '--dir', supabase, '--json'])).out)).toMatchObject({
      schema: 'clerk',
      added: [join(migrations, newest.file)],
    });
    expect(await readFile(join(migrations, newest.file), 'utf8')).toMatch(
      /^-- clerk-sync init --schema clerk\b/,
    );
    const other = await cli(['init', '--dir', supabase, '--schema', 'mirror']);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/put the mirror tables in schema clerk: run init --schema clerk/);
  });

  it.each(['clerk_sync', 'auth', 'pg_temp', 'Clerk'])(
    'refuses --schema %s, writing nothing',
    async (name) => {
      const before = await snapshot();
      const r = await cli(['init', '--dir', supabase, '--schema', name]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^clerk-sync init: --schema .*(taken|not a plain lower-case identifier)/);
      expect(await snapshot()).toEqual(before);
    },
  );
});
