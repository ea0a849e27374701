/**
 * @module RLS cost: an app table of N rows (100 per user) secured by the SQL `clerk-sync rls`
 * generates; one user's `select` as `authenticated` (role and request.jwt.claims set per transaction,
 * as PostgREST does) against the same rows read by the service role, which bypasses RLS.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT } from '../lib/child.ts';
import { type Latency, latency } from '../lib/drive.ts';
import type { Scratch } from '../lib/scratch.ts';

const run = promisify(execFile);
const TABLE = 'bench_notes';

export interface RlsResult {
  rows: number;
  migration: string;
  /** EXPLAIN of the authenticated select, and whether it reads the owner column's index. */
  plan: string;
  usesIndex: boolean;
  iterations: number;
  /** Client-side time of the select statement alone. */
  authenticatedMs: Latency;
  serviceRoleMs: Latency;
  /** authenticated / service role, by p50. */
  ratio: number;
}

const userId = (k: number) => `user_${String(k).padStart(27, '0')}`;

export async function rlsSection(
  scratch: Scratch,
  o: { rows: number; rowsPerUser: number; iterations: number; log: (line: string) => void },
): Promise<RlsResult> {
  const users = Math.max(1, Math.floor(o.rows / o.rowsPerUser));
  const { stdout: migration } = await run(
    process.execPath,
    ['--import', 'tsx', 'bin/clerk-sync.mjs', 'rls', TABLE, '--stdout'],
    { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME }, maxBuffer: 1 << 20 },
  );
  const db = scratch.db;
  await db.query(
    `create table public.${TABLE} (id bigint generated always as identity primary key, user_id text,
       title text not null, body text not null, created_at timestamptz not null default now())`,
  );
  await db.query(
    `insert into public.${TABLE} (user_id, title, body)
     select 'user_' || lpad((g % $1)::text, 27, '0'), 'Note ' || g, md5(g::text) || md5((g + 1)::text)
     from generate_series(1, $2) g`,
    [users, o.rows],
  );
  await db.withSession((s) => s.exec(migration));
  // Supabase grants the service role every table of public by default; plain Postgres does not.
  await db.query(`grant select on public.${TABLE} to service_role`);
  await db.query(`vacuum analyze public.${TABLE}`);

  const as = (role: 'authenticated' | 'service_role', k: number, sql: string, params: unknown[] = []) =>
    db.transaction(async (tx) => {
      await tx.query(`set local role ${role}`);
      const claims = role === 'authenticated' ? { sub: userId(k), role } : { role };
      await tx.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims)]);
      const t0 = performance.now();
      const { rows } = await tx.query<Record<string, unknown>>(sql, params);
      return { ms: performance.now() - t0, rows };
    });
  const timeOne = async (role: 'authenticated' | 'service_role', k: number) => {
    const x =
      role === 'authenticated'
        ? await as(role, k, `select * from public.${TABLE}`)
        : await as(role, k, `select * from public.${TABLE} where user_id = $1`, [userId(k)]);
    if (x.rows.length !== o.rowsPerUser)
      throw new Error(`as ${role}: expected ${o.rowsPerUser} rows, got ${x.rows.length}`);
    return x.ms;
  };
  const explain = await as('authenticated', 1, `explain select * from public.${TABLE}`);
  const plan = explain.rows.map((r) => r['QUERY PLAN']).join('\n');
  for (let i = 0; i < 50; i++) {
    await timeOne('authenticated', i);
    await timeOne('service_role', i);
  }
  const auth = new Float64Array(o.iterations);
  const service = new Float64Array(o.iterations);
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
  await db.query(`drop table public.${TABLE}`);
  const [authenticatedMs, serviceRoleMs] = [latency(auth), latency(service)];
  const ratio = authenticatedMs.p50 / serviceRoleMs.p50;
  const usesIndex =
    /Index (Only )?Scan|Bitmap Index Scan/.test(plan) && plan.includes(`${TABLE}_user_id_idx`);
  o.log(
    `  ${o.rows} rows: authenticated p50 ${authenticatedMs.p50.toFixed(3)} ms vs service role ${serviceRoleMs.p50.toFixed(3)} ms (×${ratio.toFixed(2)}), index ${usesIndex ? 'used' : 'NOT used'}`,
  );
  const iterations = o.iterations;
  return {
    rows: o.rows,
    migration: `clerk-sync rls ${TABLE} --stdout`,
    plan,
    usesIndex,
    iterations,
    authenticatedMs,
    serviceRoleMs,
    ratio,
  };
}
