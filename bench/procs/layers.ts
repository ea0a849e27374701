/**
 * @module One layer of ours as a served receiver (a child process of the bench's layers section),
 * with the database replaced by a connection stand-in that answers each call on the next turn of
 * the event loop: what is left is the CPU of the receiver's own code, which the database's share
 * of the machine otherwise hides. Each layer adds one thing to the one before:
 *
 * - `node-http`: bare `node:http`, the signature check ours uses on Node, the body mapped to a row
 *   without validation, its JSON text — the minimal receiver without its database call;
 * - `hono`: the same handler served by Hono on @hono/node-server (the framework);
 * - `zod`: `interpret` (zod validation, then the mapping) instead of the bare mapping;
 * - `app-silent`: `createApp` over `createStore(sqlRpc(…))`, as `npm start` builds it, logging nothing;
 * - `app`: the same with npm start's logger (info, its buffered destination) writing to a file.
 *
 * Prints `listening <port>` when ready.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createApp } from '../../src/app/app.ts';
import { createVerifier, HEADER_NAMES } from '../../src/app/verify.ts';
import { interpret } from '../../src/core/dispatch.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createLogger, logDestination } from '../../src/node/logger.ts';
import { createStore } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { childSpec } from '../lib/drive.ts';
import type { LayerSpec } from '../lib/phase.ts';
import { mapTrusted } from '../lib/workload.ts';

const spec = childSpec<LayerSpec>();
const verify = createVerifier(spec.secret);

/** The database stand-in: answers on the next turn of the event loop, as a reply from a socket would. */
const answer = (jsonText: unknown) =>
  new Promise<string>((resolve) =>
    setImmediate(() => resolve(typeof jsonText === 'string' ? 'applied' : 'failed')),
  );

/** Verify, then the row (bare mapping, or zod then mapping), then one call of the stand-in. */
async function handle(body: string, headers: Record<string, string>): Promise<[number, object]> {
  const v = verify(body, headers);
  if (!v.ok) return [401, { error: 'invalid signature' }];
  let row: object | null;
  if (spec.layer === 'zod') {
    const event = interpret(v.payload);
    row = event.kind === 'apply' ? event.data : null;
  } else row = mapTrusted(v.payload as { type: string; data: unknown })?.row ?? null;
  if (row === null) return [200, { outcome: 'ignored' }];
  return [200, { outcome: await answer(JSON.stringify(row)) }];
}

const ready = (port: number) => process.stdout.write(`listening ${port}\n`);

if (spec.layer === 'node-http') {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const [status, body] = await handle(
        Buffer.concat(chunks).toString(),
        req.headers as Record<string, string>,
      );
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
} else {
  let fetch: Hono['fetch'];
  if (spec.layer === 'hono' || spec.layer === 'zod') {
    const app = new Hono();
    app.post('/webhooks/clerk', async (c) => {
      const headers: Record<string, string> = {};
      for (const name of HEADER_NAMES) {
        const value = c.req.header(name);
        if (value !== undefined) headers[name] = value;
      }
      const [status, body] = await handle(await c.req.text(), headers);
      return c.json(body, status as 200 | 401);
    });
    fetch = app.fetch;
  } else {
    // sqlRpc's statement and parameters, as sent to Postgres; the stand-in answers with the outcome.
    const store = createStore(
      sqlRpc({
        query: async <T>(_sql: string, params?: unknown[]) => ({
          rows: [{ value: await answer(params?.[2]) }] as T[],
        }),
      }),
    );
    const logger = spec.layer === 'app' ? createLogger('info', logDestination(spec.logFile)) : silentLogger;
    fetch = createApp({ store, signingSecret: spec.secret, logger }).fetch;
  }
  serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info) => ready(info.port));
}
process.once('SIGTERM', () => process.exit(0));
