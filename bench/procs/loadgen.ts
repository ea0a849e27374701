/**
 * @module The HTTP load generator (a child process of the bench): pre-signs every delivery with a
 * fresh timestamp and a unique svix-id, then posts them over keep-alive connections to a loopback
 * receiver with a fixed number in flight, for a bounded count and time. Prints one JSON line.
 *
 * Each request is one pre-built buffer (request line, headers and body) written to a raw socket, and
 * only the status line, the length and a 200's JSON body are read back, as autocannon does: the
 * generator shares the machine's two cores with the receiver and Postgres, and node:http's client
 * cost ~0.22 ms of CPU per request, as much as the minimal receiver itself.
 */
import { connect, type Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { childSpec, type DriveResult, drive, report } from '../lib/drive.ts';
import { phaseEvents } from '../lib/workload.ts';

/** What the orchestrator tells the load generator to send. */
export interface PhaseSpec {
  /** Ids and svix-ids derive from it (the warm-up's from `${tag}w`). */
  tag: string;
  seed: number;
  /** Epoch ms of the first (warm-up) event; the phase uses `warmup + count` consecutive ms. */
  tsBase: number;
  concurrency: number;
  /** Requests sent first and not timed (JIT, plan caches, pool connections). */
  warmup: number;
  /** At most this many timed requests… */
  count: number;
  /** …and none started after this long. */
  durationMs: number;
  url: string;
  secret: string;
}

const spec = childSpec<PhaseSpec>();
const target = new URL(spec.url);
if (target.hostname !== '127.0.0.1' && target.hostname !== 'localhost')
  throw new Error(`loadgen: loopback targets only, not ${target.hostname}`);
const webhook = new Webhook(spec.secret);
const TIMEOUT_MS = 15_000;
const HEAD_END = Buffer.from('\r\n\r\n');

function sign(tag: string, count: number, tsBase: number): { requests: Buffer[]; bytes: number } {
  const requests: Buffer[] = [];
  let bytes = 0;
  const at = new Date();
  for (const { id, event } of phaseEvents(tag, count, tsBase, spec.seed)) {
    const body = Buffer.from(JSON.stringify(event));
    bytes += body.length;
    const head =
      `POST ${target.pathname} HTTP/1.1\r\nhost: ${target.host}\r\ncontent-type: application/json\r\n` +
      `content-length: ${body.length}\r\nsvix-id: ${id}\r\n` +
      `svix-timestamp: ${Math.floor(at.getTime() / 1000)}\r\nsvix-signature: ${webhook.sign(id, at, body)}\r\n\r\n`;
    requests.push(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  }
  return { requests, bytes };
}

type Answer = { ok: boolean; label: string };

/** One keep-alive connection with at most one request in flight (the driver's loop is closed). */
class Connection {
  private socket: Socket | null = null;
  private received: Buffer = Buffer.alloc(0);
  private pending: ((answer: Answer) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  send(request: Buffer): Promise<Answer> {
    return new Promise((resolve) => {
      this.pending = resolve;
      this.timer = setTimeout(() => this.fail('timeout'), TIMEOUT_MS);
      (this.socket ?? this.open()).write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private open(): Socket {
    const socket = connect({ host: target.hostname, port: Number(target.port) });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.fail('network error'));
    socket.on('close', () => this.fail('network error'));
    this.socket = socket;
    this.received = Buffer.alloc(0);
    return socket;
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    const headEnd = this.received.indexOf(HEAD_END);
    if (headEnd < 0) return;
    const head = this.received.toString('latin1', 0, headEnd).toLowerCase();
    const status = Number(head.slice(9, 12));
    const bodyStart = headEnd + 4;
    const length = /\r\ncontent-length: *(\d+)/.exec(head);
    if (!length) throw new Error(`loadgen: a response without content-length:\n${head}`);
    const end = bodyStart + Number(length[1]);
    if (this.received.length < end) return;
    const body = this.received.subarray(bodyStart, end);
    this.received = Buffer.alloc(0);
    let label = String(status);
    if (status === 200) {
      const outcome = (JSON.parse(body.toString()) as { outcome?: string }).outcome;
      if (outcome !== undefined) label = outcome;
    }
    if (head.includes('\r\nconnection: close')) this.drop();
    this.settle({ ok: status === 200, label });
  }

  private fail(label: string): void {
    this.drop();
    this.settle({ ok: false, label });
  }

  private drop(): void {
    this.socket?.removeAllListeners();
    this.socket?.on('error', () => {});
    this.socket?.destroy();
    this.socket = null;
  }

  private settle(answer: Answer): void {
    if (this.timer) clearTimeout(this.timer);
    const resolve = this.pending;
    this.pending = null;
    resolve?.(answer);
  }
}

const idle = Array.from({ length: spec.concurrency }, () => new Connection());
async function post(request: Buffer): Promise<Answer> {
  const connection = idle.pop() as Connection;
  const answer = await connection.send(request);
  idle.push(connection);
  return answer;
}

const warmSet = sign(`${spec.tag}w`, spec.warmup, spec.tsBase);
const timedSet = sign(spec.tag, spec.count, spec.tsBase + spec.warmup);
const cpu0 = process.cpuUsage();
let warmResult: DriveResult | null = null;
if (warmSet.requests.length > 0) warmResult = await drive(warmSet.requests, spec.concurrency, 60_000, post);
const result = await drive(timedSet.requests, spec.concurrency, spec.durationMs, post);
const cpu = process.cpuUsage(cpu0);
for (const connection of idle) connection.close();
report({
  cpuMs: (cpu.user + cpu.system) / 1000,
  ...result,
  warmup: warmResult === null ? 0 : warmResult.sent,
  warmupFailed: warmResult?.failed ?? 0,
  meanBodyBytes: timedSet.bytes / Math.max(1, timedSet.requests.length),
});
