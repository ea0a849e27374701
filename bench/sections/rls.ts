/**
 * @module RLS cost: app tables of N rows secured by the SQL `clerk-sync rls` generates — one owned
 * by users (100 rows each), one by organizations with a read policy requiring a permission through
 * has_org_permission — and a user's `select` as `authenticated` (role and request.jwt.claims set per
 * transaction, as PostgREST does) against the same rows read by the service role, which bypasses RLS.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT } from '../lib/child.ts';
import { type Latency, latency } from '../lib/drive.ts';
import type { Scratch } from '../lib/scratch.ts';

const run = promisify(execFile);

export interface RlsResult {
  name: string;
  rows: number;
  migration: string;
  /** EXPLAIN of the authenticated select. */
  plan: string;
  /** For the user-owned table: the plan reads the owner column's index. */
  usesIndex?: boolean;
  iterations: number;
  /** Client-side time of the select statement alone. */
  authenticatedMs: Latency;
  serviceRoleMs: Latency;
  /** authenticated / service role, by p50. */
  ratio: number;
}

interface Options {
  rows: number;
  rowsPerUser: number;
  iterations: number;
  log: (line: string) => void;
}

const id = (prefix: string, k: number) => `${prefix}_${String(k).padStart(27, '0')}`;
const READ = 'org:projects:read';

/** The two tables, each: its `clerk-sync rls` flags, its data, a policy of its own, the service role's query. */
function tables(owners: number) {
  const ts = `'2026-01-01'::timestamptz`;
  return [
    {
      name: 'bench_notes',
      flags: [] as string[],
      create: `create table public.bench_notes (id bigint generated always as identity primary key, user_id text,
         title text not null, body text not null, created_at timestamptz not null default now());
       insert into public.bench_notes (user_id, title, body)
       select 'user_' || lpad((g % ${owners})::text, 27, '0'), 'Note ' || g, md5(g::text) || md5((g + 1)::text)
       from generate_series(1, $rows) g`,
      after: [] as string[],
      serviceSql: 'select * from public.bench_notes where user_id = $1',
      serviceParams: (k: number) => [id('user', k)],
    },
    {
      // User k reads in organization k and is a guest (no permission) in k + 1: the policy must tell
      // them apart.
      name: 'bench_projects',
      flags: ['--org', '--permission', 'org:projects:write'],
      create: `create table public.bench_projects (id bigint generated always as identity primary key,
         organization_id text, title text not null, body text not null, created_at timestamptz not null default now());
       insert into public.bench_projects (organization_id, title, body)
       select 'org_' || lpad((g % ${owners})::text, 27, '0'), 'Project ' || g, md5(g::text) || md5((g + 1)::text)
       from generate_series(1, $rows) g;
       insert into public.organization_roles (id, key, name, created_at, updated_at)
       values ('role_reader', 'org:reader', 'Reader', ${ts}, ${ts}), ('role_guest', 'org:guest', 'Guest', ${ts}, ${ts});
       insert into public.organization_role_permissions (role_id, permission_id, permission_key)
       values ('role_reader', 'perm_read', '${READ}');
       insert into public.organization_memberships (id, organization_id, user_id, role, created_at, updated_at)
       select 'mem_' || g || '_' || r, 'org_' || lpad(((g + r) % ${owners})::text, 27, '0'),
              'user_' || lpad(g::text, 27, '0'), case r when 0 then 'org:reader' else 'org:guest' end, ${ts}, ${ts}
       from generate_series(0, ${owners} - 1) g, generate_series(0, 1) r;
       analyze public.organization_memberships, public.organization_roles, public.organization_role_permissions`,
      // The generated read policy asks for membership only; this one asks for the permission.
      after: [
        `drop policy "Members can read their organization's bench_projects" on public.bench_projects`,
        `create policy "Readers can read their organization's projects" on public.bench_projects
           for select to authenticated
           using (organization_id = any (array(select o from public.requesting_user_organization_ids() o
             where public.has_org_permission(o, '${READ}'))))`,
      ],
      serviceSql: 'select * from public.bench_projects where organization_id = $1',
      serviceParams: (k: number) => [id('org', k)],
    },
  ];
}

