/**
 * @module `npx tsx bench/sql-lean.ts [--quick]`: measures the webhook SQL entry point as the
 * migrations define it against the leaner versions in bench/lean/ (applied to a scratch database
 * only), A/B/C/A so that drift shows. Per variant: the server-side execution time per event (a
 * DO block calling `clerk_sync_apply_event` for each event of the bench workload, no commit per
 * event) and the limit at concurrency 1 and 16 (bench/procs/direct.ts, one transaction per
 * event). Writes bench/results/sql-lean.json and sql-lean.md.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { interpret } from '../src/core/dispatch.ts';
import { killAll, ROOT, runJson } from './lib/child.ts';
import type { DriveResult } from './lib/drive.ts';
import type { SqlPhaseSpec } from './lib/phase.ts';
import { createScratch, type Scratch, truncateAll } from './lib/scratch.ts';
import { phaseEvents, SEED, seedEvents } from './lib/workload.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const SIZES = values.quick
  ? { mirrorUsers: 10_000, loopEvents: 1_000, durationMs: 2_000 }
  : { mirrorUsers: 20_000, loopEvents: 3_000, durationMs: 6_000 };
const FUNCTIONS = [
  'clerk_sync.upsert_users',
  'clerk_sync.upsert_organizations',
  'clerk_sync.upsert_memberships',
  'public.clerk_sync_apply_event',
];
const log = (line: string) => process.stderr.write(`${line}\n`);
const migrationsCommit = () => {
  const git = (args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  try {
    const dirty = git(['status', '--porcelain', '--', 'supabase/migrations']) !== '';
    return `${git(['log', '-1', '--format=%h', '--', 'supabase/migrations'])}${dirty ? ' (modified in the working tree)' : ''}`;
  } catch {
    return 'unknown';
  }
};

/** The current definitions of the functions the lean files replace, cut from the migration. */
async function currentDefinitions(): Promise<string> {
  const sql = await readFile(
    join(ROOT, 'supabase/migrations/20261122000100_clerk_sync_functions.sql'),
    'utf8',
  );
  return FUNCTIONS.map((name) => {
    const start = sql.indexOf(`create or replace function ${name}(`);
    const end = sql.indexOf('\n$$;\n', sql.indexOf('as $$', start));
    if (start < 0 || end < 0) throw new Error(`${name} not found in the migration`);
    return sql.slice(start, end + 5);
  }).join('\n');
}

async function seedMirror(scratch: Scratch, users: number): Promise<void> {
  const seed = seedEvents(Date.now() - 86_400_000);
  const rows = (list: Record<string, unknown>[]) =>
    list.map((e) => {
      const r = interpret(e);
      if (r.kind !== 'apply') throw new Error('seed event does not apply');
      return r.data as { id: string };
    });
  const orgs = rows(seed.organizations);
  const memberships = rows(seed.memberships);
  const template = rows(seed.users.slice(0, 1))[0] as Record<string, unknown>;
  for (let i = 0; i < users; i += 500) {
    const batch = Array.from({ length: Math.min(500, users - i) }, (_, k) => ({
      ...template,
      id:
        i + k < SEED.users
          ? `user_seed${String(i + k).padStart(23, '0')}`
          : `user_bulk${String(i + k).padStart(23, '0')}`,
    }));
    await scratch.db.query('select public.clerk_sync_upsert_users($1::jsonb)', [JSON.stringify(batch)]);
  }
  await scratch.db.query('select public.clerk_sync_upsert_organizations($1::jsonb)', [JSON.stringify(orgs)]);
  for (let i = 0; i < memberships.length; i += 500)
    await scratch.db.query('select public.clerk_sync_upsert_memberships($1::jsonb)', [
      JSON.stringify(memberships.slice(i, i + 500)),
    ]);
  await scratch.db.query('analyze');
}

let tsCursor = Date.now();

/** µs per event of the entry point alone: one DO block over a table of mapped events. */
async function serverSide(scratch: Scratch, tag: string, count: number): Promise<number> {
  const calls = [...phaseEvents({ tag, count, tsBase: tsCursor, seed: 11 })].map(({ id, event }) => {
    const r = interpret(event);
    if (r.kind !== 'apply') throw new Error('workload event does not apply');
    return { id, type: r.type, data: r.data, occurred_at: r.occurredAt };
  });
  tsCursor += count;
  return scratch.db.withSession(async (s) => {
    await s.exec(
      'create temp table if not exists lean_calls (n int, id text, type text, data jsonb, occurred_at timestamptz)',
    );
    await s.exec('truncate lean_calls');
    await s.query(
      `insert into lean_calls select n, c.id, c.type, c.data, c.occurred_at
       from jsonb_array_elements($1::jsonb) with ordinality as e(c0, n),
            jsonb_to_record(e.c0) as c(id text, type text, data jsonb, occurred_at timestamptz)`,
      [JSON.stringify(calls)],
    );
    const t0 = performance.now();
    await s.exec(`do $$ declare c record; begin
      for c in select * from lean_calls order by n loop
        perform public.clerk_sync_apply_event(c.id, c.type, c.data, c.occurred_at, null, null);
      end loop; end $$`);
    return ((performance.now() - t0) * 1000) / count;
  });
}

