/**
 * @module Webhook receiver section: ours (`npm start`, exactly as deployed) and the minimal receiver
 * (`procs/receiver.ts`: the same SQL, one transaction per event) on the same scratch database, at
 * each concurrency, interleaved; each phase followed by the server-side count of transactions and
 * database time per event. Then both refusing deliveries signed with another secret.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { interpret } from '../../src/core/dispatch.ts';
import type { KindName } from '../../src/core/kinds.ts';
import { freePort, groupCpuMs, runJson, sleep, startServer, terminate } from '../lib/child.ts';
import type { DriveResult } from '../lib/drive.ts';
import { counters, perEvent, type Scratch } from '../lib/scratch.ts';
import { MIX, type PhaseSpec, seedEvents } from '../lib/workload.ts';

export const RECEIVERS = ['ours', 'minimal'] as const;
export type Receiver = (typeof RECEIVERS)[number];

/** A well-formed `whsec_` secret that is not the receivers': deliveries signed with it are refused. */
const OTHER_SECRET = 'whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCEh';
const REFUSED_CONCURRENCY = 16;
/** Lets the processes of the last phase settle before the counters are read. */
const QUIET_MS = 300;

export interface ReceiverOptions {
  concurrencies: number[];
  durationMs: number;
  /** Untimed deliveries each receiver gets (at c=16) before the first timed phase. */
  prewarm: number;
  /** Each concurrency runs both receivers this many times, interleaved; the median round is reported. */
  rounds: number;
  warmup: number;
  secret: string;
  /** Where `npm start` writes its log lines. */
  logDir: string;
  log: (line: string) => void;
}

export interface PhaseResult extends DriveResult {
  receiver: Receiver;
  round: number;
  warmup: number;
  meanBodyBytes: number;
  /** Server-side (pg_stat_database), over warm-up + timed requests. */
  db: ReturnType<typeof perEvent>;
  /** CPU (user + system) of the receiver's processes and of the load generator, per event. */
  cpuMsPerEvent: number;
  loadgenCpuMsPerEvent: number;
}

/** Bad-signature deliveries served over HTTP, after as many untimed ones as the prewarm. */
export interface RefusedResult {
  receiver: Receiver;
  concurrency: number;
  requests: number;
  perSecond: number;
  cpuMsPerRequest: number;
  /** None should reach the database. */
  transactionsPerRequest: number;
}

export interface ReceiverResult {
  mix: typeof MIX;
  meanBodyBytes: number;
  durationMs: number;
  rounds: number;
  /** Per concurrency and receiver, the round with the median events/s. */
  phases: PhaseResult[];
  allPhases: PhaseResult[];
  refused: RefusedResult[];
}

/** Seeds the objects that updates and memberships refer to. */
async function seed(scratch: Scratch, ts: number): Promise<void> {
  const events = seedEvents(ts);
  const batches: [KindName, Record<string, unknown>[]][] = [
    ['user', events.users],
    ['organization', events.organizations],
    ['membership', events.memberships],
  ];
  for (const [kind, list] of batches) {
    const rows = list.map((e) => {
      const r = interpret(e);
      if (r.kind !== 'apply') throw new Error(`seed event does not apply: ${r.kind}`);
      return r.data;
    });
    for (let i = 0; i < rows.length; i += 500)
      await scratch.db.query('select public.clerk_sync_upsert($1, $2::jsonb)', [
        kind,
        JSON.stringify(rows.slice(i, i + 500)),
      ]);
  }
}

interface Running {
  url: string;
  /** Process group (for its CPU time). */
  group: number;
  child: ChildProcess;
}

async function startReceivers(scratch: Scratch, o: ReceiverOptions, logFd: number) {
  const started: Partial<Record<Receiver, Running>> = {};
  try {
    const port = await freePort();
    const ours = await startServer('npm', ['start'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: scratch.url,
        CLERK_WEBHOOK_SIGNING_SECRET: o.secret,
        PORT: String(port),
        LOG_LEVEL: 'info',
      },
      stdio: logFd,
      ready: async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status === 200,
    });
    started.ours = { url: `http://127.0.0.1:${port}/webhooks/clerk`, group: ours.pid as number, child: ours };
    let found: string | undefined;
    const spec = JSON.stringify({ databaseUrl: scratch.url, secret: o.secret });
    const minimal = await startServer(
      process.execPath,
      ['--import', 'tsx', 'bench/procs/receiver.ts', spec],
      {
        ready: async (_child, out) => {
          found = /listening (\d+)/.exec(out())?.[1];
          return found !== undefined;
        },
      },
    );
    started.minimal = {
      url: `http://127.0.0.1:${found}/webhooks/clerk`,
      group: minimal.pid as number,
      child: minimal,
    };
    return started as Record<Receiver, Running>;
  } catch (error) {
    await Promise.all(Object.values(started).map((r) => terminate(r.child)));
    throw error;
  }
}

type LoadResult = DriveResult & {
  warmup: number;
  warmupFailed: number;
  meanBodyBytes: number;
  cpuMs: number;
};

