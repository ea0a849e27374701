/**
 * @module The HTTP load generator (a child process of the bench): pre-signs every delivery with a
 * fresh timestamp and a unique svix-id, then posts them over keep-alive connections to a loopback
 * receiver with a fixed number in flight, for a bounded count and time. Prints one JSON line.
 */
import { Agent, request } from 'node:http';
import { Webhook } from 'svix';
import { childSpec, type DriveResult, drive, report } from '../lib/drive.ts';
import { type HttpPhaseSpec, phaseEvents, workloads } from '../lib/phase.ts';
import type { PhaseWorkload } from '../lib/workload.ts';

interface Delivery {
  body: Buffer;
  headers: Record<string, string>;
}

const spec = childSpec<HttpPhaseSpec>();
const target = new URL(spec.url);
if (target.hostname !== '127.0.0.1' && target.hostname !== 'localhost')
  throw new Error(`loadgen: loopback targets only, not ${target.hostname}`);
const webhook = new Webhook(spec.secret);
const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
const TIMEOUT_MS = 15_000;

function sign(w: PhaseWorkload): { deliveries: Delivery[]; bytes: number } {
  const deliveries: Delivery[] = [];
  let bytes = 0;
  const at = new Date();
  for (const { id, event } of phaseEvents(w)) {
    const body = Buffer.from(JSON.stringify(event));
    bytes += body.length;
    deliveries.push({
      body,
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'svix-id': id,
        'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
        'svix-signature': webhook.sign(id, at, body),
      },
    });
  }
  return { deliveries, bytes };
}

function post(d: Delivery): Promise<{ ok: boolean; label: string }> {
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: d.headers,
        timeout: TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let label = String(status);
          if (status === 200) {
            const outcome = (JSON.parse(Buffer.concat(chunks).toString()) as { outcome?: string }).outcome;
            if (outcome !== undefined) label = outcome;
          }
          resolve({ ok: status === 200, label });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ok: false, label: 'network error' }));
    req.end(d.body);
  });
}

const { warm, timed } = workloads(spec);
const warmSet = sign(warm);
const timedSet = sign(timed);
const cpu0 = process.cpuUsage();
let warmResult: DriveResult | null = null;
if (warmSet.deliveries.length > 0)
  warmResult = await drive(warmSet.deliveries, spec.concurrency, 60_000, post);
const result = await drive(timedSet.deliveries, spec.concurrency, spec.durationMs, post);
const cpu = process.cpuUsage(cpu0);
agent.destroy();
report({
  cpuMs: (cpu.user + cpu.system) / 1000,
  ...result,
  warmup: warmResult === null ? 0 : warmResult.sent,
  warmupFailed: warmResult?.failed ?? 0,
  meanBodyBytes: timedSet.bytes / Math.max(1, timedSet.deliveries.length),
});
