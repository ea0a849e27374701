/**
 * @module Where ours' CPU per delivery goes: each layer of `bench/procs/layers.ts` served over HTTP
 * from the same load generator at c=16, with the database replaced by an in-process stand-in, so
 * the figures are the receiver's own code (the receiver section's CPU per event also holds the
 * node-postgres client's work, and moves with Postgres on the same two cores).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { groupCpuMs, runJson, sleep, startServer, terminate } from '../lib/child.ts';
import type { DriveResult } from '../lib/drive.ts';
import { type HttpPhaseSpec, LAYERS, type Layer, type LayerSpec } from '../lib/phase.ts';

export interface LayerResult {
  layer: Layer;
  /** CPU (user + system) of the layer's process per delivery, per round. */
  cpuMsPerEvent: number[];
  perSecond: number[];
  /** Of the median round (by CPU). */
  median: { cpuMsPerEvent: number; perSecond: number };
}

export interface LayersResult {
  concurrency: number;
  prewarm: number;
  requests: number;
  rounds: number;
  layers: LayerResult[];
}

const CONCURRENCY = 16;

export async function layersSection(o: {
  prewarm: number;
  requests: number;
  rounds: number;
  secret: string;
  logDir: string;
  log: (line: string) => void;
}): Promise<LayersResult> {
  const servers = new Map<Layer, { child: ChildProcess; url: string }>();
  let ts = Date.now();
  const phase = (layer: Layer, tag: string, count: number): HttpPhaseSpec => {
    ts += count + 1;
    return {
      tag,
      seed: 13,
      tsBase: ts,
      concurrency: CONCURRENCY,
      warmup: 0,
      count,
      durationMs: 600_000,
      url: servers.get(layer)?.url as string,
      secret: o.secret,
    };
  };
  const cpu = new Map<Layer, number[]>(LAYERS.map((l) => [l, []]));
  const rate = new Map<Layer, number[]>(LAYERS.map((l) => [l, []]));
  try {
    for (const layer of LAYERS) {
      let port: string | undefined;
      const spec: LayerSpec = { layer, secret: o.secret, logFile: join(o.logDir, 'layers-app.log') };
      const child = await startServer(
        process.execPath,
        ['--import', 'tsx', 'bench/procs/layers.ts', JSON.stringify(spec)],
        {
          ready: async (_child, out) => {
            port = /listening (\d+)/.exec(out())?.[1];
            return port !== undefined;
          },
        },
      );
      servers.set(layer, { child, url: `http://127.0.0.1:${port}/webhooks/clerk` });
    }
    // Untimed, as the receiver section prewarms: a framework's many small functions take thousands
    // of requests to be optimized.
    for (const layer of LAYERS)
      await runJson('bench/procs/loadgen.ts', phase(layer, `lw${layer}`, o.prewarm));
    for (let round = 1; round <= o.rounds; round++)
      for (const layer of LAYERS) {
        const pid = servers.get(layer)?.child.pid as number;
        await sleep(200);
        const cpu0 = groupCpuMs(pid);
        const result = await runJson<DriveResult>(
          'bench/procs/loadgen.ts',
          phase(layer, `l${round}${layer}`, o.requests),
        );
        const used = groupCpuMs(pid) - cpu0;
        if (result.ok !== result.sent)
          throw new Error(
            `layer ${layer}: ${JSON.stringify(result.outcomes)}, expected every delivery applied`,
          );
        cpu.get(layer)?.push(used / result.sent);
        rate.get(layer)?.push(result.perSecond);
        o.log(
          `  ${layer.padEnd(10)}${o.rounds > 1 ? ` #${round}` : ''} CPU ${(used / result.sent).toFixed(3)} ms/delivery  ${result.perSecond.toFixed(0)} deliveries/s`,
        );
      }
  } finally {
    await Promise.all([...servers.values()].map((s) => terminate(s.child)));
  }
  return {
    concurrency: CONCURRENCY,
    prewarm: o.prewarm,
    requests: o.requests,
    rounds: o.rounds,
    layers: LAYERS.map((layer) => {
      const c = cpu.get(layer) ?? [];
      const r = rate.get(layer) ?? [];
      const order = c.map((_, i) => i).sort((a, b) => (c[a] as number) - (c[b] as number));
      const mid = order[Math.floor((order.length - 1) / 2)] as number;
      return {
        layer,
        cpuMsPerEvent: c,
        perSecond: r,
        median: { cpuMsPerEvent: c[mid] as number, perSecond: r[mid] as number },
      };
    }),
  };
}
