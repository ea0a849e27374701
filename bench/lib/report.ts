/**
 * @module The issue's targets checked against a run's results, and the Markdown report.
 */
import type { BackfillResult } from '../sections/backfill.ts';
import type { EdgeResult } from '../sections/edge.ts';
import type { LayersResult } from '../sections/layers.ts';
import type { PhaseResult, ReceiverResult, Variant } from '../sections/receiver.ts';
import type { RejectionResult } from '../sections/rejection.ts';
import type { RlsOrgResult, RlsResult } from '../sections/rls.ts';
import { backfillMarkdown, backfillTargets } from './backfill-report.ts';
import type { Layer } from './phase.ts';

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
  ratios?: Ratio[];
  layers?: LayersResult;
  rejection?: RejectionResult;
  backfill?: BackfillResult;
  rls?: RlsResult;
  rlsOrg?: RlsOrgResult;
  edge?: EdgeResult;
  targets: Target[];
}

export interface Ratio {
  concurrency: number;
  oursShareOfLimit: number;
  oursVsMinimal: number;
  oursVsNaive: number;
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

function phase(r: ReceiverResult, variant: Variant, c: number): PhaseResult | undefined {
  return r.phases.find((p) => p.variant === variant && p.concurrency === c);
}

export function ratios(r: ReceiverResult): Ratio[] {
  const cs = [...new Set(r.phases.map((p) => p.concurrency))];
  return cs.flatMap((c) => {
    const [limit, ours, minimal, naive] = (['limit', 'ours', 'minimal', 'naive'] as const).map((v) =>
      phase(r, v, c),
    );
    if (!limit || !ours || !minimal || !naive) return [];
    return [
      {
        concurrency: c,
        oursShareOfLimit: ours.perSecond / limit.perSecond,
        oursVsMinimal: ours.perSecond / minimal.perSecond,
        oursVsNaive: ours.perSecond / naive.perSecond,
      },
    ];
  });
}

/** The issue's targets, in its order. */
export function targets(res: Omit<Results, 'targets'>): Target[] {
  const t: Target[] = [];
  const r = res.receiver;
  if (r) {
    const c16 = res.ratios?.find((x) => x.concurrency === 16);
    const ours16 = phase(r, 'ours', 16);
    if (c16 && ours16) {
      t.push({
        area: 'Receiver (c=16)',
        target: '≥ 80 % of the limit',
        measured: pct(c16.oursShareOfLimit),
        pass: c16.oursShareOfLimit >= 0.8,
        ...(c16.oursShareOfLimit < 0.8
          ? { note: `${((0.8 - c16.oursShareOfLimit) * 100).toFixed(1)} points short` }
          : {}),
      });
      t.push({
        area: 'Receiver (c=16)',
        target: '≥ 0.9× the minimal receiver',
        measured: `${f2(c16.oursVsMinimal)}×`,
        pass: c16.oursVsMinimal >= 0.9,
        ...(c16.oursVsMinimal < 0.9 ? { note: `${f2(0.9 - c16.oursVsMinimal)}× short` } : {}),
      });
      t.push({
        area: 'Receiver (c=16)',
        target: 'p99 ≤ 30 ms',
        measured: `${f2(ours16.latencyMs.p99)} ms`,
        pass: ours16.latencyMs.p99 <= 30,
        ...(ours16.latencyMs.p99 > 30 ? { note: `${f2(ours16.latencyMs.p99 - 30)} ms over` } : {}),
      });
    }
    // Every round, not just the median ones: the worst case counts.
    const ours = r.allPhases.filter((p) => p.variant === 'ours');
    const worst = Math.max(...ours.map((p) => p.db.roundTripsPerEvent));
    const calls = Math.max(...ours.map((p) => p.db.entryPointCallsPerEvent));
    t.push({
      area: 'Receiver',
      target: 'exactly one database round trip per event',
      measured: `${worst.toFixed(3)} transactions/event (worst phase), ${calls.toFixed(3)} entry-point calls/event`,
      // Autovacuum's transactions land in the same counter: allow it a hair.
      pass: worst <= 1.01 && calls <= 1.001,
    });
  }
  const rej = res.rejection?.cases.find((c) => c.case === 'bad signature');
  const served = res.receiver?.refused?.find((x) => x.variant === 'ours');
  const servedFloor = res.receiver?.refused?.find((x) => x.variant === 'minimal');
  if (served)
    t.push({
      area: `Receiver (c=${served.concurrency})`,
      target: 'bad-signature rejection < 0.1 ms CPU, served by npm start',
      measured: `${served.cpuMsPerRequest.toFixed(4)} ms per request (npm start's processes, over HTTP; ${served.transactionsPerRequest.toFixed(3)} transactions/request); the minimal receiver refusing the same: ${servedFloor?.cpuMsPerRequest.toFixed(4) ?? 'n/a'} ms`,
      pass: served.cpuMsPerRequest < 0.1 && served.transactionsPerRequest < 0.01,
      ...(served.cpuMsPerRequest >= 0.1
        ? { note: `${(served.cpuMsPerRequest - 0.1).toFixed(4)} ms over` }
        : {}),
    });
  if (rej)
    t.push({
      area: 'Receiver',
      target: 'bad-signature rejection < 0.1 ms CPU, in-process through app.request',
      measured: `${rej.cpuMsPerRequest.toFixed(4)} ms, of which ${res.rejection?.floorCpuMsPerRequest.toFixed(4)} ms is app.request's own Request/Response (a bare Hono app)`,
      pass: rej.cpuMsPerRequest < 0.1,
      ...(rej.cpuMsPerRequest >= 0.1 ? { note: `${(rej.cpuMsPerRequest - 0.1).toFixed(4)} ms over` } : {}),
    });
  if (res.backfill) t.push(...backfillTargets(res.backfill));
  const rls = res.rls;
  if (rls) {
    t.push({
      area: 'RLS',
      target: "a user's select as authenticated uses the index",
      measured: rls.usesIndex ? 'index scan on the owner column (plan below)' : 'no index scan (plan below)',
      pass: rls.usesIndex,
    });
    const full = rls.rows >= 1_000_000;
    t.push({
      area: 'RLS',
      target: `within 2× of the service role (${rls.rows.toLocaleString('en')} rows)`,
      measured: `×${f2(rls.ratio)} (p50 ${rls.authenticatedMs.p50.toFixed(3)} vs ${rls.serviceRoleMs.p50.toFixed(3)} ms); server-side ×${f2(rls.execRatio)}`,
      pass: rls.ratio <= 2,
      ...(full ? {} : { note: 'quick run: fewer rows than 1,000,000' }),
    });
  }
  const org = res.rlsOrg;
  if (org) {
    t.push({
      area: 'RLS',
      target: `a policy using has_org_permission within 2× of the service role (${org.rows.toLocaleString('en')} rows)`,
      measured: `×${f2(org.ratio)} (p50 ${org.authenticatedMs.p50.toFixed(3)} vs ${org.serviceRoleMs.p50.toFixed(3)} ms); server-side ×${f2(org.execRatio)}`,
      pass: org.ratio <= 2,
      ...(org.rows >= 1_000_000 ? {} : { note: 'quick run: fewer rows than 1,000,000' }),
    });
  }
  const edge = res.edge;
  if (edge) {
    t.push({
      area: 'Worker',
      target: 'bundle ≤ 150 KiB gzipped',
      measured: `${edge.gzipKiB.toFixed(1)} KiB gzipped (${edge.minifiedKiB.toFixed(1)} KiB minified)`,
      pass: edge.gzipKiB <= 150,
    });
    t.push({
      area: 'Worker',
      target: 'CPU per event ≤ 10 ms (free plan)',
      measured: `${edge.cpuMsPerEvent.toFixed(3)} ms (median of ${edge.runs} runs of ${edge.events} events)`,
      pass: edge.cpuMsPerEvent <= 10,
    });
  }
  return t;
}

const verdict = (p: boolean | null) => (p === null ? 'n/a' : p ? 'PASS' : 'MISS');

export function markdown(res: Results): string {
  const lines: string[] = [];
  const { run } = res;
  lines.push(
    '# Benchmark results',
    '',
    `\`npm run bench${run.mode === 'quick' ? ' -- --quick' : ''}\` — ${run.mode === 'quick' ? '**quick run (sizes scaled down, shorter load)**' : 'full run'}, ${run.startedAt}, ${run.durationS.toFixed(0)} s.`,
    `Commit ${run.commit}; Node ${run.node}; ${run.postgres}; ${run.cpus}; ${run.memoryGb.toFixed(0)} GB RAM.`,
    `Load generator, receivers, the Clerk stand-in and Postgres all share this machine; its 1-minute load average was ${run.loadAverage[0].toFixed(2)} at the start and ${run.loadAverage[1].toFixed(2)} at the end (other work on the machine shows there, and in the figures).`,
    '',
    '## Targets (issue 7)',
    '',
    '| Area | Target | Measured | Verdict |',
    '| --- | --- | --- | --- |',
    ...res.targets.map(
      (t) =>
        `| ${t.area} | ${t.target} | ${t.measured}${t.note ? ` — ${t.note}` : ''} | **${verdict(t.pass)}** |`,
    ),
  );
  const r = res.receiver;
  if (r) {
    lines.push(
      '',
      '## Webhook receiver',
      '',
      `Closed loop, ${r.durationMs / 1000} s per phase after a warm-up${r.rounds > 1 ? `; every variant ${r.rounds} times per concurrency, interleaved, the round with the median events/s shown (all rounds in latest.json)` : ''}, pre-signed deliveries of ${f0(r.meanBodyBytes)} bytes on average (${r.mix.map(([t, w]) => `${w} % ${t}`).join(', ')}); every variant uses a pool of ${r.poolSize} connections. CPU ms/event is the receiver's processes' (user + system, from /proc; the calling process's for the limit); generator ms/event is the load generator's (raw keep-alive sockets, pre-built requests), which shares the cores with every HTTP variant and not with the limit. Round trips are counted server-side: transactions of the scratch database (pg_stat_database, minus connection start-ups and the bench's own reads) per event, and calls of \`clerk_sync_apply_event\` (pg_stat_user_functions).`,
      '',
      '| c | variant | events/s | p50 ms | p99 ms | share of limit | transactions/event | CPU ms/event | generator ms/event | outcomes |',
      '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    );
    for (const p of r.phases) {
      const limit = phase(r, 'limit', p.concurrency);
      lines.push(
        `| ${p.concurrency} | ${p.variant} | ${f0(p.perSecond)} | ${f2(p.latencyMs.p50)} | ${f2(p.latencyMs.p99)} | ${limit ? pct(p.perSecond / limit.perSecond) : ''} | ${p.db.roundTripsPerEvent.toFixed(3)} | ${p.cpuMsPerEvent.toFixed(2)} | ${p.loadgenCpuMsPerEvent === undefined ? '—' : p.loadgenCpuMsPerEvent.toFixed(2)} | ${Object.entries(
          p.outcomes,
        )
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')} |`,
      );
    }
    lines.push('', '| c | ours / limit | ours / minimal | ours / naive |', '| ---: | ---: | ---: | ---: |');
    for (const x of res.ratios ?? [])
      lines.push(
        `| ${x.concurrency} | ${pct(x.oursShareOfLimit)} | ${f2(x.oursVsMinimal)}× | ${f2(x.oursVsNaive)}× |`,
      );
  }
  const l = res.layers;
  if (l) {
    const what: Record<Layer, string> = {
      'node-http': 'bare `node:http`, the signature check, the body mapped without validation, its JSON text',
      hono: '+ Hono on @hono/node-server (the framework)',
      zod: '+ zod validation (`interpret`) before the mapping',
      'app-silent':
        '+ the rest of `createApp` (header handling, timeouts, outcomes) and `sqlRpc`: ours as `npm start` builds it, logging nothing',
      app: "+ npm start's logger at info (one line per delivery)",
    };
    lines.push(
      '',
      '## Where the receiver CPU goes',
      '',
      `Each layer is its own process, served over HTTP from the same load generator at c=${l.concurrency}, with the database replaced by a stand-in that answers each call on the next turn of the event loop (\`bench/procs/layers.ts\`): the CPU is the receiver's own code. Each layer got ${l.prewarm.toLocaleString('en')} untimed deliveries, then ${l.requests.toLocaleString('en')} per round${l.rounds > 1 ? `, ${l.rounds} rounds interleaved; the median round by CPU is shown (all in latest.json)` : ''}. The receiver section's CPU per event also holds node-postgres's work, the same in every receiver.`,
      '',
      '| layer | what it adds | CPU ms/delivery | added | deliveries/s |',
      '| --- | --- | ---: | ---: | ---: |',
      ...l.layers.map((x, i) => {
        const before = l.layers[i - 1];
        return `| ${x.layer} | ${what[x.layer]} | ${x.median.cpuMsPerEvent.toFixed(3)} | ${before ? `${x.median.cpuMsPerEvent >= before.median.cpuMsPerEvent ? '+' : ''}${(x.median.cpuMsPerEvent - before.median.cpuMsPerEvent).toFixed(3)}` : ''} | ${f0(x.median.perSecond)} |`;
      }),
    );
  }
  if (res.rejection || r?.refused) lines.push('', '## Refused deliveries');
  if (r?.refused) {
    lines.push(
      '',
      `Served: each receiver answering deliveries signed with another secret, from the same load generator at c=${r.refused[0]?.concurrency}, after ${r.refused[0]?.warmup ?? 0} untimed refusals that are not counted (a receiver under a flood of forged deliveries is past its JIT warm-up). CPU is the receiver's processes' (from /proc: HTTP parsing, the body read, the signature check, the log line, the 401); the minimal receiver (bare \`node:http\`, the same check, no framework, no logging) is the floor.`,
      '',
      '| receiver | requests | per second | p50 ms | p99 ms | answers | CPU ms/request | transactions/request |',
      '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
      ...r.refused.map(
        (x) =>
          `| ${x.variant === 'ours' ? 'ours (npm start)' : 'minimal'} | ${x.requests} | ${f0(x.perSecond)} | ${f2(x.latencyMs.p50)} | ${f2(x.latencyMs.p99)} | ${Object.entries(
            x.outcomes,
          )
            .map(([k, v]) => `${k} × ${v}`)
            .join(', ')} | ${x.cpuMsPerRequest.toFixed(4)} | ${x.transactionsPerRequest.toFixed(3)} |`,
      ),
    );
  }
  if (res.rejection) {
    lines.push(
      '',
      'In-process:',
      '',
      `CPU per request through \`createApp\` (process.cpuUsage over ${res.rejection.cases[0]?.requests ?? 0} requests after a warm-up; ${res.rejection.bodyBytes}-byte body; npm start's logger, its buffered destination writing to /dev/null). The same request through a bare Hono app that answers 401 at once — the cost of building the Request and reading the Response in-process, which a served request does not pay — ${res.rejection.floorCpuMsPerRequest.toFixed(4)} ms.`,
      '',
      '| case | CPU ms/request | wall ms/request |',
      '| --- | ---: | ---: |',
      ...res.rejection.cases.map(
        (c) => `| ${c.case} | ${c.cpuMsPerRequest.toFixed(4)} | ${c.wallMsPerRequest.toFixed(4)} |`,
      ),
    );
  }
  if (res.backfill) lines.push(...backfillMarkdown(res.backfill));
  const rls = res.rls;
  if (rls) {
    lines.push(
      '',
      '## RLS cost',
      '',
      `\`${rls.migration}\` applied to a table of ${rls.rows.toLocaleString('en')} rows (${rls.rowsPerUser} per user, ${rls.users.toLocaleString('en')} users). Each query in its own transaction after \`set local role\` and \`request.jwt.claims\`, as PostgREST does; ${rls.iterations} users, alternating order; time of the select statement alone.`,
      '',
      '| query | p50 ms | p90 ms | p99 ms | server-side execution (median, EXPLAIN ANALYZE) |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| authenticated: \`select * from bench_notes\` (RLS) | ${rls.authenticatedMs.p50.toFixed(3)} | ${rls.authenticatedMs.p90.toFixed(3)} | ${rls.authenticatedMs.p99.toFixed(3)} | ${rls.authenticatedExecMs.toFixed(3)} ms |`,
      `| service role: \`… where user_id = $1\` (bypasses RLS) | ${rls.serviceRoleMs.p50.toFixed(3)} | ${rls.serviceRoleMs.p90.toFixed(3)} | ${rls.serviceRoleMs.p99.toFixed(3)} | ${rls.serviceRoleExecMs.toFixed(3)} ms |`,
      '',
      'Plan as authenticated:',
      '',
      '```',
      rls.plan.authenticated,
      '```',
      '',
      'Plan as the service role:',
      '',
      '```',
      rls.plan.serviceRole,
      '```',
    );
  }
  const org = res.rlsOrg;
  if (org) {
    lines.push(
      '',
      '## RLS cost by organization permission',
      '',
      `\`${org.migration}\` applied to a table of ${org.rows.toLocaleString('en')} rows (${org.rowsPerOrg} per organization, ${org.organizations.toLocaleString('en')} organizations), its read policy replaced by one requiring \`org:projects:read\`; each user is a member of two organizations, one through a role granting it and one not. ${org.iterations} users, alternating order, as above.`,
      '',
      '```sql',
      org.policy,
      '```',
      '',
      '| query | p50 ms | p90 ms | p99 ms | server-side execution (median, EXPLAIN ANALYZE) |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| authenticated: \`select * from bench_projects\` (RLS) | ${org.authenticatedMs.p50.toFixed(3)} | ${org.authenticatedMs.p90.toFixed(3)} | ${org.authenticatedMs.p99.toFixed(3)} | ${org.authenticatedExecMs.toFixed(3)} ms |`,
      `| service role: \`… where organization_id = $1\` | ${org.serviceRoleMs.p50.toFixed(3)} | ${org.serviceRoleMs.p90.toFixed(3)} | ${org.serviceRoleMs.p99.toFixed(3)} | ${org.serviceRoleExecMs.toFixed(3)} ms |`,
      '',
      'Plan as authenticated:',
      '',
      '```',
      org.plan.authenticated,
      '```',
    );
  }
  lines.push(
    '',
    'Raw figures: [latest.json](latest.json). How each figure is measured: [bench/README.md](../README.md).',
    '',
  );
  return lines.join('\n');
}
