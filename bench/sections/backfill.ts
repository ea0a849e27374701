/**
 * @module Backfill section: `clerk-sync backfill --only users` from the Clerk stand-in, serving
 * realistic users (bench/lib/realistic-users.ts), into Postgres (small and large data sets, for users/s
 * and peak RSS), with where the CPU went (the command, the stand-in, the Postgres backends); the
 * baseline (one upsert per user, in turn, with its backend's CPU); COPY of the very rows it wrote, into
 * the same tables (reported); and a run against Clerk's development rate limit (100 requests / 10 s)
 * with the CLI's default budget.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClerkApi, PAGE_SIZE } from '../../src/clerk/api.ts';
import { userSchema } from '../../src/core/events.ts';
import { KINDS } from '../../src/core/kinds.ts';
import { toUserRow } from '../../src/core/map.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { createStore } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { ask, forkTs, runJson, sleep } from '../lib/child.ts';
import { type Scratch, truncateAll } from '../lib/scratch.ts';
import type { StandinSpec } from '../procs/standin.ts';

const SECRET_KEY = 'sk_test_benchstandin';
/** Clerk's development-instance limit. */
export const CLERK_DEV_RATE = { requests: 100, windowMs: 10_000 } as const;
/** What that limit allows at 500 users per page. */
export const CEILING_USERS_PER_SECOND =
  (CLERK_DEV_RATE.requests * PAGE_SIZE * 1000) / CLERK_DEV_RATE.windowMs;

export interface DataSize {
  users: number;
  organizations: number;
  membersPerOrg: number;
}

export interface BackfillOptions {
  small: DataSize;
  large: DataSize;
  baselineUsers: number;
  rateLimitedUsers: number;
  /** Also run against the limit with `--rate 100`, the whole budget (not judged: for comparison). */
  fullBudgetRun: boolean;
  log: (line: string) => void;
}

interface ChildResult {
  code: number;
  ms: number;
  startedAt: number;
  maxRssKb: number;
  cpuMs: number;
  out: string[];
  err: { ms: number; line: string }[];
}

interface StandinStats {
  requests: number;
  rateLimited: number;
  byPath: Record<string, number>;
  cpuMs: number;
}

/** What the stand-in serves per user. */
export interface UserShape {
  meanBytes: number;
  emails: number;
  phones: number;
  externalAccounts: number;
}

/** CPU (user + system) per user, in µs, of each process a run involves; null where not measurable. */
export interface CpuPerUser {
  /** The `clerk-sync backfill` process (module loading excluded). */
  command: number;
  /** The Clerk stand-in, while the run lasted. */
  standin: number;
  /** The run's Postgres backends (from /proc on this machine, sampled every 100 ms). */
  postgres: number | null;
  /** Time inside the SQL entry point per user (pg_stat_user_functions: total_time / users). */
  sqlFunction: number | null;
}

export interface BackfillRun {
  users: number;
  /** The command's time, module loading excluded. */
  totalMs: number;
  usersPerSecond: number;
  peakRssMb: number;
  cpuMs: number;
  cpu: CpuPerUser;
  requests: number;
}

export interface BackfillResult {
  userShape: UserShape;
  small: BackfillRun;
  large: BackfillRun;
  copy: { users: number; ms: number; usersPerSecond: number; tables: string[] };
  baseline: {
    users: number;
    ms: number;
    usersPerSecond: number;
    method: string;
    /** Per user (µs): its Postgres backend's CPU, the time inside clerk_sync_upsert, the loop's own CPU
     * (the bench process: paging, mapping, the calls) and the stand-in's. */
    postgresCpuPerUser: number | null;
    sqlFunctionPerUser: number | null;
    clientCpuPerUser: number;
    standinCpuPerUser: number;
  };
  rateLimited: RateLimitedRun;
  rateLimitedFullBudget?: RateLimitedRun;
  ceilingUsersPerSecond: number;
}

export interface RateLimitedRun {
  users: number;
  budget: string;
  totalMs: number;
  usersPerSecond: number;
  shareOfCeiling: number;
  /** Users/s over the window [10 s, 20 s] of the run (after the first window's burst), when it lasted that long. */
  steadyUsersPerSecond: number | null;
  steadyShareOfCeiling: number | null;
  rateLimited: number;
  rateLimitedAfterFirstWindow: number;
  pauses: { atMs: number; line: string }[];
  requests: number;
}

async function startStandin(
  spec: StandinSpec,
): Promise<{ child: ChildProcess; url: string; users: UserShape }> {
  const child = forkTs('bench/procs/standin.ts', spec);
  const ready = await new Promise<{ url: string; users: UserShape }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string; users: UserShape }));
    child.once('exit', (code) => reject(new Error(`stand-in exited ${code}`)));
  });
  return { child, url: ready.url, users: ready.users };
}

