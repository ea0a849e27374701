/**
 * @module Webhook receiver section: at each concurrency, the limit (direct SQL), ours (`npm start`),
 * the minimal receiver and the naive baseline, back to back on the same database, each followed by
 * the server-side count of transactions and entry-point calls per event.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { interpret } from '../../src/core/dispatch.ts';
import type { KindName } from '../../src/core/kinds.ts';
import { freePort, groupCpuMs, runJson, sleep, startServer, terminate } from '../lib/child.ts';
import type { DriveResult } from '../lib/drive.ts';
import { type HttpPhaseSpec, OTHER_SECRET, type PhaseSpec, type SqlPhaseSpec } from '../lib/phase.ts';
import { counters, perEvent, type Scratch } from '../lib/scratch.ts';
import { MIX, SEED, seedEvents } from '../lib/workload.ts';

export const VARIANTS = ['limit', 'ours', 'minimal', 'naive'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface ReceiverOptions {
  concurrencies: number[];
  durationMs: number;
  /** Untimed deliveries each HTTP receiver gets before the first timed phase. */
  prewarm: number;
  /** Each concurrency runs every variant this many times, interleaved; the median round is reported. */
  rounds: number;
  warmup: number;
  secret: string;
  /** Where `npm start` writes its log lines. */
  logDir: string;
  log: (line: string) => void;
}

export interface PhaseResult extends DriveResult {
  variant: Variant;
  round: number;
  warmup: number;
  meanBodyBytes?: number;
  /** Server-side, over warm-up + timed requests. */
  db: {
    events: number;
    transactions: number;
    sessionsOpened: number;
    /** (transactions − sessions opened − the bench's own read) / events. */
    roundTripsPerEvent: number;
    /** Calls of public.clerk_sync_apply_event per event (pg_stat_user_functions). */
    entryPointCallsPerEvent: number;
    otherActiveSessions: number;
  };
  /**
   * CPU (user + system) per event over warm-up + timed requests: of the receiver's processes for the
   * receivers, of the calling process for the limit; and of the load generator.
   */
  cpuMsPerEvent: number;
  loadgenCpuMsPerEvent?: number;
}

/** Bad-signature deliveries served over HTTP: the refusal as a served request costs it. */
export interface RefusedResult {
  variant: 'ours' | 'minimal';
  concurrency: number;
  /** Refusals sent first, neither timed nor counted. */
  warmup: number;
  /** Refusals measured. */
  requests: number;
  perSecond: number;
  latencyMs: DriveResult['latencyMs'];
  outcomes: Record<string, number>;
  /** CPU of the receiver's processes per measured refusal. */
  cpuMsPerRequest: number;
  /** Transactions of the scratch database per refused request: none should reach it. */
  transactionsPerRequest: number;
}

export interface ReceiverResult {
  mix: typeof MIX;
  seed: typeof SEED;
  meanBodyBytes: number;
  poolSize: number;
  logLevel: string;
  durationMs: number;
  rounds: number;
  /** Per concurrency and variant, the median round. */
  phases: PhaseResult[];
  allPhases: PhaseResult[];
  /** Ours and, as its floor, the minimal receiver refusing the same deliveries. */
  refused?: RefusedResult[];
}

const REFUSED_CONCURRENCY = 16;

/** Seeds the objects that updates and memberships refer to, with the batch entry points. */
async function seed(scratch: Scratch, ts: number): Promise<void> {
  const events = seedEvents(ts);
  const rows = (list: Record<string, unknown>[]) =>
    list.map((e) => {
      const r = interpret(e);
      if (r.kind !== 'apply') throw new Error(`seed event does not apply: ${r.kind}`);
      return r.data;
    });
  const batches: [KindName, unknown[]][] = [
    ['user', rows(events.users)],
    ['organization', rows(events.organizations)],
    ['membership', rows(events.memberships)],
  ];
  for (const [kind, all] of batches)
    for (let i = 0; i < all.length; i += 500)
      await scratch.db.query('select public.clerk_sync_upsert($1, $2::jsonb)', [
        kind,
        JSON.stringify(all.slice(i, i + 500)),
      ]);
}

async function httpReady(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).status === 200;
  } catch {
    return false;
  }
}

interface Receivers {
  urls: Record<Exclude<Variant, 'limit'>, string>;
  /** Process group of each receiver (for its CPU time). */
  groups: Record<Exclude<Variant, 'limit'>, number>;
  stop(): Promise<void>;
}

