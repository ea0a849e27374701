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

/** Creates and migrates `clerk_bench_<pid>_<random>`. */
export async function createScratch(): Promise<Scratch> {
  const name = `clerk_bench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin(`create database ${name}`);
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
 * The server's counters for the scratch database (pg_stat_database): transactions (commits +
 * rollbacks), sessions opened (each costs one transaction at connection start) and the time its
 * client sessions spent executing statements (active_time, ms); and how many client sessions are
 * busy in other databases (a noise indicator).
 */
export interface DbCounters {
  xacts: number;
  sessions: number;
  activeMs: number;
  othersActive: number;
}

/**
 * Reads the counters, from the admin database so that the reading adds nothing to them. A backend
 * flushes its statistics at most once a second while busy and, once idle, only 10 s or more later
 * (over 15 s measured here); when it exits, at once. So every client session of the scratch database is
 * terminated first (the receivers' pools reconnect during the next warm-up).
 */
export async function counters(scratch: Scratch): Promise<DbCounters> {
  await admin(
    `select count(pg_terminate_backend(pid, 10000)) from pg_stat_activity
      where datname = $1 and backend_type = 'client backend'`,
    [scratch.name],
  );
  const [row] = await admin<{ xacts: string; sessions: string; active: number; others: string }>(
    `select d.xact_commit + d.xact_rollback as xacts, d.sessions, d.active_time as active,
            (select count(*) from pg_stat_activity
              where state = 'active' and backend_type = 'client backend' and pid <> pg_backend_pid()
                and datname is distinct from $1) as others
       from pg_stat_database d where d.datname = $1`,
    [scratch.name],
  );
  return {
    xacts: Number(row?.xacts ?? 0),
    sessions: Number(row?.sessions ?? 0),
    activeMs: Number(row?.active ?? 0),
    othersActive: Number(row?.others ?? 0),
  };
}

/** Per event between two readings: transactions net of connection start-ups, and database time. */
export function perEvent(before: DbCounters, after: DbCounters, events: number) {
  const sessionsOpened = after.sessions - before.sessions;
  return {
    transactionsPerEvent: (after.xacts - before.xacts - sessionsOpened) / events,
    dbMsPerEvent: (after.activeMs - before.activeMs) / events,
    otherActiveSessions: Math.max(before.othersActive, after.othersActive),
  };
}

/** Every mirror table (from the registry of kinds) and every internal one. */
const MIRROR_TABLES = [
  ...KIND_NAMES.flatMap((k) => KINDS[k].tables),
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
