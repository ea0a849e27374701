/**
 * @module Webhook receiver section: ours (`npm start`, exactly as deployed) and the minimal receiver
 * (`procs/receiver.ts`: the same SQL, one transaction per event) on the same scratch database, at
 * each concurrency, interleaved; each phase followed by the server-side count of transactions and
 * database time per event. Then both refusing deliveries signed with another secret.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, groupCpuMs, runJson, sleep, startServer, terminate } from '../lib/child.ts';
import type { DriveResult } from '../lib/drive.ts';
import { counters, perEvent, type Scratch } from '../lib/scratch.ts';
import { MIX } from '../lib/workload.ts';
import type { PhaseSpec } from '../procs/loadgen.ts';

export const RECEIVERS = ['ours', 'minimal'] as const;
export type Receiver = (typeof RECEIVERS)[number];

/** A well-formed `whsec_` secret that is not the receivers': deliveries signed with it are refused. */
const OTHER_SECRET = 'whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCEh';
/** Lets the processes of the last phase settle before the counters are read. */
const QUIET_MS = 300;

export interface ReceiverOptions {
  concurrencies: number[];
  durationMs: number;
  /** Untimed deliveries (and then refusals) each receiver gets at c=16 before the first timed phase. */
  prewarm: number;
  /** Each concurrency runs both receivers this many times, interleaved; the median round is reported. */
  rounds: number;
  warmup: number;
  secret: string;
  /** Where `npm start` writes its log lines. */
  logDir: string;
  log: (line: string) => void;
}

type LoadResult = DriveResult & {
  warmup: number;
  warmupFailed: number;
  meanBodyBytes: number;
  cpuMs: number;
};

export interface PhaseResult extends LoadResult {
  receiver: Receiver;
  round: number;
  /** Server-side (pg_stat_database), over warm-up + timed requests. */
  db: ReturnType<typeof perEvent>;
  /** CPU (user + system) of the receiver's processes and of the load generator, per event. */
  cpuMsPerEvent: number;
  loadgenCpuMsPerEvent: number;
}

/** Deliveries signed with another secret, at c=16: CPU and transactions per refusal. */
export interface RefusedResult {
  receiver: Receiver;
  requests: number;
  cpuMsPerRequest: number;
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

async function startReceivers(scratch: Scratch, secret: string, logFd: number) {
  const started: ChildProcess[] = [];
  const listening = (port: number) => async () =>
    (await fetch(`http://127.0.0.1:${port}/`).catch(() => null)) !== null;
  try {
    const [oursPort, minimalPort] = [await freePort(), await freePort()];
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: scratch.url };
    started.push(
      await startServer('npm', ['start'], {
        env: { ...env, CLERK_WEBHOOK_SIGNING_SECRET: secret, PORT: String(oursPort), LOG_LEVEL: 'info' },
        stdio: logFd,
        ready: listening(oursPort),
      }),
    );
    const spec = JSON.stringify({ databaseUrl: scratch.url, secret, port: minimalPort });
    started.push(
      await startServer(process.execPath, ['--import', 'tsx', 'bench/procs/receiver.ts', spec], {
        ready: listening(minimalPort),
      }),
    );
    const [ours, minimal] = started as [ChildProcess, ChildProcess];
    const at = (port: number, child: ChildProcess) => ({
      url: `http://127.0.0.1:${port}/webhooks/clerk`,
      group: child.pid as number,
      child,
    });
    return { ours: at(oursPort, ours), minimal: at(minimalPort, minimal) };
  } catch (error) {
    await Promise.all(started.map((c) => terminate(c)));
    throw error;
  }
}