/** Runs both receivers at every concurrency, interleaved so that drift hits them alike. */
export async function receiverSection(scratch: Scratch, o: ReceiverOptions): Promise<ReceiverResult> {
  let ts = Date.now();
  await seed(scratch, ts - 86_400_000);
  const logFd = openSync(join(o.logDir, 'npm-start.log'), 'a');
  const receivers = await startReceivers(scratch, o, logFd).catch((e: unknown) => {
    closeSync(logFd);
    throw e;
  });
  const load = (r: Receiver, spec: Omit<PhaseSpec, 'url' | 'seed' | 'tsBase'> & { seed?: number }) => {
    const full: PhaseSpec = { seed: 7, ...spec, tsBase: ts, url: receivers[r].url };
    ts += full.warmup + full.count;
    return runJson<LoadResult>('bench/procs/loadgen.ts', full);
  };
  const phases: PhaseResult[] = [];
  const refused: RefusedResult[] = [];
  try {
    // Steady state first: V8 keeps optimizing a framework's many small functions for thousands of
    // requests (ours used ~35 % less CPU per event in its third c=16 round than in its first).
    for (const r of RECEIVERS) {
      const x = await load(r, {
        tag: `pw${r.slice(0, 2)}`,
        concurrency: 16,
        warmup: o.prewarm,
        count: 1,
        durationMs: 1_000,
        secret: o.secret,
      });
      if (x.warmupFailed > 0) throw new Error(`prewarm of ${r}: ${x.warmupFailed} deliveries failed`);
    }
    await sleep(QUIET_MS);
    let before = await counters(scratch);
    for (const concurrency of o.concurrencies)
      for (let round = 1; round <= o.rounds; round++)
        for (const r of RECEIVERS) {
          const cpu0 = groupCpuMs(receivers[r].group);
          const result = await load(r, {
            tag: `${r.slice(0, 2)}${concurrency}r${round}`,
            concurrency,
            warmup: Math.max(o.warmup, concurrency * 4),
            // More pre-signed deliveries than either receiver can take in the time.
            count: Math.ceil((o.durationMs / 1000) * 4_000),
            durationMs: o.durationMs,
            secret: o.secret,
          });
          const cpu = groupCpuMs(receivers[r].group) - cpu0;
          await sleep(QUIET_MS);
          const after = await counters(scratch);
          const events = result.warmup + result.sent;
          const phase: PhaseResult = {
            ...result,
            receiver: r,
            round,
            cpuMsPerEvent: cpu / events,
            loadgenCpuMsPerEvent: result.cpuMs / events,
            db: perEvent(before, after, events),
          };
          before = after;
          phases.push(phase);
          o.log(
            `  c=${String(concurrency).padStart(2)}${o.rounds > 1 ? ` #${round}` : ''} ${r.padEnd(7)} ${result.perSecond.toFixed(0).padStart(5)} ev/s  p99 ${result.latencyMs.p99.toFixed(1)} ms  transactions/event ${phase.db.transactionsPerEvent.toFixed(3)}  DB ${phase.db.dbMsPerEvent.toFixed(3)} ms/event  CPU ${phase.cpuMsPerEvent.toFixed(3)} ms/event  ${JSON.stringify(result.outcomes)}`,
          );
        }
    for (const r of RECEIVERS) {
      const refusal = { concurrency: REFUSED_CONCURRENCY, warmup: 0, secret: OTHER_SECRET, seed: 11 };
      // The refusal path (an exception inside the check, a warn line) keeps getting cheaper for
      // thousands of requests, as in a receiver under a flood of forged deliveries.
      await load(r, { ...refusal, tag: `rf${r.slice(0, 2)}w`, count: o.prewarm, durationMs: 60_000 });
      await sleep(QUIET_MS);
      const db0 = await counters(scratch);
      const cpu0 = groupCpuMs(receivers[r].group);
      const x = await load(r, {
        ...refusal,
        tag: `rf${r.slice(0, 2)}`,
        count: Math.ceil((o.durationMs / 1000) * 6_000),
        durationMs: o.durationMs,
      });
      const cpu = groupCpuMs(receivers[r].group) - cpu0;
      await sleep(QUIET_MS);
      const db = perEvent(db0, await counters(scratch), x.sent);
      refused.push({
        receiver: r,
        concurrency: REFUSED_CONCURRENCY,
        requests: x.sent,
        // Every answer is a 401 (not ok): requests answered per second.
        perSecond: x.sent / (x.elapsedMs / 1000),
        cpuMsPerRequest: cpu / x.sent,
        transactionsPerRequest: db.transactionsPerEvent,
      });
      o.log(
        `  c=${REFUSED_CONCURRENCY} ${r.padEnd(7)} bad signature: CPU ${(cpu / x.sent).toFixed(4)} ms/request  ${JSON.stringify(x.outcomes)}`,
      );
    }
  } finally {
    await Promise.all(RECEIVERS.map((r) => terminate(receivers[r].child)));
    closeSync(logFd);
  }
  return {
    mix: MIX,
    meanBodyBytes: phases.reduce((s, p) => s + p.meanBodyBytes, 0) / Math.max(1, phases.length),
    durationMs: o.durationMs,
    rounds: o.rounds,
    phases: medians(phases),
    allPhases: phases,
    refused,
  };
}

/** Per concurrency and receiver, the round with the median events/s (all of its figures). */
function medians(phases: PhaseResult[]): PhaseResult[] {
  const groups = new Map<string, PhaseResult[]>();
  for (const p of phases)
    groups.set(`${p.concurrency} ${p.receiver}`, [
      ...(groups.get(`${p.concurrency} ${p.receiver}`) ?? []),
      p,
    ]);
  return [...groups.values()].map((g) => {
    const sorted = [...g].sort((a, b) => a.perSecond - b.perSecond);
    return sorted[Math.floor((sorted.length - 1) / 2)] as PhaseResult;
  });
}
