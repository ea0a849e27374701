/**
 * @module Bad-signature rejection cost: `process.cpuUsage()` around many refused deliveries sent
 * through the real `createApp`, built as `npm start` builds it (in this process; its logger at info,
 * with its buffered destination, writing to /dev/null instead of stdout), after a warm-up. The store is never reached; it would fail loudly if it were.
 */
import { Hono } from 'hono';
import { Webhook } from 'standardwebhooks';
import { createApp } from '../../src/app/app.ts';
import { nodeHmac } from '../../src/node/hmac.ts';
import { createLogger, logDestination } from '../../src/node/logger.ts';
import { createStore } from '../../src/store/port.ts';
import { OTHER_SECRET } from '../lib/phase.ts';
import { buildEvent } from '../lib/workload.ts';

export interface RejectionCase {
  case: string;
  requests: number;
  cpuMsPerRequest: number;
  wallMsPerRequest: number;
}

export interface RejectionResult {
  bodyBytes: number;
  cases: RejectionCase[];
  /** The same request through a bare Hono app that answers 401 at once: what `app.request` costs in-process. */
  floorCpuMsPerRequest: number;
}

export async function rejectionSection(o: { secret: string; requests: number }): Promise<RejectionResult> {
  const store = createStore(async () => {
    throw new Error('the store must not be reached by a refused delivery');
  });
  // npm start's logger and destination, writing to /dev/null instead of stdout.
  const logger = createLogger('info', logDestination('/dev/null'));
  // As src/node/server.ts builds it, with the store never reached.
  const app = createApp({ store, signingSecret: o.secret, logger, hmac: nodeHmac });
  // A user event: the largest of the mix, so the most bytes to hash.
  const event = { id: 'msg_rej_0000001', event: buildEvent('user.created', 1, 'rej', Date.now(), 1) };
  const body = JSON.stringify(event.event);
  const now = new Date();
  const ts = String(Math.floor(now.getTime() / 1000));
  const headersFor = (c: string): Record<string, string> => {
    const base = {
      'content-type': 'application/json',
      // As on a real delivery: without it, bodyLimit streams the body chunk by chunk.
      'content-length': String(Buffer.byteLength(body)),
      'svix-id': event.id,
      'svix-timestamp': ts,
    };
    if (c === 'bad signature')
      return { ...base, 'svix-signature': new Webhook(OTHER_SECRET).sign(event.id, now, body) };
    if (c === 'stale timestamp') {
      const old = new Date(now.getTime() - 3_600_000);
      return {
        ...base,
        'svix-timestamp': String(Math.floor(old.getTime() / 1000)),
        'svix-signature': new Webhook(o.secret).sign(event.id, old, body),
      };
    }
    return { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  };

  const cases: RejectionCase[] = [];
  const CASES = ['bad signature', 'stale timestamp', 'missing headers'];
  const sender = (name: string) => {
    const headers = headersFor(name);
    return async () => {
      const res = await app.request('/webhooks/clerk', { method: 'POST', headers, body });
      if (res.status !== 401) throw new Error(`${name}: expected 401, got ${res.status}`);
      await res.arrayBuffer();
    };
  };
  // Every case warms up before any is timed: the refusal paths share most of their code, and the
  // first case timed would otherwise pay the JIT's work for all three.
  for (const name of CASES) {
    const once = sender(name);
    for (let i = 0; i < Math.min(5_000, o.requests); i++) await once();
  }
  for (const name of CASES) {
    const once = sender(name);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < o.requests; i++) await once();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    cases.push({
      case: name,
      requests: o.requests,
      cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / o.requests,
      wallMsPerRequest: wall / o.requests,
    });
  }

  const bare = new Hono();
  bare.post('/webhooks/clerk', (c) => c.json({ error: 'invalid signature' }, 401));
  const badHeaders = headersFor('bad signature');
  const floor = await cpuPerAsync(o.requests, async () => {
    await (
      await bare.request('/webhooks/clerk', { method: 'POST', headers: badHeaders, body })
    ).arrayBuffer();
  });

  return {
    bodyBytes: Buffer.byteLength(body),
    cases,
    floorCpuMsPerRequest: floor,
  };
}

/** CPU ms per awaited call of `fn`, after a warm-up. */
async function cpuPerAsync(n: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 2_000; i++) await fn();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000 / n;
}