async function startReceivers(scratch: Scratch, o: ReceiverOptions): Promise<Receivers> {
  const children: ChildProcess[] = [];
  const logFd = openSync(join(o.logDir, 'npm-start.log'), 'a');
  try {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: scratch.url,
      CLERK_WEBHOOK_SIGNING_SECRET: o.secret,
      PORT: String(port),
      LOG_LEVEL: 'info',
    };
    children.push(
      await startServer('npm', ['start'], {
        env,
        stdio: logFd,
        ready: () => httpReady(`http://127.0.0.1:${port}/healthz`),
      }),
    );
    const urls: Record<string, string> = { ours: `http://127.0.0.1:${port}/webhooks/clerk` };
    const groups: Record<string, number> = { ours: children[0]?.pid as number };
    for (const mode of ['minimal', 'naive'] as const) {
      let found: string | undefined;
      children.push(
        await startServer(
          process.execPath,
          [
            '--import',
            'tsx',
            'bench/procs/receiver.ts',
            JSON.stringify({ mode, databaseUrl: scratch.url, secret: o.secret }),
          ],
          {
            ready: async (_child, out) => {
              found = /listening (\d+)/.exec(out())?.[1];
              return found !== undefined;
            },
          },
        ),
      );
      urls[mode] = `http://127.0.0.1:${found}/webhooks/clerk`;
      groups[mode] = children.at(-1)?.pid as number;
    }
    return {
      urls: urls as Receivers['urls'],
      groups: groups as Receivers['groups'],
      stop: async () => {
        await Promise.all(children.map((c) => terminate(c)));
        closeSync(logFd);
      },
    };
  } catch (error) {
    await Promise.all(children.map((c) => terminate(c)));
    closeSync(logFd);
    throw error;
  }
}

/** Lets the processes of the last phase settle before the counters are read. */
const QUIET_MS = 300;

/** Runs every variant at every concurrency; interleaved so that drift hits them alike. */
export async function receiverSection(scratch: Scratch, o: ReceiverOptions): Promise<ReceiverResult> {
  let ts = Date.now();
  await seed(scratch, ts - 86_400_000);
  const receivers = await startReceivers(scratch, o);
  const phases: PhaseResult[] = [];
  const refused: RefusedResult[] = [];
  let before: Awaited<ReturnType<typeof counters>>;
  try {
    ts = await prewarm(receivers, o, ts);
    await sleep(QUIET_MS);
    before = await counters(scratch);
    for (const concurrency of o.concurrencies) {
      // Enough pre-signed deliveries for the whole phase; the limit's rate sizes the others.
      let count = Math.ceil((o.durationMs / 1000) * 3_000);
      for (let round = 1; round <= o.rounds; round++)
        for (const variant of VARIANTS) {
          const base: PhaseSpec = {
            tag: `${variant.slice(0, 2)}${concurrency}r${round}`,
            seed: 7,
            tsBase: ts,
            concurrency,
            warmup: Math.max(o.warmup, concurrency * 4),
            count,
            durationMs: o.durationMs,
          };
          ts += base.warmup + base.count;
          const cpu0 = variant === 'limit' ? 0 : groupCpuMs(receivers.groups[variant]);
          const result =
            variant === 'limit'
              ? await runJson<DriveResult & { warmup: number; cpuMs: number }>('bench/procs/direct.ts', {
                  ...base,
                  databaseUrl: scratch.url,
                  poolMax: Math.min(concurrency, 10),
                } satisfies SqlPhaseSpec)
              : await runJson<DriveResult & { warmup: number; meanBodyBytes: number; cpuMs: number }>(
                  'bench/procs/loadgen.ts',
                  {
                    ...base,
                    url: receivers.urls[variant],
                    secret: o.secret,
                  } satisfies HttpPhaseSpec,
                );
          const cpu = variant === 'limit' ? result.cpuMs : groupCpuMs(receivers.groups[variant]) - cpu0;
          await sleep(QUIET_MS);
          const after = await counters(scratch);
          const events = result.warmup + result.sent;
          const phase: PhaseResult = {
            ...result,
            variant,
            round,
            cpuMsPerEvent: cpu / events,
            ...(variant === 'limit' ? {} : { loadgenCpuMsPerEvent: result.cpuMs / events }),
            db: {
              ...perEvent(before, after, events),
              otherActiveSessions: Math.max(before.othersActive, after.othersActive),
            },
          };
          before = after;
          phases.push(phase);
          if (variant === 'limit')
            count = Math.max(1_000, Math.ceil(result.perSecond * (o.durationMs / 1000) * 1.6));
          o.log(
            `  c=${String(concurrency).padStart(2)}${o.rounds > 1 ? ` #${round}` : ''} ${variant.padEnd(7)} ${result.perSecond.toFixed(0).padStart(6)} ev/s  p50 ${result.latencyMs.p50.toFixed(2)} ms  p99 ${result.latencyMs.p99.toFixed(2)} ms  round trips/event ${phase.db.roundTripsPerEvent.toFixed(3)}  CPU ${phase.cpuMsPerEvent.toFixed(3)} ms/event  ${JSON.stringify(result.outcomes)}`,
          );
        }
    }
    for (const variant of ['ours', 'minimal'] as const) {
      const x = await refusedPhase(scratch, receivers, variant, o, ts);
      refused.push(x);
      o.log(
        `  c=${REFUSED_CONCURRENCY} ${variant.padEnd(7)} bad signature: ${x.perSecond.toFixed(0)} req/s  CPU ${x.cpuMsPerRequest.toFixed(4)} ms/request  ${JSON.stringify(x.outcomes)}  transactions/request ${x.transactionsPerRequest.toFixed(3)}`,
      );
    }
  } finally {
    await receivers.stop();
  }
  const bodies = phases.filter((p) => p.meanBodyBytes !== undefined);
  return {
    mix: MIX,
    seed: SEED,
    meanBodyBytes: bodies.reduce((s, p) => s + (p.meanBodyBytes ?? 0), 0) / Math.max(1, bodies.length),
    poolSize: 10,
    logLevel: 'info',
    durationMs: o.durationMs,
    rounds: o.rounds,
    phases: medians(phases),
    allPhases: phases,
    ...(refused.length === 0 ? {} : { refused }),
  };
}

