/**
 * @module The issues' targets checked against a run's results, and the Markdown report.
 */
import type { BackfillResult } from '../sections/backfill.ts';
import type { EdgeResult } from '../sections/edge.ts';
import { type PhaseResult, RECEIVERS, type Receiver, type ReceiverResult } from '../sections/receiver.ts';
import type { RlsResult } from '../sections/rls.ts';

export interface RunInfo {
  mode: 'quick' | 'full';
  startedAt: string;
  durationS: number;
  commit: string;
  node: string;
  postgres: string;
  cpus: string;
  memoryGb: number;
  /** 1-minute load average at the start and at the end: other work on the machine shows here. */
  loadAverage: [number, number];
}

export interface Results {
  run: RunInfo;
  receiver?: ReceiverResult;
  backfill?: BackfillResult;
  rls?: RlsResult;
  edge?: EdgeResult;
  targets: Target[];
}

export interface Target {
  area: string;
  target: string;
  measured: string;
  /** null: not measured in this run (e.g. a size --quick leaves out). */
  pass: boolean | null;
  /** How far off a miss is, or a caveat. */
  note?: string;
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const f0 = (x: number) => x.toFixed(0);
const f2 = (x: number) => x.toFixed(2);
const f3 = (x: number) => x.toFixed(3);

function phase(r: ReceiverResult, receiver: Receiver, c: number): PhaseResult | undefined {
  return r.phases.find((p) => p.receiver === receiver && p.concurrency === c);
}

/** Issue 21's receiver targets: ours against the minimal receiver measured in the same run. */
function receiverTargets(r: ReceiverResult): Target[] {
  const t: Target[] = [];
  for (const [c, times] of [
    [16, 1.2],
    [1, 0.95],
  ] as const) {
    const [ours, minimal] = [phase(r, 'ours', c), phase(r, 'minimal', c)];
    if (!ours || !minimal) continue;
    const x = ours.perSecond / minimal.perSecond;
    t.push({
      area: `Receiver (c=${c})`,
      target: `events/s ≥ ${times}× the minimal receiver`,
      measured: `${f2(x)}× (${f0(ours.perSecond)} vs ${f0(minimal.perSecond)})`,
      pass: x >= times,
    });
  }
  const [ours, minimal] = [phase(r, 'ours', 16), phase(r, 'minimal', 16)];
  if (ours && minimal) {
    const [o, m] = [ours.db, minimal.db];
    t.push(
      {
        area: 'Receiver (c=16)',
        target: "p99 ≤ the minimal receiver's",
        measured: `${f2(ours.latencyMs.p99)} vs ${f2(minimal.latencyMs.p99)} ms`,
        pass: ours.latencyMs.p99 <= minimal.latencyMs.p99,
      },
      {
        area: 'Receiver (c=16)',
        target: 'database transactions per event ≤ 0.3',
        measured: `${f3(o.transactionsPerEvent)} (minimal: ${f3(m.transactionsPerEvent)})`,
        pass: o.transactionsPerEvent <= 0.3,
      },
      {
        area: 'Receiver (c=16)',
        target: "server-side database time per event < the minimal receiver's",
        measured: `${f3(o.dbMsPerEvent)} vs ${f3(m.dbMsPerEvent)} ms`,
        pass: o.dbMsPerEvent < m.dbMsPerEvent,
      },
    );
  }
  const [refused, floor] = RECEIVERS.map((x) => r.refused.find((y) => y.receiver === x));
  if (refused)
    t.push({
      area: 'Receiver (c=16)',
      target: 'CPU per refused (bad-signature) delivery < 0.1 ms',
      measured: `${refused.cpuMsPerRequest.toFixed(4)} ms (minimal: ${floor?.cpuMsPerRequest.toFixed(4)}); ${f3(refused.transactionsPerRequest)} transactions/request`,
      pass: refused.cpuMsPerRequest < 0.1 && refused.transactionsPerRequest < 0.01,
    });
  return t;
}

/** The targets, receiver first. */
export function targets(res: Omit<Results, 'targets'>): Target[] {
  const t: Target[] = res.receiver ? receiverTargets(res.receiver) : [];
  const b = res.backfill;
  if (b) {
    const share = b.large.usersPerSecond / b.copy.usersPerSecond;
    const multiple = b.large.usersPerSecond / b.baseline.usersPerSecond;
    t.push({
      area: 'Backfill',
      target: '≥ 50 % of the COPY rate',
      measured: `${pct(share)} (${f0(b.large.usersPerSecond)} vs ${f0(b.copy.usersPerSecond)} users/s)`,
      pass: share >= 0.5,
      ...(share < 0.5 ? { note: `${((0.5 - share) * 100).toFixed(1)} points short` } : {}),
    });
    t.push({
      area: 'Backfill',
      target: '≥ 10× the per-user baseline',
      measured: `${multiple.toFixed(1)}× (baseline ${f0(b.baseline.usersPerSecond)} users/s)`,
      pass: multiple >= 10,
    });
    const full = b.large.size.users >= 100_000;
    t.push({
      area: 'Backfill',
      target: 'peak RSS ≤ 200 MB at 100k users',
      measured: `${f0(b.large.peakRssMb)} MB at ${b.large.size.users.toLocaleString('en')} users`,
      pass: full ? b.large.peakRssMb <= 200 : null,
      ...(full ? {} : { note: 'quick run: largest size is below 100k' }),
    });
    const growth = b.large.peakRssMb / b.small.peakRssMb - 1;
    t.push({
      area: 'Backfill',
      target: `flat RSS from ${b.small.size.users.toLocaleString('en')} to ${b.large.size.users.toLocaleString('en')} users (≤ +25 %)`,
      measured: `${f0(b.small.peakRssMb)} → ${f0(b.large.peakRssMb)} MB (${growth >= 0 ? '+' : ''}${pct(growth)})`,
      pass: growth <= 0.25,
    });
    const rl = b.rateLimited;
    const judged = rl.steadyShareOfCeiling ?? rl.shareOfCeiling;
    t.push({
      area: 'Backfill, dev rate limit',
      target: `≥ 90 % of ${f0(b.ceilingUsersPerSecond)} users/s`,
      measured:
        rl.steadyShareOfCeiling === null
          ? `${pct(rl.shareOfCeiling)} over the whole run (${(rl.totalMs / 1000).toFixed(1)} s)`
          : `${pct(rl.steadyShareOfCeiling)} steady (10–20 s window); ${pct(rl.shareOfCeiling)} over the whole run`,
      // Without a steady window the whole-run rate is inflated by the first window's burst: no verdict.
      pass: rl.steadyShareOfCeiling === null ? null : judged >= 0.9,
      ...(rl.steadyShareOfCeiling === null
        ? {
            note: 'quick run: shorter than two windows, so the first window’s burst inflates the whole-run rate',
          }
        : judged < 0.9
          ? { note: `${((0.9 - judged) * 100).toFixed(1)} points short` }
          : {}),
    });
    t.push({
      area: 'Backfill, dev rate limit',
      target: 'no 429 after the first window',
      measured: `${rl.rateLimited} × 429 in all, ${rl.rateLimitedAfterFirstWindow} after the first 10 s`,
      pass: rl.rateLimitedAfterFirstWindow === 0,
    });
  }
  const rls = res.rls;
  if (rls)
    t.push(
      {
        area: 'RLS',
        target: "a user's select as authenticated uses the index",
        measured: rls.usesIndex ? 'index scan on the owner column' : 'no index scan (plan below)',
        pass: rls.usesIndex,
      },
      {
        area: 'RLS',
        target: `within 2× of the service role (${rls.rows.toLocaleString('en')} rows)`,
        measured: `×${f2(rls.ratio)} (p50 ${f3(rls.authenticatedMs.p50)} vs ${f3(rls.serviceRoleMs.p50)} ms)`,
        pass: rls.ratio <= 2,
        ...(rls.rows >= 1_000_000 ? {} : { note: 'quick run: fewer rows than 1,000,000' }),
      },
    );
  const edge = res.edge;
  if (edge)
    t.push(
      {
        area: 'Worker',
        target: 'bundle ≤ 150 KiB gzipped',
        measured: `${edge.gzipKiB.toFixed(1)} KiB gzipped (${edge.minifiedKiB.toFixed(1)} KiB minified)`,
        pass: edge.gzipKiB <= 150,
      },
      {
        area: 'Worker',
        target: 'CPU per event ≤ 10 ms (free plan)',
        measured: `${f3(edge.cpuMsPerEvent)} ms (median of ${edge.runs} runs of ${edge.events} events)`,
        pass: edge.cpuMsPerEvent <= 10,
      },
    );
  return t;
}

const verdict = (p: boolean | null) => (p === null ? 'n/a' : p ? 'PASS' : 'MISS');

export function markdown(res: Results): string {
  const { run } = res;
  const lines = [
    '# Benchmark results',
    '',
    `\`npm run bench${run.mode === 'quick' ? ' -- --quick' : ''}\` — ${run.mode === 'quick' ? '**quick run (sizes scaled down, shorter load)**' : 'full run'}, ${run.startedAt}, ${run.durationS.toFixed(0)} s.`,
    `Commit ${run.commit}; Node ${run.node}; ${run.postgres}; ${run.cpus}; ${run.memoryGb.toFixed(0)} GB RAM.`,
    `Load generator, receivers, the Clerk stand-in and Postgres all share this machine; its 1-minute load average was ${f2(run.loadAverage[0])} at the start and ${f2(run.loadAverage[1])} at the end (other work on the machine shows there, and in the figures).`,
    '',
    '## Targets (issues 7 and 21)',
    '',
    '| Area | Target | Measured | Verdict |',
    '| --- | --- | --- | --- |',
    ...res.targets.map(
      (t) =>
        `| ${t.area} | ${t.target} | ${t.measured}${t.note ? ` — ${t.note}` : ''} | **${verdict(t.pass)}** |`,
    ),
  ];
  const r = res.receiver;
  if (r) {
    lines.push(
      '',
      '## Webhook receiver',
      '',
      `Ours is \`npm start\`; the minimal receiver is bare \`node:http\` with the same signature check and the same SQL statement, one transaction per event. Closed loop, ${r.durationMs / 1000} s per phase after a warm-up${r.rounds > 1 ? `, both receivers ${r.rounds} times per concurrency, interleaved, the round with the median events/s shown (all rounds in latest.json)` : ''}; deliveries of ${f0(r.meanBodyBytes)} bytes on average (${r.mix.map(([t, w]) => `${w} % ${t}`).join(', ')}). Transactions and database time (active_time) per event are the scratch database's, from pg_stat_database, over warm-up and timed requests; CPU is the receiver's processes' (from /proc), and the load generator's.`,
      '',
      '| c | receiver | events/s | ours / minimal | p50 ms | p99 ms | transactions/event | DB ms/event | CPU ms/event | generator ms/event | outcomes |',
      '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...r.phases.map((p) => {
        const minimal = phase(r, 'minimal', p.concurrency);
        const ratio = p.receiver === 'ours' && minimal ? `${f2(p.perSecond / minimal.perSecond)}×` : '';
        const outcomes = Object.entries(p.outcomes).map(([k, v]) => `${k} ${v}`);
        return `| ${p.concurrency} | ${p.receiver} | ${f0(p.perSecond)} | ${ratio} | ${f2(p.latencyMs.p50)} | ${f2(p.latencyMs.p99)} | ${f3(p.db.transactionsPerEvent)} | ${f3(p.db.dbMsPerEvent)} | ${f3(p.cpuMsPerEvent)} | ${f3(p.loadgenCpuMsPerEvent)} | ${outcomes.join(', ')} |`;
      }),
    );
  }
  const b = res.backfill;
  if (b) {
    const run = (x: typeof b.large) =>
      `| ${x.size.users.toLocaleString('en')} users, ${x.size.organizations.toLocaleString('en')} orgs, ${x.size.memberships.toLocaleString('en')} memberships | ${f0(x.usersPerSecond)} | ${f0(x.kinds.organizations?.perSecond ?? 0)} | ${f0(x.kinds.memberships?.perSecond ?? 0)} | ${(x.totalMs / 1000).toFixed(1)} | ${f0(x.peakRssMb)} | ${x.requests} |`;
    lines.push(
      '',
      '## Backfill',
      '',
      '`clerk-sync backfill --rate 1000000` (no client-side throttle) from the Clerk stand-in (500 per page, no latency) into emptied tables; users/s is the users pass from the start of the command to its last page applied.',
      '',
      '| data | users/s | orgs/s | memberships/s | total s | peak RSS MB | Clerk requests |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      run(b.small),
      run(b.large),
      '',
      '| users into users_public, users_private, private_metadata | users/s | ours as share / multiple |',
      '| --- | ---: | ---: |',
      `| ours (\`clerk-sync backfill\`) | ${f0(b.large.usersPerSecond)} | |`,
      `| limit: server-side COPY of the same rows (one transaction) | ${f0(b.copy.usersPerSecond)} | ${pct(b.large.usersPerSecond / b.copy.usersPerSecond)} |`,
      `| baseline: one upsert per user, over ${b.baseline.users.toLocaleString('en')} users | ${f0(b.baseline.usersPerSecond)} | ${(b.large.usersPerSecond / b.baseline.usersPerSecond).toFixed(1)}× |`,
      '',
      '',
      `With the stand-in enforcing Clerk's development limit (100 requests / 10 s, so at most ${f0(b.ceilingUsersPerSecond)} users/s), \`clerk-sync backfill --only users\`:`,
      '',
      '| budget | users | s | users/s, whole run | share of ceiling | users/s, 10–20 s window | share | 429s | after first window | requests |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...[b.rateLimited, b.rateLimitedFullBudget]
        .filter((x) => x !== undefined)
        .map(
          (x) =>
            `| ${x.budget} | ${x.users.toLocaleString('en')} | ${(x.totalMs / 1000).toFixed(1)} | ${f0(x.usersPerSecond)} | ${pct(x.shareOfCeiling)} | ${x.steadyUsersPerSecond === null ? 'n/a' : f0(x.steadyUsersPerSecond)} | ${x.steadyShareOfCeiling === null ? 'n/a' : pct(x.steadyShareOfCeiling)} | ${x.rateLimited} | ${x.rateLimitedAfterFirstWindow} | ${x.requests} |`,
        ),
    );
  }
  const rls = res.rls;
  if (rls)
    lines.push(
      '',
      '## RLS cost',
      '',
      `\`${rls.migration}\` applied to a table of ${rls.rows.toLocaleString('en')} rows, 100 per user. Each query in its own transaction after \`set local role\` and \`request.jwt.claims\`, as PostgREST does; ${rls.iterations} users, alternating which goes first; the time of the select statement alone.`,
      '',
      '| query | p50 ms | p99 ms |',
      '| --- | ---: | ---: |',
      `| authenticated: \`select * from bench_notes\` (RLS) | ${f3(rls.authenticatedMs.p50)} | ${f3(rls.authenticatedMs.p99)} |`,
      `| service role: \`… where user_id = $1\` (bypasses RLS) | ${f3(rls.serviceRoleMs.p50)} | ${f3(rls.serviceRoleMs.p99)} |`,
      '',
      'Plan as authenticated:',
      '',
      '```',
      rls.plan,
      '```',
    );
  lines.push('', 'Raw figures: [latest.json](latest.json). Method: [bench/README.md](../README.md).', '');
  return lines.join('\n');
}