async function limit(scratch: Scratch, tag: string, concurrency: number): Promise<DriveResult> {
  const spec: SqlPhaseSpec = {
    tag,
    seed: 13,
    tsBase: tsCursor,
    concurrency,
    warmup: 200,
    count: Math.ceil((SIZES.durationMs / 1000) * 3_000),
    durationMs: SIZES.durationMs,
    databaseUrl: scratch.url,
    poolMax: Math.min(concurrency, 10),
  };
  tsCursor += spec.warmup + spec.count;
  return runJson<DriveResult>('bench/procs/direct.ts', spec);
}

interface Row {
  variant: string;
  serverUsPerEvent: number;
  limit1: number;
  limit16: number;
  p99At16: number;
}

const scratch = await createScratch();
process.once('SIGINT', () => {
  killAll();
  void scratch.drop().finally(() => process.exit(130));
});
try {
  log(`scratch database ${scratch.name}`);
  const current = await currentDefinitions();
  const step1 = await readFile(join(ROOT, 'bench/lean/1-index-probes.sql'), 'utf8');
  const step2 = await readFile(join(ROOT, 'bench/lean/2-apply-event.sql'), 'utf8');
  // Each variant is applied on top of the functions as migrated.
  const variants: [string, string][] = [
    ['A: as migrated', ''],
    ['B: index probes (bench/lean/1-index-probes.sql)', step1],
    ['C: direct lock + one ledger statement (bench/lean/2-apply-event.sql)', step2],
    ['B + C', `${step1}\n${step2}`],
    ['A again: as migrated', ''],
  ];
  const rows: Row[] = [];
  let n = 0;
  for (const [variant, sql] of variants) {
    // The same starting point for every variant: plans depend on the tables' sizes and statistics.
    await truncateAll(scratch.db);
    await seedMirror(scratch, SIZES.mirrorUsers);
    await scratch.db.withSession((s) => s.exec(`${current}\n${sql}`));
    const server = await serverSide(scratch, `s${n}`, SIZES.loopEvents);
    const at1 = await limit(scratch, `a${n}`, 1);
    const at16 = await limit(scratch, `b${n}`, 16);
    n++;
    rows.push({
      variant,
      serverUsPerEvent: server,
      limit1: at1.perSecond,
      limit16: at16.perSecond,
      p99At16: at16.latencyMs.p99,
    });
    log(
      `${variant}: ${server.toFixed(0)} µs/event server-side; limit ${at1.perSecond.toFixed(0)} ev/s at c=1, ${at16.perSecond.toFixed(0)} ev/s at c=16 (p99 ${at16.latencyMs.p99.toFixed(1)} ms)`,
    );
  }
  const md = [
    '# The webhook SQL entry point: as migrated vs leaner',
    '',
    `\`npx tsx bench/sql-lean.ts${values.quick ? ' --quick' : ''}\`, ${new Date().toISOString()}; "as migrated" is supabase/migrations as of ${migrationsCommit()}. Before each variant the scratch database is emptied, seeded with ${SIZES.mirrorUsers.toLocaleString('en')} users, ${SEED.organizations} organizations and ${SEED.memberships.toLocaleString('en')} memberships, and analyzed (plans depend on table sizes and statistics); then the bench workload (bench/lib/workload.ts) runs on it. Server-side: ${SIZES.loopEvents} events applied in one DO block (no commit per event). Limit: bench/procs/direct.ts, ${SIZES.durationMs / 1000} s, one transaction per event.`,
    '',
    '| variant | µs/event server-side | limit c=1 ev/s | limit c=16 ev/s | p99 c=16 ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.variant} | ${r.serverUsPerEvent.toFixed(0)} | ${r.limit1.toFixed(0)} | ${r.limit16.toFixed(0)} | ${r.p99At16.toFixed(1)} |`,
    ),
    '',
  ].join('\n');
  await writeFile(join(ROOT, 'bench/results/sql-lean.md'), md);
  await writeFile(
    join(ROOT, 'bench/results/sql-lean.json'),
    `${JSON.stringify({ sizes: SIZES, rows }, null, 2)}\n`,
  );
  log('\nwrote bench/results/sql-lean.md');
} finally {
  killAll();
  await scratch.drop();
}