/** CPU ms (user + system) of a Postgres backend on this machine, or null (gone, or the server is elsewhere). */
function backendCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (!stat.includes('(postgres)')) return null;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ = 100
  } catch {
    return null;
  }
}

/**
 * Samples the CPU of the scratch database's backends named `application` every 100 ms while a run
 * lasts; `stop` returns their sum (each backend's last reading: up to 100 ms before it exited is
 * missed), or null when none could be read.
 */
function sampleBackends(scratch: Scratch, application: string) {
  const last = new Map<number, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { rows } = await scratch.db.query<{ pid: number }>(
          'select pid from pg_stat_activity where datname = current_database() and application_name = $1',
          [application],
        );
        for (const { pid } of rows) {
          const ms = backendCpuMs(pid);
          if (ms !== null) last.set(pid, ms);
        }
      } catch {
        // a sample lost; the next one counts
      }
      await sleep(100);
    }
  })();
  return {
    async stop(): Promise<number | null> {
      running = false;
      await loop;
      return last.size === 0 ? null : [...last.values()].reduce((a, b) => a + b, 0);
    },
  };
}

/** Total time (ms) spent in `public.<name>` by every backend so far (pg_stat_user_functions). */
async function functionMs(scratch: Scratch, name: string): Promise<number | null> {
  await scratch.db.query('select pg_stat_clear_snapshot()');
  const { rows } = await scratch.db.query<{ ms: number | null }>(
    "select sum(total_time)::float8 as ms from pg_stat_user_functions where schemaname = 'public' and funcname = $1",
    [name],
  );
  return rows[0]?.ms ?? null;
}

async function closeStandin(child: ChildProcess): Promise<void> {
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send({ cmd: 'close' });
  await gone;
}

function backfillEnv(scratch: Scratch, url: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: scratch.url,
    CLERK_SECRET_KEY: SECRET_KEY,
    CLERK_API_URL: url,
  };
}

/** The name the CLI's connections carry (src/db/pg.ts), which tells its backends from the bench's. */
const CLI_APPLICATION = 'clerk-supabase-sync';

