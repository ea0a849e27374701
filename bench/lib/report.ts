/**
 * @module The issues' targets checked against a run's results, and the Markdown report.
 */
import type { BackfillResult } from '../sections/backfill.ts';
import type { EdgeResult } from '../sections/edge.ts';
import { type PhaseResult, RECEIVERS, type Receiver, type ReceiverResult } from '../sections/receiver.ts';
import type { RlsResult } from '../sections/rls.ts';
import { backfillMarkdown, backfillTargets } from './backfill-report.ts';

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
  if (res.backfill) t.push(...backfillTargets(res.backfill));
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
  if (res.backfill) lines.push(...backfillMarkdown(res.backfill));
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