/**
 * Sends each HTTP receiver `o.prewarm` deliveries (untimed, at c=16) before the first timed phase,
 * so that every variant is measured in the steady state a long-running receiver is in: V8 keeps
 * optimizing a framework's many small functions for thousands of requests (ours used ~35 % less CPU
 * per event in its third c=16 round than in its first without it). The limit's process is new for
 * each phase but runs little code, which its per-phase warm-up covers.
 */
async function prewarm(receivers: Receivers, o: ReceiverOptions, ts: number): Promise<number> {
  let at = ts;
  for (const variant of ['ours', 'minimal', 'naive'] as const) {
    const spec: HttpPhaseSpec = {
      tag: `pw${variant.slice(0, 2)}`,
      seed: 5,
      tsBase: at,
      concurrency: 16,
      warmup: o.prewarm,
      count: 1,
      durationMs: 1_000,
      url: receivers.urls[variant],
      secret: o.secret,
    };
    at += spec.warmup + spec.count;
    const result = await runJson<DriveResult & { warmupFailed: number }>('bench/procs/loadgen.ts', spec);
    if (result.warmupFailed > 0)
      throw new Error(`prewarm of ${variant}: ${result.warmupFailed} deliveries failed`);
    o.log(`  ${variant} prewarmed with ${o.prewarm} deliveries`);
  }
  return at;
}

/**
 * A receiver refusing deliveries signed with another secret, from the same load generator: first
 * `o.prewarm` refusals, untimed and not counted, so the refusal path (an exception inside the Svix
 * check, a warn line) is as optimized as in a receiver under a flood of forged deliveries (counting
 * from the 1st refusal after 500 untimed ones, ours measured 0.12–0.17 ms per refusal; after 5,000,
 * 0.10); then the measured requests, with the receiver's CPU read around them alone.
 */
async function refusedPhase(
  scratch: Scratch,
  receivers: Receivers,
  variant: 'ours' | 'minimal',
  o: ReceiverOptions,
  ts: number,
): Promise<RefusedResult> {
  const spec = (tag: string, tsBase: number, count: number, durationMs: number): HttpPhaseSpec => ({
    tag,
    seed: 11,
    tsBase,
    concurrency: REFUSED_CONCURRENCY,
    warmup: 0,
    count,
    durationMs,
    url: receivers.urls[variant],
    secret: OTHER_SECRET,
  });
  await runJson<DriveResult>('bench/procs/loadgen.ts', spec(`refused-${variant}w`, ts, o.prewarm, 60_000));
  await sleep(QUIET_MS);
  const before = await counters(scratch);
  const cpu0 = groupCpuMs(receivers.groups[variant]);
  const count = Math.ceil((o.durationMs / 1000) * 6_000);
  const result = await runJson<DriveResult>(
    'bench/procs/loadgen.ts',
    spec(`refused-${variant}`, ts + o.prewarm, count, o.durationMs),
  );
  const cpu = groupCpuMs(receivers.groups[variant]) - cpu0;
  await sleep(QUIET_MS);
  const after = await counters(scratch);
  return {
    variant,
    concurrency: REFUSED_CONCURRENCY,
    warmup: o.prewarm,
    requests: result.sent,
    // Every answer is a 401, so the driver's ok-rate is 0: requests answered per second instead.
    perSecond: result.sent / (result.elapsedMs / 1000),
    latencyMs: result.latencyMs,
    outcomes: result.outcomes,
    cpuMsPerRequest: cpu / result.sent,
    transactionsPerRequest: perEvent(before, after, result.sent).roundTripsPerEvent,
  };
}

/** Per concurrency and variant, the round with the median events/s (all of its figures). */
function medians(phases: PhaseResult[]): PhaseResult[] {
  const groups = new Map<string, PhaseResult[]>();
  for (const p of phases) {
    const key = `${p.concurrency} ${p.variant}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.values()].map((g) => {
    const sorted = [...g].sort((a, b) => a.perSecond - b.perSecond);
    return sorted[Math.floor((sorted.length - 1) / 2)] as PhaseResult;
  });
}