async function usersBackfill(scratch: Scratch, users: number, o: BackfillOptions, keep = false) {
  await truncateAll(scratch.db);
  await scratch.db.query('checkpoint');
  const standin = await startStandin({
    secretKey: SECRET_KEY,
    users,
    organizations: 0,
    membersPerOrg: 0,
    realistic: true,
  });
  try {
    const standinBefore = await ask<StandinStats>(standin.child, { cmd: 'stats' });
    const fnBefore = await functionMs(scratch, 'clerk_sync_backfill_page');
    const backends = sampleBackends(scratch, CLI_APPLICATION);
    let postgresMs: number | null = null;
    let result: ChildResult;
    try {
      result = await runJson<ChildResult>(
        'bench/procs/backfill.ts',
        ['backfill', '--only', 'users', '--rate', '1000000'],
        { env: backfillEnv(scratch, standin.url), timeoutMs: 900_000 },
      );
    } finally {
      postgresMs = await backends.stop();
    }
    if (result.code !== 0)
      throw new Error(`backfill exited ${result.code}: ${JSON.stringify(result.err.slice(-5))}`);
    const stats = await ask<StandinStats>(standin.child, { cmd: 'stats' });
    await sleep(300); // the backend's function counters reach the stats system when it exits
    const fnAfter = await functionMs(scratch, 'clerk_sync_backfill_page');
    const perUser = (ms: number) => (ms * 1000) / users;
    const run: BackfillRun = {
      users,
      totalMs: result.ms,
      usersPerSecond: users / (result.ms / 1000),
      peakRssMb: result.maxRssKb / 1024,
      cpuMs: result.cpuMs,
      cpu: {
        command: perUser(result.cpuMs),
        standin: perUser(stats.cpuMs - standinBefore.cpuMs),
        postgres: postgresMs === null ? null : perUser(postgresMs),
        sqlFunction: fnAfter === null ? null : perUser(fnAfter - (fnBefore ?? 0)),
      },
      requests: stats.requests - standinBefore.requests,
    };
    const us = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(0)} µs`);
    o.log(
      `  backfill ${users} users: ${run.usersPerSecond.toFixed(0)} users/s, ${(run.totalMs / 1000).toFixed(1)} s, peak RSS ${run.peakRssMb.toFixed(0)} MB; CPU per user: command ${us(run.cpu.command)}, stand-in ${us(run.cpu.standin)}, Postgres ${us(run.cpu.postgres)} (in the page function ${us(run.cpu.sqlFunction)})`,
    );
    if (keep) return { run, standin };
    await closeStandin(standin.child);
    return { run, standin: null };
  } catch (error) {
    await closeStandin(standin.child).catch(() => {});
    throw error;
  }
}

/** Server-side COPY of the users rows the backfill wrote, back into the emptied tables, in one transaction. */
async function copyLimit(scratch: Scratch, users: number): Promise<BackfillResult['copy']> {
  const dir = await mkdtemp(join(tmpdir(), 'clerk-bench-copy-'));
  // The server (user postgres) writes and reads these files.
  await chmod(dir, 0o777);
  const tables = [
    ['public.users_public', 'select * from public.users_public'],
    ['public.users_private', 'select * from public.users_private'],
    ['clerk_sync.private_metadata', "select * from clerk_sync.private_metadata where kind = 'user'"],
  ] as const;
  try {
    for (const [table, select] of tables)
      await scratch.db.query(`copy (${select}) to '${join(dir, `${table}.csv`)}' with (format csv)`);
    await scratch.db.query('truncate public.users_public, public.users_private, clerk_sync.private_metadata');
    await scratch.db.query('checkpoint');
    const t0 = performance.now();
    await scratch.db.transaction(async (tx) => {
      for (const [table] of tables)
        await tx.query(`copy ${table} from '${join(dir, `${table}.csv`)}' with (format csv)`);
    });
    const ms = performance.now() - t0;
    return { users, ms, usersPerSecond: users / (ms / 1000), tables: tables.map(([t]) => t) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The naive backfill: page through Clerk, then one upsert call (one round trip) per user, in turn. */
async function baseline(
  scratch: Scratch,
  standin: { child: ChildProcess; url: string },
  users: number,
): Promise<BackfillResult['baseline']> {
  const { url } = standin;
  await scratch.db.query('truncate public.users_public, public.users_private, clerk_sync.private_metadata');
  await scratch.db.query('checkpoint');
  const db = pgDatabase(scratch.url, { max: 1, applicationName: 'bench-baseline' });
  const store = createStore(sqlRpc(db));
  const api = createClerkApi({
    secretKey: SECRET_KEY,
    apiUrl: url,
    rate: { requests: 1_000_000, windowMs: 10_000 },
  });
  try {
    const { rows } = await db.query<{ pid: number }>('select pg_backend_pid() as pid');
    const pid = rows[0]?.pid as number;
    const fnBefore = await functionMs(scratch, 'clerk_sync_upsert');
    const cpuBefore = backendCpuMs(pid);
    const standinBefore = await ask<StandinStats>(standin.child, { cmd: 'stats' });
    const clientBefore = process.cpuUsage();
    let done = 0;
    const t0 = performance.now();
    for await (const page of api.pages(KINDS.user.list)) {
      for (const item of page.items) {
        if (done >= users) break;
        const r = await store.upsert('user', [toUserRow(userSchema.parse(item))]);
        if (!r.ok) throw r.error;
        done++;
      }
      if (done >= users) break;
    }
    const ms = performance.now() - t0;
    const cpuAfter = backendCpuMs(pid);
    const client = process.cpuUsage(clientBefore);
    const standinAfter = await ask<StandinStats>(standin.child, { cmd: 'stats' });
    await db.close();
    await sleep(300); // the backend's function counters reach the stats system when it exits
    const fnAfter = await functionMs(scratch, 'clerk_sync_upsert');
    return {
      users: done,
      ms,
      usersPerSecond: done / (ms / 1000),
      method: "clerk_sync_upsert('user', …) with one user per call, one call after the other",
      postgresCpuPerUser:
        cpuBefore === null || cpuAfter === null ? null : ((cpuAfter - cpuBefore) * 1000) / done,
      sqlFunctionPerUser: fnAfter === null ? null : ((fnAfter - (fnBefore ?? 0)) * 1000) / done,
      clientCpuPerUser: (client.user + client.system) / done,
      standinCpuPerUser: ((standinAfter.cpuMs - standinBefore.cpuMs) * 1000) / done,
    };
  } finally {
    await db.close().catch(() => {});
  }
}

async function rateLimited(scratch: Scratch, o: BackfillOptions, rate?: number): Promise<RateLimitedRun> {
  await truncateAll(scratch.db);
  const standin = await startStandin({
    secretKey: SECRET_KEY,
    users: o.rateLimitedUsers,
    organizations: 0,
    membersPerOrg: 0,
    rate: CLERK_DEV_RATE,
    realistic: true,
  });
  // The checkpoint row, sampled every 100 ms: progress over time, from the database's side.
  const samples: { at: number; done: number }[] = [];
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const { rows } = await scratch.db.query<{ n: number }>(
        "select next_offset as n from clerk_sync.backfill_passes where kind = 'user'",
      );
      samples.push({ at: Date.now(), done: rows[0]?.n ?? 0 });
      await sleep(100);
    }
  })();
  try {
    const args = ['backfill', '--only', 'users', ...(rate === undefined ? [] : ['--rate', String(rate)])];
    const result = await runJson<ChildResult>('bench/procs/backfill.ts', args, {
      env: backfillEnv(scratch, standin.url),
      timeoutMs: 900_000,
    });
    polling = false;
    await poll;
    if (result.code !== 0)
      throw new Error(`backfill exited ${result.code}: ${JSON.stringify(result.err.slice(-5))}`);
    const stats = await ask<StandinStats>(standin.child, { cmd: 'stats' });
    const pauses = result.err
      .filter((e) => /rate limit/i.test(e.line))
      .map((e) => ({ atMs: Math.round(e.ms), line: e.line }));
    const at = (t: number) => {
      // Progress at time t, interpolated between samples.
      const i = samples.findIndex((s) => s.at >= t);
      if (i <= 0) return i === 0 ? (samples[0]?.done ?? 0) : null;
      const a = samples[i - 1] as { at: number; done: number };
      const b = samples[i] as { at: number; done: number };
      return a.done + ((b.done - a.done) * (t - a.at)) / Math.max(1, b.at - a.at);
    };
    const w = CLERK_DEV_RATE.windowMs;
    const from = at(result.startedAt + w);
    const to = result.ms >= 2 * w ? at(result.startedAt + 2 * w) : null;
    const steady = from !== null && to !== null ? (to - from) / (w / 1000) : null;
    const usersPerSecond = o.rateLimitedUsers / (result.ms / 1000);
    const r = {
      users: o.rateLimitedUsers,
      budget: rate === undefined ? 'the CLI default (--rate 90 per 10 s)' : `--rate ${rate} per 10 s`,
      totalMs: result.ms,
      usersPerSecond,
      shareOfCeiling: usersPerSecond / CEILING_USERS_PER_SECOND,
      steadyUsersPerSecond: steady,
      steadyShareOfCeiling: steady === null ? null : steady / CEILING_USERS_PER_SECOND,
      rateLimited: stats.rateLimited,
      rateLimitedAfterFirstWindow: pauses.filter((p) => p.atMs > w).length,
      pauses,
      requests: stats.requests,
    };
    o.log(
      `  rate-limited (${r.budget}) ${r.users} users: ${usersPerSecond.toFixed(0)} users/s (${(r.shareOfCeiling * 100).toFixed(1)} % of ${CEILING_USERS_PER_SECOND}), steady ${steady?.toFixed(0) ?? 'n/a'}, 429s ${r.rateLimited}`,
    );
    return r;
  } finally {
    polling = false;
    await poll.catch(() => {});
    await closeStandin(standin.child).catch(() => {});
  }
}

export async function backfillSection(scratch: Scratch, o: BackfillOptions): Promise<BackfillResult> {
  // Time inside the SQL entry points (pg_stat_user_functions), for the sessions opened from now on.
  await scratch.db.query(`alter database ${scratch.name} set track_functions = 'pl'`);
  const small = (await usersBackfill(scratch, o.small.users, o)).run;
  const { run: large, standin } = await usersBackfill(scratch, o.large.users, o, true);
  let copy: BackfillResult['copy'];
  let base: BackfillResult['baseline'];
  try {
    copy = await copyLimit(scratch, o.large.users);
    o.log(`  COPY of the same rows: ${copy.usersPerSecond.toFixed(0)} users/s`);
    base = await baseline(scratch, standin as { child: ChildProcess; url: string }, o.baselineUsers);
    const us = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(0)} µs`);
    o.log(
      `  baseline (one upsert per user): ${base.usersPerSecond.toFixed(0)} users/s over ${base.users}; CPU per user: loop ${us(base.clientCpuPerUser)}, stand-in ${us(base.standinCpuPerUser)}, Postgres ${us(base.postgresCpuPerUser)} (in clerk_sync_upsert ${us(base.sqlFunctionPerUser)})`,
    );
  } finally {
    if (standin) await closeStandin(standin.child);
  }
  const limited = await rateLimited(scratch, o);
  const fullBudget = o.fullBudgetRun ? await rateLimited(scratch, o, CLERK_DEV_RATE.requests) : undefined;
  return {
    userShape: standin?.users as UserShape,
    small,
    large,
    copy,
    baseline: base,
    rateLimited: limited,
    ...(fullBudget ? { rateLimitedFullBudget: fullBudget } : {}),
    ceilingUsersPerSecond: CEILING_USERS_PER_SECOND,
  };
}
