import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident, nextVersion, policyNames, rlsMigration } from '../../src/cli/commands/rls.ts';
import type { Session } from '../../src/db/database.ts';
import { cli } from '../support/cli-io.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';

let t: TestDatabase;
let dir: string;
let sql: string;

const apply = (text: string) => t.db.transaction((tx) => tx.exec(text));

beforeAll(async () => {
  t = await openTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'clerk-sync-rls-'));
  await t.db.query('create table public.todos (id serial primary key, title text)');
  await t.db.query("insert into public.todos (title) values ('ownerless')");
  // As on Supabase, whose default privileges give anon and service_role every table and sequence
  // of public: RLS, not a missing grant, must be what keeps anon out.
  await apply(
    'grant all on public.todos to anon, service_role; grant usage on sequence public.todos_id_seq to anon, service_role',
  );
  const written = await cli(['rls', 'todos', '--dir', dir]);
  expect(written).toMatchObject({ code: 0, err: '' });
  const [file] = await readdir(dir);
  sql = await readFile(join(dir, file as string), 'utf8');
  await apply(sql);
  for (const [sub, title] of [
    ['user_a', 'a1'],
    ['user_a', 'a2'],
    ['user_b', 'b1'],
  ])
    await t.as('authenticated', { sub }, (s) =>
      s.query('insert into public.todos (title) values ($1)', [title]),
    );
}, 60_000);

afterAll(async () => {
  await t?.close();
  await rm(dir, { recursive: true, force: true });
});

type Role = 'anon' | 'authenticated' | 'service_role';
const identities: Record<string, [Role, object | null]> = {
  'user A': ['authenticated', { sub: 'user_a', role: 'authenticated' }],
  'user B': ['authenticated', { sub: 'user_b', role: 'authenticated' }],
  'no sub': ['authenticated', { role: 'authenticated' }],
  anon: ['anon', null],
  'service role': ['service_role', { role: 'service_role' }],
};

class Rollback extends Error {
  constructor(readonly value: unknown) {
    super('roll back');
  }
}

/** Runs `fn` as `identity` and rolls back; answers its value, or the SQLSTATE it failed with. */
async function as<T>(identity: string, fn: (s: Session) => Promise<T>): Promise<T | { code: string }> {
  const [role, claims] = identities[identity] as [Role, object | null];
  try {
    await t.as(role, claims, async (s) => {
      throw new Rollback(await fn(s));
    });
  } catch (error) {
    if (error instanceof Rollback) return error.value as T;
    const code = (error as { code?: string }).code;
    if (code !== undefined) return { code };
    throw error;
  }
  throw new Error('unreachable');
}

const titles = (s: Session, statement: string, params: unknown[] = []) =>
  s.query<{ title: string }>(statement, params).then((r) => r.rows.map((row) => row.title).sort());

describe('the generated migration', () => {
  it('was written as <14-digit timestamp>_rls_todos.sql, and the CLI said where', async () => {
    const [file] = await readdir(dir);
    expect(file).toMatch(/^\d{14}_rls_todos\.sql$/);
    const again = await cli(['rls', 'todos', '--dir', dir]);
    expect(again.out).toMatch(new RegExp(`^Wrote ${dir}/\\d{14}_rls_todos\\.sql`));
  });

  it.each([
    ['select', 'Users can read their own todos'],
    ['insert', 'Users can create their own todos'],
    ['update', 'Users can update their own todos'],
    ['delete', 'Users can delete their own todos'],
  ])(
    'has the %s policy %j for authenticated, calling (select requesting_user_id())',
    async (command, name) => {
      const { rows } = await t.db.query<{ roles: string; qual: string | null; check: string | null }>(
        `select roles::text, qual, with_check as check from pg_policies
       where schemaname = 'public' and tablename = 'todos' and policyname = $1 and cmd = upper($2)`,
        [name, command],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]?.roles).toBe('{authenticated}');
      expect(`${rows[0]?.qual ?? ''} ${rows[0]?.check ?? ''}`).toMatch(/SELECT requesting_user_id\(\)/);
    },
  );

  it('applies a second time without error and without duplicating anything', async () => {
    await apply(sql);
    await apply(sql);
    const { rows } = await t.db.query<{ policies: number; indexes: number; checks: number }>(
      `select (select count(*)::int from pg_policies where tablename = 'todos') as policies,
              (select count(*)::int from pg_indexes where tablename = 'todos' and indexdef like '%(user_id)%') as indexes,
              (select count(*)::int from pg_constraint where conrelid = 'public.todos'::regclass and contype = 'c') as checks`,
    );
    expect(rows[0]).toEqual({ policies: 4, indexes: 1, checks: 1 });
    expect(await as('service role', (s) => titles(s, 'select title from public.todos'))).toEqual([
      'a1',
      'a2',
      'b1',
      'ownerless',
    ]);
  });
});

