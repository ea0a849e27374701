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

/** Generates the migration with the CLI (`clerk-sync rls <table> --stdout`, plus `flags`). */
async function rlsSql(table: string, flags: string[] = []): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'bin/clerk-sync.mjs', 'rls', table, ...flags, '--stdout'],
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

/** What the two roles' queries are, and how many rows each returns. */
interface Queries {
  authSql: string;
  serviceSql: string;
  /** The JWT claims of user k. */
  claims: (k: number) => object;
  /** The service role's parameters for the same rows as user k's. */
  serviceParams: (k: number) => unknown[];
  rows: number;
  users: number;
  iterations: number;
}

type Measured = Pick<
  RlsResult,
  | 'plan'
  | 'authenticatedMs'
  | 'serviceRoleMs'
  | 'authenticatedExecMs'
  | 'serviceRoleExecMs'
  | 'ratio'
  | 'execRatio'
>;

/** Times `q.authSql` as authenticated against `q.serviceSql` as the service role, alternating, with both plans. */
async function measure(scratch: Scratch, q: Queries): Promise<Measured> {
  const explain = async (role: 'authenticated' | 'service_role', k: number, analyze: boolean) =>
    as(scratch, role, role === 'authenticated' ? { ...q.claims(k), role } : { role }, async (tx) => {
      const sql = role === 'authenticated' ? q.authSql : q.serviceSql;
      const params = role === 'authenticated' ? [] : q.serviceParams(k);
      const { rows } = await tx.query<{ 'QUERY PLAN': unknown }>(
        `explain (${analyze ? 'analyze, buffers, ' : ''}format ${analyze ? 'json' : 'text'}) ${sql}`,
        params,
      );
      return rows.map((r) => r['QUERY PLAN']);
    });
  const planAuth = (await explain('authenticated', 1, false)).join('\n');
  const planService = (await explain('service_role', 1, false)).join('\n');

  const timeOne = async (role: 'authenticated' | 'service_role', k: number) =>
    as(scratch, role, role === 'authenticated' ? { ...q.claims(k), role } : { role }, async (tx) => {
      const t0 = performance.now();
      const { rows } =
        role === 'authenticated'
          ? await tx.query(q.authSql)
          : await tx.query(q.serviceSql, q.serviceParams(k));
      const ms = performance.now() - t0;
      if (rows.length !== q.rows) throw new Error(`${role}: expected ${q.rows} rows, got ${rows.length}`);
      return ms;
    });
  const auth = new Float64Array(q.iterations);
  const service = new Float64Array(q.iterations);
  for (let i = 0; i < 50; i++) {
    await timeOne('authenticated', i);
    await timeOne('service_role', i);
  }
  for (let i = 0; i < q.iterations; i++) {
    const k = (i * 7_919) % q.users;
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
      const [plan] = (await explain(role, (i * 104_729) % q.users, true)) as [{ 'Execution Time': number }[]];
      times.push((plan as { 'Execution Time': number }[])[0]?.['Execution Time'] ?? 0);
    }
    return times.sort((a, b) => a - b)[20] as number;
  };
  const authenticatedExecMs = await execTimes('authenticated');
  const serviceRoleExecMs = await execTimes('service_role');
  const authenticatedMs = latency(auth);
  const serviceRoleMs = latency(service);
  return {
    plan: { authenticated: planAuth, serviceRole: planService },
    authenticatedMs,
    serviceRoleMs,
    authenticatedExecMs,
    serviceRoleExecMs,
    ratio: authenticatedMs.p50 / serviceRoleMs.p50,
    execRatio: authenticatedExecMs / serviceRoleExecMs,
  };
}

export async function rlsSection(
  scratch: Scratch,
  o: { rows: number; rowsPerUser: number; iterations: number; log: (line: string) => void },
): Promise<RlsResult> {
  const users = Math.max(1, Math.floor(o.rows / o.rowsPerUser));
  const migration = await rlsSql(TABLE);
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

  const m = await measure(scratch, {
    authSql: AUTH_SQL,
    serviceSql: SERVICE_SQL,
    claims: (k) => ({ sub: userId(k) }),
    serviceParams: (k) => [userId(k)],
    rows: o.rowsPerUser,
    users,
    iterations: o.iterations,
  });
  const usesIndex =
    /Index (Only )?Scan|Bitmap Index Scan/.test(m.plan.authenticated) &&
    m.plan.authenticated.includes(`${TABLE}_user_id_idx`);
  await db.query(`drop table public.${TABLE}`);
  const result: RlsResult = {
    rows: o.rows,
    users,
    rowsPerUser: o.rowsPerUser,
    migration: `clerk-sync rls ${TABLE} --stdout`,
    usesIndex,
    iterations: o.iterations,
    ...m,
  };
  o.log(
    `  RLS ${o.rows} rows: authenticated p50 ${m.authenticatedMs.p50.toFixed(3)} ms vs service role ${m.serviceRoleMs.p50.toFixed(3)} ms (×${m.ratio.toFixed(2)}), index ${usesIndex ? 'used' : 'NOT used'}`,
  );
  return result;
}

