/**
 * The Node server's bounds, measured on a receiver in its own process: memory under a flood of
 * unsigned near-1 MiB bodies, a trickled body cut off, and SIGTERM with a stuck database and a slow
 * sender.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../src/core/samples.ts';
import { onServer, openTestDatabase } from '../support/db.ts';
import { post, signed } from '../support/webhooks.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

async function startChild(
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number; rss: number; lines: string[] }> {
  // One process (node with tsx's loader), not the tsx CLI, which forks: a SIGKILL must not orphan the server.
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}test/support/serve-child.ts`], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: string[] = [];
  let buffer = '';
  child.stdout?.on('data', (b) => {
    buffer += b;
    const parts = buffer.split('\n');
    buffer = parts.pop() as string;
    lines.push(...parts);
  });
  const started = Date.now();
  while (!lines.some((l) => l.startsWith('ready '))) {
    if (Date.now() - started > 60_000 || child.exitCode !== null) throw new Error('the child did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const [, port, rss] = (lines.find((l) => l.startsWith('ready ')) as string).split(' ');
  return { child, port: Number(port), rss: Number(rss), lines };
}

/** Posts `size` bytes unsigned; resolves with the status, or 0 when the connection was closed first. */
function postUnsigned(port: number, size: number): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve) => {
    const req = request(
      {
        port,
        method: 'POST',
        path: '/webhooks/clerk',
        headers: { 'content-length': size, 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string }),
        );
      },
    );
    req.on('error', () => resolve({ status: 0 }));
    req.end(Buffer.alloc(size, 0x61));
  });
}

describe('the Node server (serveNode)', () => {
  it('300 concurrent unsigned near-1 MiB bodies: peak RSS grows by less than 200 MB; the overflow gets 503 + Retry-After', async () => {
    const { child, port, rss, lines } = await startChild();
    const results = await Promise.all(Array.from({ length: 300 }, () => postUnsigned(port, 1_000_000)));
    child.stdin?.write('peak\n');
    for (let i = 0; i < 200 && !lines.some((l) => l.startsWith('peak ')); i++)
      await new Promise((r) => setTimeout(r, 50));
    const peak = Number((lines.find((l) => l.startsWith('peak ')) as string).split(' ')[1]);
    const growthMb = (peak - rss) / 1e6;
    const by = (s: number) => results.filter((r) => r.status === s).length;
    console.info(
      `unsigned flood: 300 × 1,000,000 bytes: ${by(401)} × 401, ${by(503)} × 503, ${by(0)} closed early; peak RSS +${growthMb.toFixed(0)} MB`,
    );
    expect(growthMb).toBeLessThan(200);
    expect(by(401)).toBeGreaterThan(0);
    expect(results.filter((r) => r.status === 503).every((r) => r.retryAfter === '5')).toBe(true);
    expect(by(401) + by(503) + by(0)).toBe(300);
  }, 120_000);

  it('a body trickled slower than the request timeout is cut off', async () => {
    const { port } = await startChild({ REQUEST_TIMEOUT_MS: '1000' });
    const socket = connect(port, '127.0.0.1').resume();
    socket.write('POST /webhooks/clerk HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{');
    const trickle = setInterval(() => socket.write(' '), 200);
    const started = Date.now();
    await new Promise((resolve) => socket.on('close', resolve).on('error', resolve));
    clearInterval(trickle);
    expect(Date.now() - started).toBeLessThan(4_000);
  }, 60_000);

  it.runIf(onServer)(
    'SIGTERM with a stuck database and a slow sender: exits within 10 s',
    async () => {
      const t = await openTestDatabase();
      try {
        const { child, port } = await startChild({ DATABASE_URL: t.url as string });
        // Lock the user so the delivery waits on the database, and keep a sender trickling a body.
        await t.db.transaction(async (tx) => {
          await tx.query("select pg_advisory_xact_lock(hashtextextended('user:user_stuck', 0))");
          const d = signed(sampleEvent('user.created', { id: 'user_stuck' }));
          const init = post(d);
          const stuck = fetch(`http://127.0.0.1:${port}/webhooks/clerk`, init).then(
            (r) => r.status,
            () => 0,
          );
          const slow = connect(port, '127.0.0.1');
          slow.on('error', () => {});
          slow.write('POST /webhooks/clerk HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{');
          await new Promise((r) => setTimeout(r, 300));
          const started = Date.now();
          child.kill('SIGTERM');
          await new Promise((resolve) => child.on('exit', resolve));
          const took = Date.now() - started;
          console.info(`SIGTERM with a stuck delivery and a slow sender: exited after ${took} ms`);
          expect(took).toBeLessThan(10_500);
          expect([0, 503]).toContain(await stuck);
          slow.destroy();
        });
      } finally {
        await t.close();
      }
    },
    60_000,
  );
});
