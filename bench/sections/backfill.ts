/**
 * @module Backfill section: `clerk-sync backfill` from the Clerk stand-in into Postgres (small and
 * large data sets, for users/s and peak RSS), the limit (server-side COPY of the very rows it wrote,
 * into the same tables), the baseline (one upsert per user, in turn), and a run against Clerk's
 * development rate limit (100 requests / 10 s) with the CLI's default budget.
 */
import type { ChildProcess } from 'node:child_process';
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
}

export interface BackfillRun {
  size: DataSize & { memberships: number };
  totalMs: number;
  /** Per kind: time from the previous kind's end (or the start) to its last page applied. */
  kinds: Record<string, { rows: number; ms: number; perSecond: number }>;
  usersPerSecond: number;
  peakRssMb: number;
  cpuMs: number;
  requests: number;
}

export interface BackfillResult {
  small: BackfillRun;
  large: BackfillRun;
  copy: { users: number; ms: number; usersPerSecond: number; tables: string[] };
  baseline: { users: number; ms: number; usersPerSecond: number; method: string };
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

async function startStandin(spec: StandinSpec): Promise<{ child: ChildProcess; url: string }> {
  const child = forkTs('bench/procs/standin.ts', spec);
  const ready = await new Promise<{ url: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string }));
    child.once('exit', (code) => reject(new Error(`stand-in exited ${code}`)));
  });
  return { child, url: ready.url };
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

const PROGRESS = /^backfill: (\d+)\/(\d+) (users|organizations|memberships)\b/;

function kindTimes(result: ChildResult): BackfillRun['kinds'] {
  const kinds: BackfillRun['kinds'] = {};
  let previous = 0;
  for (const { ms, line } of result.err) {
    const m = PROGRESS.exec(line);
    // The first line at the total (a count divisible by 500 prints it again after the empty last page).
    if (!m || m[1] !== m[2] || kinds[m[3] as string] !== undefined) continue;
    const rows = Number(m[1]);
    kinds[m[3] as string] = { rows, ms: ms - previous, perSecond: rows / ((ms - previous) / 1000) };
    previous = ms;
  }
  return kinds;
}

async function fullBackfill(scratch: Scratch, size: DataSize, o: BackfillOptions, keep = false) {
  await truncateAll(scratch.db);
  await scratch.db.query('checkpoint');
  const standin = await startStandin({ secretKey: SECRET_KEY, ...size });
  try {
    const result = await runJson<ChildResult>('bench/procs/backfill.ts', ['backfill', '--rate', '1000000'], {
      env: backfillEnv(scratch, standin.url),
      timeoutMs: 900_000,
    });
    if (result.code !== 0)
      throw new Error(`backfill exited ${result.code}: ${JSON.stringify(result.err.slice(-5))}`);
    const stats = await ask<StandinStats>(standin.child, { cmd: 'stats' });
    const kinds = kindTimes(result);
    const run: BackfillRun = {
      size: { ...size, memberships: size.organizations * Math.min(size.membersPerOrg, size.users) },
      totalMs: result.ms,
      kinds,
      usersPerSecond: kinds.users?.perSecond ?? 0,
      peakRssMb: result.maxRssKb / 1024,
      cpuMs: result.cpuMs,
      requests: stats.requests,
    };
    o.log(
      `  backfill ${size.users} users: ${run.usersPerSecond.toFixed(0)} users/s, total ${(run.totalMs / 1000).toFixed(1)} s, peak RSS ${run.peakRssMb.toFixed(0)} MB`,
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
async function baseline(scratch: Scratch, url: string, users: number): Promise<BackfillResult['baseline']> {
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
    return {
      users: done,
      ms,
      usersPerSecond: done / (ms / 1000),
      method: "clerk_sync_upsert('user', …) with one user per call, one call after the other",
    };
  } finally {
    await db.close();
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
  const small = (await fullBackfill(scratch, o.small, o)).run;
  const { run: large, standin } = await fullBackfill(scratch, o.large, o, true);
  let copy: BackfillResult['copy'];
  let base: BackfillResult['baseline'];
  try {
    copy = await copyLimit(scratch, o.large.users);
    o.log(`  COPY limit: ${copy.usersPerSecond.toFixed(0)} users/s`);
    base = await baseline(scratch, standin?.url as string, o.baselineUsers);
    o.log(`  baseline (one upsert per user): ${base.usersPerSecond.toFixed(0)} users/s over ${base.users}`);
  } finally {
    if (standin) await closeStandin(standin.child);
  }
  const limited = await rateLimited(scratch, o);
  const fullBudget = o.fullBudgetRun ? await rateLimited(scratch, o, CLERK_DEV_RATE.requests) : undefined;
  return {
    small,
    large,
    copy,
    baseline: base,
    rateLimited: limited,
    ...(fullBudget ? { rateLimitedFullBudget: fullBudget } : {}),
    ceilingUsersPerSecond: CEILING_USERS_PER_SECOND,
  };
}