const ORG_TABLE = 'bench_projects';
const READ = 'org:projects:read';

export interface RlsOrgResult extends Measured {
  rows: number;
  organizations: number;
  rowsPerOrg: number;
  migration: string;
  /** The read policy measured (the generated one requires the permission for writes only). */
  policy: string;
  iterations: number;
}

/**
 * RLS by organization and permission: an app table of N rows (100 per organization) secured by
 * `clerk-sync rls --org --permission`, and a read policy requiring `org:projects:read` through
 * has_org_permission. Each user is a member of two organizations — one with a role granting the
 * permission, one with a role that does not — so the policy must tell them apart; the user's
 * `select` as `authenticated` against the same rows read by the service role.
 */
export async function rlsOrgSection(
  scratch: Scratch,
  o: { rows: number; rowsPerUser: number; iterations: number; log: (line: string) => void },
): Promise<RlsOrgResult> {
  const organizations = Math.max(2, Math.floor(o.rows / o.rowsPerUser));
  const orgId = (k: number) => `org_${String(k % organizations).padStart(27, '0')}`;
  const db = scratch.db;
  const migration = await rlsSql(ORG_TABLE, ['--org', '--permission', 'org:projects:write']);
  await db.query(`drop table if exists public.${ORG_TABLE}`);
  await db.query(
    `create table public.${ORG_TABLE} (id bigint generated always as identity primary key, organization_id text,
       title text not null, body text not null, created_at timestamptz not null default now())`,
  );
  await db.query(
    `insert into public.${ORG_TABLE} (organization_id, title, body)
     select 'org_' || lpad((g % $1)::text, 27, '0'), 'Project ' || g, md5(g::text) || md5((g + 1)::text)
     from generate_series(1, $2) g`,
    [organizations, o.rows],
  );
  // The mirror: user k reads in organization k and is a guest (no permission) in k + 1.
  const ts = `'2026-01-01'::timestamptz`;
  await db.query(
    `insert into public.organization_roles (id, key, name, created_at, updated_at)
     values ('role_reader', 'org:reader', 'Reader', ${ts}, ${ts}), ('role_guest', 'org:guest', 'Guest', ${ts}, ${ts});
     insert into public.organization_role_permissions (role_id, permission_id, permission_key)
     values ('role_reader', 'perm_read', '${READ}');`,
  );
  await db.query(
    `insert into public.organization_memberships (id, organization_id, user_id, role, created_at, updated_at)
     select 'mem_' || g || '_' || r, 'org_' || lpad(((g + r) % $1)::text, 27, '0'),
            'user_' || lpad(g::text, 27, '0'), case r when 0 then 'org:reader' else 'org:guest' end, ${ts}, ${ts}
     from generate_series(0, $1 - 1) g, generate_series(0, 1) r`,
    [organizations],
  );
  await db.withSession((s) => s.exec(migration));
  const policy = `create policy "Readers can read their organization's projects"
  on public.${ORG_TABLE} for select to authenticated
  using (organization_id = any (array(select o from public.requesting_user_organization_ids() o
    where public.has_org_permission(o, '${READ}'))))`;
  await db.query(`drop policy "Members can read their organization's ${ORG_TABLE}" on public.${ORG_TABLE}`);
  await db.query(policy);
  await db.query(`grant select on public.${ORG_TABLE} to service_role`);
  await db.query(`vacuum analyze public.${ORG_TABLE}`);
  await db.query(
    'analyze public.organization_memberships, public.organization_roles, public.organization_role_permissions',
  );

  const m = await measure(scratch, {
    authSql: `select * from public.${ORG_TABLE}`,
    serviceSql: `select * from public.${ORG_TABLE} where organization_id = $1`,
    claims: (k) => ({ sub: `user_${String(k % organizations).padStart(27, '0')}` }),
    serviceParams: (k) => [orgId(k)],
    rows: o.rowsPerUser,
    users: organizations,
    iterations: o.iterations,
  });
  await db.query(`drop table public.${ORG_TABLE}`);
  await db.query(
    'truncate public.organization_memberships, public.organization_roles, public.organization_role_permissions',
  );
  o.log(
    `  RLS by organization permission, ${o.rows} rows: authenticated p50 ${m.authenticatedMs.p50.toFixed(3)} ms vs service role ${m.serviceRoleMs.p50.toFixed(3)} ms (×${m.ratio.toFixed(2)})`,
  );
  return {
    rows: o.rows,
    organizations,
    rowsPerOrg: o.rowsPerUser,
    migration: `clerk-sync rls ${ORG_TABLE} --org --permission org:projects:write --stdout`,
    policy,
    iterations: o.iterations,
    ...m,
  };
}