/** Measures both tables, one after the other, each dropped at the end. */
export async function rlsSection(scratch: Scratch, o: Options): Promise<RlsResult[]> {
  const owners = Math.max(2, Math.floor(o.rows / o.rowsPerUser));
  const db = scratch.db;
  const results: RlsResult[] = [];
  for (const t of tables(owners)) {
    const { stdout: migration } = await run(
      process.execPath,
      ['--import', 'tsx', 'bin/clerk-sync.mjs', 'rls', t.name, ...t.flags, '--stdout'],
      { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME }, maxBuffer: 1 << 20 },
    );
    await db.withSession((s) => s.exec(t.create.replace('$rows', String(o.rows))));
    await db.withSession((s) => s.exec(migration));
    for (const sql of t.after) await db.query(sql);
    // Supabase grants the service role every table of public by default; plain Postgres does not.
    await db.query(`grant select on public.${t.name} to service_role`);
    await db.query(`vacuum analyze public.${t.name}`);

    const as = (role: 'authenticated' | 'service_role', k: number, sql: string, params: unknown[] = []) =>
      db.transaction(async (tx) => {
        await tx.query(`set local role ${role}`);
        const claims = role === 'authenticated' ? { sub: id('user', k), role } : { role };
        await tx.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims)]);
        const t0 = performance.now();
        const { rows } = await tx.query<Record<string, unknown>>(sql, params);
        return { ms: performance.now() - t0, rows };
      });
    const authSql = `select * from public.${t.name}`;
    const timeOne = async (role: 'authenticated' | 'service_role', k: number) => {
      const x =
        role === 'authenticated'
          ? await as(role, k, authSql)
          : await as(role, k, t.serviceSql, t.serviceParams(k));
      if (x.rows.length !== o.rowsPerUser)
        throw new Error(`${t.name} as ${role}: expected ${o.rowsPerUser} rows, got ${x.rows.length}`);
      return x.ms;
    };
    const plan = (await as('authenticated', 1, `explain ${authSql}`)).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    for (let i = 0; i < 50; i++) {
      await timeOne('authenticated', i);
      await timeOne('service_role', i);
    }
    const auth = new Float64Array(o.iterations);
    const service = new Float64Array(o.iterations);
    for (let i = 0; i < o.iterations; i++) {
      const k = (i * 7_919) % owners;
      // Alternate which goes first, so neither always finds the other's pages freshly cached.
      if (i % 2 === 0) {
        auth[i] = await timeOne('authenticated', k);
        service[i] = await timeOne('service_role', k);
      } else {
        service[i] = await timeOne('service_role', k);
        auth[i] = await timeOne('authenticated', k);
      }
    }
    const authenticatedMs = latency(auth);
    const serviceRoleMs = latency(service);
    const result: RlsResult = {
      name: t.name,
      rows: o.rows,
      migration: `clerk-sync rls ${t.name}${t.flags.map((f) => ` ${f}`).join('')} --stdout`,
      plan,
      ...(t.name === 'bench_notes'
        ? {
            usesIndex:
              /Index (Only )?Scan|Bitmap Index Scan/.test(plan) && plan.includes('bench_notes_user_id_idx'),
          }
        : {}),
      iterations: o.iterations,
      authenticatedMs,
      serviceRoleMs,
      ratio: authenticatedMs.p50 / serviceRoleMs.p50,
    };
    results.push(result);
    await db.query(`drop table public.${t.name}`);
    o.log(
      `  ${t.name}, ${o.rows} rows: authenticated p50 ${authenticatedMs.p50.toFixed(3)} ms vs service role ${serviceRoleMs.p50.toFixed(3)} ms (×${result.ratio.toFixed(2)})`,
    );
  }
  await db.query(
    'truncate public.organization_memberships, public.organization_roles, public.organization_role_permissions',
  );
  return results;
}
