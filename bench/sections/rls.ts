/**
 * @module RLS cost: an app table of N rows (100 per user) secured by the migration `clerk-sync rls`
 * generates; one user's `select` as `authenticated` (role and request.jwt.claims set per transaction,
 * as PostgREST does) against the same rows read by the service role, which bypasses RLS.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Session } from '../../src/db/database.ts';
import { ROOT } from '../lib/child.ts';
import { type Latency, latency } from '../lib/drive.ts';
import type { Scratch } from '../lib/scratch.ts';

const run = promisify(execFile);
const TABLE = 'bench_notes';

export interface RlsResult {
  rows: number;
  users: number;
  rowsPerUser: number;
  migration: string;
  plan: { authenticated: string; serviceRole: string };
  usesIndex: boolean;
  iterations: number;
  /** Client-side time of the select statement alone (role and claims set beforehand, as PostgREST does). */
  authenticatedMs: Latency;
  serviceRoleMs: Latency;
  /** EXPLAIN ANALYZE execution time, server-side. */
  authenticatedExecMs: number;
  serviceRoleExecMs: number;
  /** authenticated / service role, by median statement time. */
  ratio: number;
  execRatio: number;
}

const userId = (k: number) => `user_${String(k).padStart(27, '0')}`;

/** Generates the migration with the CLI (`clerk-sync rls <table> --stdout`). */
async function rlsSql(): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'bin/clerk-sync.mjs', 'rls', TABLE, '--stdout'],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      maxBuffer: 1 << 20,
    },
  );
  return stdout;
}

async function as<T>(
  scratch: Scratch,
  role: 'authenticated' | 'service_role',
  claims: object,
  fn: (s: Session) => Promise<T>,
): Promise<T> {
  return scratch.db.transaction(async (tx) => {
    await tx.query(`set local role ${role}`);
    await tx.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims)]);
    return fn(tx);
  });
}

const AUTH_SQL = `select * from public.${TABLE}`;
const SERVICE_SQL = `select * from public.${TABLE} where user_id = $1`;

export async function rlsSection(
  scratch: Scratch,
  o: { rows: number; rowsPerUser: number; iterations: number; log: (line: string) => void },
): Promise<RlsResult> {
  const users = Math.max(1, Math.floor(o.rows / o.rowsPerUser));
  const migration = await rlsSql();
  const db = scratch.db;
  await db.query(`drop table if exists public.${TABLE}`);
  await db.query(
    `create table public.${TABLE} (id bigint generated always as identity primary key, user_id text,
       title text not null, body text not null, done boolean not null default false,
       created_at timestamptz not null default now())`,
  );
  await db.query(
    `insert into public.${TABLE} (user_id, title, body, done)
     select 'user_' || lpad((g % $1)::text, 27, '0'), 'Note ' || g, md5(g::text) || md5((g + 1)::text), g % 3 = 0
     from generate_series(1, $2) g`,
    [users, o.rows],
  );
  await db.withSession((s) => s.exec(migration));
  // Supabase grants the service role every table of public by default; plain Postgres does not.
  await db.query(`grant select on public.${TABLE} to service_role`);
  await db.query(`vacuum analyze public.${TABLE}`);

  const explain = async (role: 'authenticated' | 'service_role', k: number, analyze: boolean) =>
    as(scratch, role, role === 'authenticated' ? { sub: userId(k), role } : { role }, async (tx) => {
      const sql = role === 'authenticated' ? AUTH_SQL : SERVICE_SQL;
      const params = role === 'authenticated' ? [] : [userId(k)];
      const { rows } = await tx.query<{ 'QUERY PLAN': unknown }>(
        `explain (${analyze ? 'analyze, buffers, ' : ''}format ${analyze ? 'json' : 'text'}) ${sql}`,
        params,
      );
      return rows.map((r) => r['QUERY PLAN']);
    });
  const planAuth = (await explain('authenticated', 1, false)).join('\n');
  const planService = (await explain('service_role', 1, false)).join('\n');
  const usesIndex =
    /Index (Only )?Scan|Bitmap Index Scan/.test(planAuth) && planAuth.includes(`${TABLE}_user_id_idx`);

  const timeOne = async (role: 'authenticated' | 'service_role', k: number) =>
    as(scratch, role, role === 'authenticated' ? { sub: userId(k), role } : { role }, async (tx) => {
      const t0 = performance.now();
      const { rows } =
        role === 'authenticated' ? await tx.query(AUTH_SQL) : await tx.query(SERVICE_SQL, [userId(k)]);
      const ms = performance.now() - t0;
      if (rows.length !== o.rowsPerUser)
        throw new Error(`${role}: expected ${o.rowsPerUser} rows, got ${rows.length}`);
      return ms;
    });
  const auth = new Float64Array(o.iterations);
  const service = new Float64Array(o.iterations);
  for (let i = 0; i < 50; i++) {
    await timeOne('authenticated', i);
    await timeOne('service_role', i);
  }
  for (let i = 0; i < o.iterations; i++) {
    const k = (i * 7_919) % users;
    // Alternate which goes first, so neither always finds the other's pages freshly cached.
    if (i % 2 === 0) {
      auth[i] = await timeOne('authenticated', k);
      service[i] = await timeOne('service_role', k);
    } else {
      service[i] = await timeOne('service_role', k);
      auth[i] = await timeOne('authenticated', k);
    }
  }
  const execTimes = async (role: 'authenticated' | 'service_role') => {
    const times: number[] = [];
    for (let i = 0; i < 41; i++) {
      const [plan] = (await explain(role, (i * 104_729) % users, true)) as [{ 'Execution Time': number }[]];
      times.push((plan as { 'Execution Time': number }[])[0]?.['Execution Time'] ?? 0);
    }
    return times.sort((a, b) => a - b)[20] as number;
  };
  const authenticatedExecMs = await execTimes('authenticated');
  const serviceRoleExecMs = await execTimes('service_role');
  const authenticatedMs = latency(auth);
  const serviceRoleMs = latency(service);
  await db.query(`drop table public.${TABLE}`);
  const result: RlsResult = {
    rows: o.rows,
    users,
    rowsPerUser: o.rowsPerUser,
    migration: `clerk-sync rls ${TABLE} --stdout`,
    plan: { authenticated: planAuth, serviceRole: planService },
    usesIndex,
    iterations: o.iterations,
    authenticatedMs,
    serviceRoleMs,
    authenticatedExecMs,
    serviceRoleExecMs,
    ratio: authenticatedMs.p50 / serviceRoleMs.p50,
    execRatio: authenticatedExecMs / serviceRoleExecMs,
  };
  o.log(
    `  RLS ${o.rows} rows: authenticated p50 ${authenticatedMs.p50.toFixed(3)} ms vs service role ${serviceRoleMs.p50.toFixed(3)} ms (×${result.ratio.toFixed(2)}), index ${usesIndex ? 'used' : 'NOT used'}`,
  );
  return result;
}
