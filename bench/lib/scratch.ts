/**
 * @module The scratch database of one bench run: created on the server in BENCH_DATABASE_URL,
 * migrated with the project's own `migrate`, dropped at the end (also on Ctrl-C).
 */
import pg from 'pg';
import { KIND_NAMES, KINDS } from '../../src/core/kinds.ts';
import type { Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { pgDatabase } from '../../src/db/pg.ts';

export const ADMIN_URL = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

export interface Scratch {
  name: string;
  url: string;
  /** A small pool for the bench's own queries (seeding, stats, COPY, RLS). */
  db: Database;
  drop(): Promise<void>;
}

export async function admin<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * Creates and migrates `clerk_bench_<pid>_<random>`; function call counts are tracked in it
 * (`track_functions = pl`) so the bench can count calls of the SQL entry point server-side.
 */
export async function createScratch(): Promise<Scratch> {
  const name = `clerk_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin(`create database ${name}`);
  await admin(`alter database ${name} set track_functions = 'pl'`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const db = pgDatabase(url.toString(), { max: 4, statementTimeoutMs: 600_000, applicationName: 'bench' });
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await db.close().catch(() => {});
    await admin(`drop database if exists ${name} with (force)`);
  };
  try {
    await migrate(db);
  } catch (error) {
    await drop();
    throw error;
  }
  return { name, url: url.toString(), db, drop };
}

/**
 * The server's counters for the scratch database: transactions (commits + rollbacks), sessions
 * opened (each costs one transaction at connection start), calls of the webhook entry point; and
 * how many client sessions are busy in other databases (a noise indicator).
 */
export interface DbCounters {
  xacts: number;
  sessions: number;
  applyCalls: number;
  othersActive: number;
}

/**
 * Reads the counters after making every other client session of the scratch database report its
 * own: a backend flushes its statistics when it exits, but when idle only every ~10 s, so the
 * sessions are terminated (poolers reconnect). Done on a connection of its own, which adds one
 * session and two transactions (the terminate and the read) to the next reading.
 */
export async function counters(scratch: Scratch): Promise<DbCounters> {
  const client = new pg.Client({ connectionString: scratch.url, application_name: 'bench-counters' });
  await client.connect();
  try {
    await client.query(
      `select count(pg_terminate_backend(pid, 10000)) from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`,
    );
    const { rows } = await client.query<{
      xacts: string;
      sessions: string;
      calls: string | null;
      others: string;
    }>(
      `select d.xact_commit + d.xact_rollback as xacts, d.sessions,
              (select sum(calls) from pg_stat_user_functions
                where schemaname = 'public' and funcname = 'clerk_sync_apply_event') as calls,
              (select count(*) from pg_stat_activity
                where state = 'active' and backend_type = 'client backend'
                  and datname is distinct from current_database()) as others
         from pg_stat_database d where d.datname = current_database()`,
    );
    return {
      xacts: Number(rows[0]?.xacts ?? 0),
      sessions: Number(rows[0]?.sessions ?? 0),
      applyCalls: Number(rows[0]?.calls ?? 0),
      othersActive: Number(rows[0]?.others ?? 0),
    };
  } finally {
    await client.end();
  }
}

/** Transactions per event between two readings, net of connection start-ups and the readings. */
export function perEvent(before: DbCounters, after: DbCounters, events: number) {
  const sessionsOpened = after.sessions - before.sessions;
  const transactions = after.xacts - before.xacts - 2;
  return {
    events,
    transactions,
    sessionsOpened,
    roundTripsPerEvent: (transactions - sessionsOpened) / events,
    entryPointCallsPerEvent: (after.applyCalls - before.applyCalls) / events,
  };
}

/** Every mirror table (from the registry of kinds) and every internal one. */
const MIRROR_TABLES = [
  ...KIND_NAMES.flatMap((k) => KINDS[k].tables.map((t) => `public.${t}`)),
  'clerk_sync.events',
  'clerk_sync.tombstones',
  'clerk_sync.private_metadata',
  'clerk_sync.backfill_passes',
  'clerk_sync.backfill_seen',
];

/** Empties the mirror and every internal table. */
export async function truncateAll(db: Database): Promise<void> {
  await db.query(`truncate ${MIRROR_TABLES.join(', ')}`);
}
