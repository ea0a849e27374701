/**
 * @module `npm run bench [-- --quick] [-- --only receiver,backfill,rls,edge]`: measures the figures the
 * README reports against their baselines and limits on the Postgres server in BENCH_DATABASE_URL (a
 * scratch database per run, dropped at the end), and writes bench/results/latest.json and latest.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { killAll, ROOT } from './lib/child.ts';
import { markdown, type Results, targets } from './lib/report.ts';
import { createScratch, type Scratch } from './lib/scratch.ts';
import { backfillSection } from './sections/backfill.ts';
import { edgeSection } from './sections/edge.ts';
import { receiverSection } from './sections/receiver.ts';
import { rlsSection } from './sections/rls.ts';

const SECTIONS = ['receiver', 'backfill', 'rls', 'edge'] as const;
type Section = (typeof SECTIONS)[number];

const SIGNING_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const SIZES = {
  quick: {
    receiver: { concurrencies: [1, 16], durationMs: 2_000, warmup: 150, prewarm: 3_000, rounds: 1 },
    backfill: {
      small: { users: 2_000, organizations: 40, membersPerOrg: 10 },
      large: { users: 10_000, organizations: 200, membersPerOrg: 10 },
      baselineUsers: 1_000,
      rateLimitedUsers: 50_000,
      fullBudgetRun: false,
    },
    rls: { rows: 100_000, rowsPerUser: 100, iterations: 200 },
    edge: { events: 100, runs: 3 },
  },
  full: {
    receiver: { concurrencies: [1, 16], durationMs: 5_000, warmup: 500, prewarm: 10_000, rounds: 3 },
    backfill: {
      small: { users: 10_000, organizations: 200, membersPerOrg: 10 },
      large: { users: 100_000, organizations: 2_000, membersPerOrg: 10 },
      baselineUsers: 5_000,
      rateLimitedUsers: 100_000,
      fullBudgetRun: true,
    },
    rls: { rows: 1_000_000, rowsPerUser: 100, iterations: 500 },
    edge: { events: 300, runs: 7 },
  },
} as const;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench/results') },
  },
});
const mode = values.quick ? 'quick' : 'full';
const sizes = SIZES[mode];
const only = new Set<Section>(
  values.only === undefined
    ? SECTIONS
    : values.only.split(',').map((s) => {
        if (!(SECTIONS as readonly string[]).includes(s))
          throw new Error(`--only takes ${SECTIONS.join(',')}`);
        return s as Section;
      }),
);

const log = (line: string) => process.stderr.write(`${line}\n`);
const git = (args: string[]) => {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};

let scratch: Scratch | undefined;
let logDir: string | undefined;
async function cleanUp() {
  killAll();
  await scratch?.drop().catch((e: unknown) => log(`could not drop ${scratch?.name}: ${String(e)}`));
  if (logDir) await rm(logDir, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    log(`\n${signal}: stopping children, dropping the scratch database`);
    void cleanUp().finally(() => process.exit(130));
  });

const started = Date.now();
log(`bench (${mode}${mode === 'quick' ? ': sizes scaled down, shorter load' : ''})`);
scratch = await createScratch();
logDir = await mkdtemp(join(tmpdir(), 'clerk-bench-logs-'));
log(`scratch database ${scratch.name}`);
try {
  const pgVersion = (await scratch.db.query<{ v: string }>('select version() as v')).rows[0]?.v ?? '';
  const partial: Omit<Results, 'targets'> = {
    run: {
      mode,
      startedAt: new Date(started).toISOString(),
      durationS: 0,
      commit: `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'src', 'supabase']) === '' ? '' : ' (src or supabase/ modified in the working tree)'}`,
      node: process.version,
      postgres: pgVersion.replace(/ on .*$/, ''),
      cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
      memoryGb: totalmem() / 2 ** 30,
      loadAverage: [loadavg()[0] ?? 0, 0],
    },
  };
  if (only.has('receiver')) {
    log('webhook receiver: ours (npm start) and the minimal receiver');
    partial.receiver = await receiverSection(scratch, {
      ...sizes.receiver,
      concurrencies: [...sizes.receiver.concurrencies],
      secret: SIGNING_SECRET,
      logDir,
      log,
    });
  }
  if (only.has('backfill')) {
    log('backfill');
    partial.backfill = await backfillSection(scratch, { ...sizes.backfill, log });
  }
  if (only.has('rls')) {
    log('RLS');
    partial.rls = await rlsSection(scratch, { ...sizes.rls, log });
  }
  if (only.has('edge')) {
    log('the Worker in workerd: bundle size and CPU per event');
    partial.edge = await edgeSection(sizes.edge);
  }
  partial.run.durationS = (Date.now() - started) / 1000;
  partial.run.loadAverage[1] = loadavg()[0] ?? 0;
  const results: Results = { ...partial, targets: targets(partial) };
  await mkdir(values.out, { recursive: true });
  await writeFile(join(values.out, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(values.out, 'latest.md'), markdown(results));
  log('');
  for (const t of results.targets)
    log(
      `${t.pass === null ? ' n/a' : t.pass ? 'PASS' : 'MISS'}  ${t.area}: ${t.target} — ${t.measured}${t.note ? ` (${t.note})` : ''}`,
    );
  log(`\nwrote ${join(values.out, 'latest.md')} and latest.json in ${results.run.durationS.toFixed(0)} s`);
} finally {
  await cleanUp();
}