/** Runs both receivers at every concurrency, interleaved so that drift hits them alike. */
export async function receiverSection(scratch: Scratch, o: ReceiverOptions): Promise<ReceiverResult> {
  const logFd = openSync(join(o.logDir, 'npm-start.log'), 'a');
  const receivers = await startReceivers(scratch, o.secret, logFd).catch((e: unknown) => {
    closeSync(logFd);
    throw e;
  });
  let ts = Date.now();
  const load = (r: Receiver, spec: Omit<PhaseSpec, 'url' | 'tsBase'>) => {
    const full: PhaseSpec = { ...spec, tsBase: ts, url: receivers[r].url };
    ts += full.warmup + full.count;
    return runJson<LoadResult>('bench/procs/loadgen.ts', full);
  };
  /** `fn`'s result with the receiver's CPU and the database's counters around it. */
  const measured = async <T>(r: Receiver, fn: () => Promise<T>) => {
    await sleep(QUIET_MS);
    const [db0, cpu0] = [await counters(scratch), groupCpuMs(receivers[r].group)];
    const result = await fn();
    const cpuMs = groupCpuMs(receivers[r].group) - cpu0;
    await sleep(QUIET_MS);
    const db1 = await counters(scratch);
    return { result, cpuMs, db: (events: number) => perEvent(db0, db1, events) };
  };
  const phases: PhaseResult[] = [];
  const refused: RefusedResult[] = [];
  const secret = o.secret;
  try {
    // Steady state first: V8 keeps optimizing a framework's many small functions for thousands of
    // requests (ours used ~35 % less CPU per event in its third c=16 round than in its first), and the
    // refusal path (an exception inside the check, a warn line) for thousands of refusals.
    for (const r of RECEIVERS) {
      const base = { seed: 5, concurrency: 16, warmup: o.prewarm, count: 1, durationMs: 1_000 };
      const x = await load(r, { ...base, tag: `pw${r.slice(0, 2)}`, secret });
      if (x.warmupFailed > 0) throw new Error(`prewarm of ${r}: ${x.warmupFailed} deliveries failed`);
      await load(r, { ...base, tag: `rw${r.slice(0, 2)}`, secret: OTHER_SECRET });
    }
    for (const concurrency of o.concurrencies)
      for (let round = 1; round <= o.rounds; round++)
        for (const r of RECEIVERS) {
          const m = await measured(r, () =>
            load(r, {
              tag: `${r.slice(0, 2)}${concurrency}r${round}`,
              seed: 7,
              concurrency,
              warmup: Math.max(o.warmup, concurrency * 4),
              // More pre-signed deliveries than either receiver can take in the time.
              count: Math.ceil((o.durationMs / 1000) * 4_000),
              durationMs: o.durationMs,
              secret,
            }),
          );
          const events = m.result.warmup + m.result.sent;
          const p: PhaseResult = {
            ...m.result,
            receiver: r,
            round,
            cpuMsPerEvent: m.cpuMs / events,
            loadgenCpuMsPerEvent: m.result.cpuMs / events,
            db: m.db(events),
          };
          phases.push(p);
          o.log(
            `  c=${String(concurrency).padStart(2)}${o.rounds > 1 ? ` #${round}` : ''} ${r.padEnd(7)} ${p.perSecond.toFixed(0).padStart(5)} ev/s  p99 ${p.latencyMs.p99.toFixed(1)} ms  transactions/event ${p.db.transactionsPerEvent.toFixed(3)}  DB ${p.db.dbMsPerEvent.toFixed(3)} ms/event  CPU ${p.cpuMsPerEvent.toFixed(3)} ms/event  ${JSON.stringify(p.outcomes)}`,
          );
        }
    for (const r of RECEIVERS) {
      const count = Math.ceil((o.durationMs / 1000) * 6_000);
      const m = await measured(r, () =>
        load(r, {
          tag: `rf${r.slice(0, 2)}`,
          seed: 11,
          concurrency: 16,
          warmup: 0,
          count,
          durationMs: o.durationMs,
          secret: OTHER_SECRET,
        }),
      );
      const x = { receiver: r, requests: m.result.sent, cpuMsPerRequest: m.cpuMs / m.result.sent };
      refused.push({ ...x, transactionsPerRequest: m.db(m.result.sent).transactionsPerEvent });
      o.log(
        `  c=16 ${r.padEnd(7)} bad signature: CPU ${x.cpuMsPerRequest.toFixed(4)} ms/request  ${JSON.stringify(m.result.outcomes)}`,
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
  for (const p of phases) {
    const key = `${p.concurrency} ${p.receiver}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.values()].map(
    (g) => g.sort((a, b) => a.perSecond - b.perSecond)[(g.length - 1) >> 1] as PhaseResult,
  );
}
