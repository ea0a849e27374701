/**
 * @module Test databases with real Postgres semantics: PGlite in memory by default, a fresh
 * database on the server in TEST_DATABASE_URL when it is set.
 */
import pg from 'pg';
import { KIND_NAMES, KINDS } from '../../src/core/kinds.ts';
import type { Database, Session } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { pgliteDatabase } from '../../src/db/pglite.ts';

/** Every mirror table (from the registry) and the internal tables a test may write. */
const TABLES = [
  ...KIND_NAMES.flatMap((k) => KINDS[k].tables.map((t) => `public.${t}`)),
  'clerk_sync.events',
  'clerk_sync.tombstones',
  'clerk_sync.private_metadata',
];

export const serverUrl = process.env.TEST_DATABASE_URL;
export const onServer = serverUrl !== undefined && serverUrl !== '';

export interface TestDatabase {
  db: Database;
  /** The connection string of this test's own database (server only). */
  url: string | undefined;
  /** Empties the mirror and the internal tables between tests. */
  reset(): Promise<void>;
  /** Runs `fn` as PostgREST would for a request: `set local role`, `request.jwt.claims`. */
  as<T>(
    role: 'anon' | 'authenticated' | 'service_role',
    claims: object | null,
    fn: (s: Session) => Promise<T>,
  ): Promise<T>;
  close(): Promise<void>;
}

/** Runs `sql` on the server's maintenance database (`TEST_DATABASE_URL`), outside any test database. */
export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates an empty database (migrations not applied). */
export async function createEmptyDatabase(options: { poolSize?: number } = {}): Promise<{
  db: Database;
  url: string | undefined;
  drop(): Promise<void>;
}> {
  if (!onServer) {
    const db = await pgliteDatabase();
    return { db, url: undefined, drop: () => db.close() };
  }
  const name = `clerk_sync_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await adminQuery(`create database ${name}`);
  const url = new URL(serverUrl as string);
  url.pathname = `/${name}`;
  const db = pgDatabase(url.toString(), { max: options.poolSize ?? 20 });
  return {
    db,
    url: url.toString(),
    drop: async () => {
      await db.close();
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
  };
}

/** A migrated test database. */
export async function openTestDatabase(options: { poolSize?: number } = {}): Promise<TestDatabase> {
  const { db, url, drop } = await createEmptyDatabase(options);
  await migrate(db);
  return {
    db,
    url,
    reset: () => db.query(`truncate ${TABLES.join(', ')}`) as Promise<unknown> as Promise<void>,
    as: (role, claims, fn) =>
      db.transaction(async (tx) => {
        await tx.query(`select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, [
          role,
          claims === null ? '' : JSON.stringify(claims),
        ]);
        return fn(tx);
      }),
    close: drop,
  };
}