describe('owners see and change only their own rows', () => {
  it.each([
    ['user A', ['a1', 'a2']],
    ['user B', ['b1']],
    ['no sub', []],
    ['anon', []],
    ['service role', ['a1', 'a2', 'b1', 'ownerless']],
  ])('%s reads %j (the ownerless row is nobody’s)', async (identity, expected) => {
    expect(await as(identity, (s) => titles(s, 'select title from public.todos'))).toEqual(expected);
  });

  it.each([
    [
      'user A updates every row it can',
      'user A',
      "update public.todos set title = title || '!' returning title",
      ['a1!', 'a2!'],
    ],
    [
      'user B updates every row it can',
      'user B',
      "update public.todos set title = title || '!' returning title",
      ['b1!'],
    ],
    [
      "user A updates B's row by title",
      'user A',
      "update public.todos set title = 'x' where title = 'b1' returning title",
      [],
    ],
    ['anon updates', 'anon', "update public.todos set title = 'x' returning title", []],
    ['user A deletes every row it can', 'user A', 'delete from public.todos returning title', ['a1', 'a2']],
    ['user B deletes every row it can', 'user B', 'delete from public.todos returning title', ['b1']],
    [
      "user B deletes A's row by title",
      'user B',
      "delete from public.todos where title = 'a1' returning title",
      [],
    ],
    ['anon deletes', 'anon', 'delete from public.todos returning title', []],
    [
      'user A inserts (owner by default)',
      'user A',
      "insert into public.todos (title) values ('a3') returning title",
      ['a3'],
    ],
    [
      'user A inserts naming itself',
      'user A',
      "insert into public.todos (title, user_id) values ('a3', 'user_a') returning title",
      ['a3'],
    ],
  ])('%s: %s', async (_label, identity, statement, expected) => {
    expect(await as(identity, (s) => titles(s, statement))).toEqual(expected);
  });

  it('a row inserted by user A belongs to user A', async () => {
    const owner = await as('user A', async (s) => {
      await s.query("insert into public.todos (title) values ('mine')");
      return (await s.query("select user_id from public.todos where title = 'mine'")).rows;
    });
    expect(owner).toEqual([{ user_id: 'user_a' }]);
  });

  it.each([
    [
      'user A inserts a row for user B',
      'user A',
      "insert into public.todos (title, user_id) values ('x', 'user_b')",
      '42501',
    ],
    [
      'user A gives its row to user B',
      'user A',
      "update public.todos set user_id = 'user_b' where title = 'a1'",
      '42501',
    ],
    [
      'user A inserts an ownerless row',
      'user A',
      "insert into public.todos (title, user_id) values ('x', null)",
      '42501',
    ],
    ['a user without sub inserts', 'no sub', "insert into public.todos (title) values ('x')", '42501'],
    ['anon inserts', 'anon', "insert into public.todos (title) values ('x')", '42501'],
    // Rows written past RLS still need an owner: the NOT VALID check holds for every new row.
    [
      'the service role inserts without an owner',
      'service role',
      "insert into public.todos (title) values ('x')",
      '23514',
    ],
  ])('%s: refused (%s)', async (_label, identity, statement, code) => {
    expect(await as(identity, (s) => s.query(statement))).toEqual({ code });
  });

  it('user_id = requesting_user_id() is answered from the index', async () => {
    const plan = await as('user A', async (s) => {
      await s.query('set local enable_seqscan = off');
      const { rows } = await s.query<{ 'QUERY PLAN': string }>('explain select * from public.todos');
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toMatch(/Index Scan (using|on) todos_user_id_idx/);
    expect(plan).toMatch(/InitPlan/);
  });
});

describe('owner column', () => {
  it.each([
    [
      'an empty table gets NOT NULL outright',
      'create table public.notes (id bigint generated always as identity, body text)',
      'notes',
      true,
      0,
    ],
    [
      'a table with ownerless rows gets a NOT VALID check instead',
      'create table public.drafts (id int primary key); insert into public.drafts values (1)',
      'drafts',
      false,
      1,
    ],
    [
      'an existing text owner column is kept',
      "create table public.posts (id int primary key, user_id text not null); insert into public.posts values (1, 'user_a')",
      'posts',
      true,
      0,
    ],
  ])('%s', async (_label, setup, table, notNull, checks) => {
    await apply(setup);
    const migration = rlsMigration({ schema: 'public', table, column: 'user_id' });
    await apply(migration);
    await apply(migration);
    const { rows } = await t.db.query<{ notnull: boolean; checks: number; def: string }>(
      `select a.attnotnull as notnull, pg_get_expr(d.adbin, d.adrelid) as def,
              (select count(*)::int from pg_constraint c where c.conrelid = a.attrelid and c.contype = 'c') as checks
       from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
       where a.attrelid = $1::regclass and a.attname = 'user_id'`,
      [`public.${table}`],
    );
    expect(rows[0]).toEqual({ notnull: notNull, checks, def: 'requesting_user_id()' });
  });

  it('an identity column: user A can insert (the sequence is granted)', async () => {
    await apply('create table public.links (id int generated by default as identity primary key, url text)');
    await apply(rlsMigration({ schema: 'public', table: 'links', column: 'user_id' }));
    expect(
      await as('user A', (s) =>
        s.query("insert into public.links (url) values ('https://x') returning user_id"),
      ),
    ).toEqual({ rows: [{ user_id: 'user_a' }] });
  });

  it('a uuid owner column stops the migration with a clear error', async () => {
    await apply('create table public.uuids (id int primary key, user_id uuid)');
    await expect(
      apply(rlsMigration({ schema: 'public', table: 'uuids', column: 'user_id' })),
    ).rejects.toThrow(/public\.uuids\.user_id is uuid, but Clerk user ids are text/);
  });

  it.each([
    [
      'another schema and owner column',
      ['app.Entries', '--column', 'owner_id'],
      'app',
      'Entries',
      'owner_id',
    ],
    ['--schema', ['order', '--schema', 'app'], 'app', 'order', 'user_id'],
  ])('%s', async (_label, args, schema, table, column) => {
    await apply(`create schema if not exists app; create table app.${ident(table)} (id int primary key)`);
    const { code, out } = await cli(['rls', ...args, '--stdout']);
    expect(code).toBe(0);
    await apply(out);
    const owner = await as('user B', async (s) => {
      await s.query(`insert into ${schema}.${ident(table)} (id) values (1)`);
      return (await s.query(`select ${column} as owner from ${schema}.${ident(table)}`)).rows;
    });
    expect(owner).toEqual([{ owner: 'user_b' }]);
  });
});

describe('clerk-sync rls', () => {
  it.each([
    ['no table', ['rls'], /^clerk-sync rls: give the table to secure, e.g\. clerk-sync rls todos$/],
    ['two tables', ['rls', 'a', 'b'], /give one table, not 2/],
    [
      'SQL in the name',
      ['rls', 'todos;drop table x'],
      /table "todos;drop table x" is not a plain identifier/,
    ],
    ['a quote in the name', ['rls', 'to"dos'], /is not a plain identifier/],
    ['a bad column', ['rls', 'todos', '--column', 'user id'], /--column "user id" is not a plain identifier/],
    ['a name too long', ['rls', 'x'.repeat(64)], /longer than Postgres' 63 characters/],
    [
      'a missing folder',
      ['rls', 'todos', '--dir', '/nonexistent/clerk-sync'],
      /no folder \/nonexistent\/clerk-sync: .*--dir/,
    ],
  ])('refuses %s with one line', async (_label, argv, pattern) => {
    const r = await cli(argv);
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(pattern);
  });

  it.each([['--dry-run'], ['--stdout']])('%s prints the SQL and writes nothing', async (flag) => {
    const before = await readdir(dir);
    const r = await cli(['rls', 'todos', '--dir', dir, flag]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(rlsMigration({ schema: 'public', table: 'todos', column: 'user_id' }));
    expect(await readdir(dir)).toEqual(before);
  });

  it('--json tells where it wrote', async () => {
    const own = await mkdtemp(join(tmpdir(), 'clerk-sync-rls-json-'));
    try {
      await writeFile(join(own, '29991231235959_future.sql'), '');
      const r = await cli(['rls', 'public.todos', '--dir', own, '--json']);
      expect(JSON.parse(r.out)).toEqual({
        file: join(own, '30000101000000_rls_todos.sql'),
        table: 'public.todos',
        version: '30000101000000',
      });
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it('--help', async () => {
    const r = await cli(['rls', '--help']);
    expect(r).toMatchObject({ code: 0, out: expect.stringMatching(/^Usage: clerk-sync rls <table>/) });
  });
});

describe('helpers', () => {
  it.each([
    ['none yet', [], '20261122104146'],
    ['older ones', ['20261122000200_clerk_sync_backfill.sql', 'README.md'], '20261122104146'],
    ['one from the same second', ['20261122104146_x.sql'], '20261122104147'],
    ['one from the future, at a minute boundary', ['20261122235959_x.sql'], '20261123000000'],
  ])('nextVersion with %s', (_label, files, expected) => {
    expect(nextVersion(files, Date.UTC(2026, 10, 22, 10, 41, 46, 999))).toBe(expected);
  });

  it.each([
    ['todos', 'todos'],
    ['Todos', '"Todos"'],
    ['user', '"user"'],
    ['_x1', '_x1'],
  ])('ident(%s) is %s', (name, expected) => {
    expect(ident(name)).toBe(expected);
  });

  it('shortens policy names that would pass 63 characters', () => {
    expect(policyNames('a_table_with_a_really_quite_long_name_indeed_x').update).toBe(
      'Users can update their own rows',
    );
  });
});

describe('clerk-sync rls --org: by organization membership, writes by permission', () => {
  // org_1: user_a (org:admin, grants org:projects:write), user_c (org:member, read only);
  // org_2: user_b (org:admin). user_d: no membership. Active organization in the tokens: none
  // for user_c, to show that membership, not the token, decides.
  const org: Record<string, [Role, object | null]> = {
    writer: ['authenticated', { sub: 'user_a', o: { id: 'org_1', rol: 'admin' } }],
    'reader (no permission)': ['authenticated', { sub: 'user_c' }],
    'other org': ['authenticated', { sub: 'user_b', o: { id: 'org_2', rol: 'admin' } }],
    'non-member': ['authenticated', { sub: 'user_d' }],
    anon: ['anon', null],
  };
  const run = <T>(who: string, fn: (s: Session) => Promise<T>) =>
    t.db
      .transaction(async (tx) => {
        const [role, claims] = org[who] as [Role, object | null];
        await tx.query("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", [
          role,
          claims === null ? '' : JSON.stringify(claims),
        ]);
        throw new Rollback(await fn(tx));
      })
      .catch((error) => {
        if (error instanceof Rollback) return error.value as T;
        const code = (error as { code?: string }).code;
        if (code !== undefined) return { code };
        throw error;
      });

  beforeAll(async () => {
    const upsert = (kind: string, rows: object[]) =>
      t.db.query('select public.clerk_sync_upsert($1, $2)', [kind, JSON.stringify(rows)]);
    const ts = { created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' };
    const member = (id: string, organization_id: string, user_id: string, role: string) => ({
      id,
      organization_id,
      user_id,
      role,
      permissions: [],
      public_metadata: {},
      private_metadata: {},
      ...ts,
    });
    await upsert('membership', [
      member('m_a1', 'org_1', 'user_a', 'org:admin'),
      member('m_c1', 'org_1', 'user_c', 'org:member'),
      member('m_b2', 'org_2', 'user_b', 'org:admin'),
    ]);
    const write = { id: 'perm_w', key: 'org:projects:write' };
    await upsert('role', [
      { id: 'role_admin', key: 'org:admin', name: 'Admin', permissions: [write], ...ts },
      { id: 'role_member', key: 'org:member', name: 'Member', permissions: [], ...ts },
    ]);
    await t.db.query('create table public.projects (id int primary key, title text)');
    await apply('grant all on public.projects to anon, service_role');
    const r = await cli(['rls', 'projects', '--org', '--permission', 'org:projects:write', '--dry-run']);
    expect(r).toMatchObject({ code: 0, err: '' });
    await apply(r.out);
    await apply(r.out); // twice: idempotent
    await t.db.query(
      "insert into public.projects values (1, 'p1', 'org_1'), (2, 'p2', 'org_1'), (3, 'p3', 'org_2')",
    );
  }, 60_000);

  const read = (s: Session) => titles(s, 'select title from public.projects');
  it.each([
    ['writer', ['p1', 'p2']],
    ['reader (no permission)', ['p1', 'p2']],
    ['other org', ['p3']],
    ['non-member', []],
    // Granted everything, as Supabase's defaults do: RLS, with no policy for anon, keeps it out.
    ['anon', []],
  ])('%s reads %j', async (who, expected) => {
    expect(await run(who, read)).toEqual(expected);
  });

  it.each([
    ['writer', 1, 1],
    ['reader (no permission)', 0, 0],
    ['other org', 0, 0],
    ['non-member', 0, 0],
  ])('%s updates %i and deletes %i of org_1', async (who, updated, deleted) => {
    expect(
      await run(who, async (s) => [
        (await s.query("update public.projects set title = 'x' where id = 1 returning id")).rows.length,
        (await s.query('delete from public.projects where id = 2 returning id')).rows.length,
      ]),
    ).toEqual([updated, deleted]);
  });

  it('the writer inserts into the active organization by default; the reader cannot insert', async () => {
    expect(
      await run('writer', async (s) => {
        await s.query("insert into public.projects (id, title) values (10, 'new')");
        return (await s.query('select organization_id from public.projects where id = 10')).rows;
      }),
    ).toEqual([{ organization_id: 'org_1' }]);
    expect(
      await run('reader (no permission)', (s) =>
        s.query("insert into public.projects values (11, 'no', 'org_1')"),
      ),
    ).toEqual({ code: '42501' });
    // Nor into an organization the writer is not a member of.
    expect(
      await run('writer', (s) => s.query("insert into public.projects values (12, 'no', 'org_2')")),
    ).toEqual({ code: '42501' });
  });

  it.each([
    ['--permission without --org', ['rls', 'x', '--permission', 'org:a:b'], /add --org/],
    ['a malformed permission', ['rls', 'x', '--org', '--permission', "x'; drop"], /not a permission key/],
  ])('refuses %s with one line', async (_label, argv, pattern) => {
    const r = await cli(argv);
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(pattern);
  });
});
