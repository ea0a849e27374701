/**
 * Node's own delivery route (serveNode's `webhook`) against the Hono route every runtime serves:
 * the same requests, over real HTTP, to two servers on one store — `serveReceiver` (as `npm start`
 * serves) and `serveNode` with the app alone — must get the same status, body and content type,
 * and change the database alike.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, WEBHOOK_PATH } from '../../src/app/app.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { type NodeServer, serveNode, serveReceiver } from '../../src/node/http.ts';
import { createStore, type Store } from '../../src/store/port.ts';
import { sqlRpc, sqlStore } from '../../src/store/sql.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { OTHER_SECRET, SECRET, signed } from '../support/webhooks.ts';

interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** Sends `body` (chunked when `chunked`) and reads the whole answer; status 0 when the connection ended first. */
function send(
  port: number,
  init: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    chunked?: boolean;
  },
): Promise<Answer> {
  return new Promise((resolve) => {
    const body = Buffer.from(init.body ?? '');
    const headers = { ...init.headers, ...(init.chunked ? {} : { 'content-length': String(body.length) }) };
    const req = request(
      { port, host: '127.0.0.1', method: init.method ?? 'POST', path: init.path ?? WEBHOOK_PATH, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', () => resolve({ status: 0, contentType: undefined, body: '' }));
    if (init.chunked)
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
    req.end(init.chunked ? undefined : body);
  });
}

const MIB = 1024 * 1024;
let t: TestDatabase;
let store: Store;
const servers: { native: NodeServer; hono: NodeServer } = {} as never;
const ports = { native: 0, hono: 0 };

beforeAll(async () => {
  t = await openTestDatabase();
  store = sqlStore(t.db);
  const deps = { store, signingSecret: SECRET, logger: silentLogger };
  servers.native = serveReceiver(deps, { port: 0 });
  servers.hono = serveNode({ fetch: createApp(deps).fetch, port: 0, logger: silentLogger });
  ports.native = (await servers.native.listening).port;
  ports.hono = (await servers.hono.listening).port;
});

afterAll(async () => {
  await Promise.all([servers.native.shutdown(), servers.hono.shutdown()]);
  await t.close();
});

/** Each case builds its request for one server (its own ids, so both can apply). */
const CASES: [string, (server: string) => Parameters<typeof send>[1], number][] = [
  [
    'a signed user.created is applied',
    (s) => delivery(sampleEvent('user.created', { id: `user_${s}_1` })),
    200,
  ],
  [
    'a path with a query string',
    (s) => ({ ...delivery(sampleEvent('user.created', { id: `user_${s}_q` })), path: `${WEBHOOK_PATH}?x=1` }),
    200,
  ],
  [
    'unbranded webhook-* headers',
    (s) => delivery(sampleEvent('organization.created', { id: `org_${s}_1` }), { prefix: 'webhook' }),
    200,
  ],
  [
    'a type we do not mirror is ignored',
    () => delivery({ type: 'session.created', object: 'event', data: { id: 'sess_1' } }),
    200,
  ],
  ['a signed body that is not JSON is kept as failed', () => delivery('not json {'), 200],
  [
    'a signed event that fails validation is kept as failed',
    (s) => delivery({ ...sampleEvent('user.created', { id: `user_${s}_2` }), data: { object: 'user' } }),
    200,
  ],
  [
    'another secret gets 401',
    (s) => delivery(sampleEvent('user.created', { id: `user_${s}_3` }), { secret: OTHER_SECRET }),
    401,
  ],
  [
    'no signature headers get 401',
    () => ({ body: '{}', headers: { 'content-type': 'application/json' } }),
    401,
  ],
  ['over 1 MiB with Content-Length gets 413', () => ({ body: 'x'.repeat(MIB + 1) }), 413],
  ['over 1 MiB chunked gets 413', () => ({ body: 'x'.repeat(MIB + 1), chunked: true }), 413],
  [
    'exactly 1 MiB chunked is read and verified (401 unsigned)',
    () => ({ body: 'x'.repeat(MIB), chunked: true }),
    401,
  ],
  ['GET /healthz goes to the app', () => ({ method: 'GET', path: '/healthz' }), 200],
  ['a GET on the webhook path goes to the app', () => ({ method: 'GET' }), 404],
  ['an unknown path goes to the app', () => ({ path: '/nowhere', body: '{}' }), 404],
];

function delivery(payload: unknown, opts: Parameters<typeof signed>[1] = {}) {
  const d = signed(payload, opts);
  return { body: d.body, headers: d.headers };
}

describe("Node's own delivery route answers as the Hono route does", () => {
  it.each(CASES)('%s', async (_label, build, status) => {
    const [native, hono] = [await send(ports.native, build('n')), await send(ports.hono, build('h'))];
    expect(native).toEqual(hono);
    expect(native.status).toBe(status);
  });

  it('a redelivery is a duplicate on either route, and applied once', async () => {
    const d = delivery(sampleEvent('user.created', { id: 'user_twice' }));
    const answers = [await send(ports.native, d), await send(ports.hono, d), await send(ports.native, d)];
    expect(answers.map((a) => JSON.parse(a.body).outcome)).toEqual(['applied', 'duplicate', 'duplicate']);
    const { rows } = await t.db.query<{ n: number }>(
      "select count(*)::int as n from public.users_public where id = 'user_twice'",
    );
    expect(rows[0]?.n).toBe(1);
  });

  it('both routes changed the database alike', async () => {
    const { rows } = await t.db.query<{ id: string }>(
      "select id from public.users_public where id like 'user\\__\\_%' escape '\\' order by id",
    );
    expect(rows.map((r) => r.id)).toEqual(['user_h_1', 'user_h_q', 'user_n_1', 'user_n_q']);
    const failed = await t.db.query<{ n: number }>(
      "select count(*)::int as n from clerk_sync.events where status = 'failed'",
    );
    expect(failed.rows[0]?.n).toBe(4);
  });

  it('a sender that goes away mid-body gets nothing, and the next delivery is applied', async () => {
    const socket = connect(ports.native, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(`POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"type":`);
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    const next = await send(ports.native, delivery(sampleEvent('user.created', { id: 'user_after_abort' })));
    expect(next.status).toBe(200);
  });

  it('a delivery handler that throws gets 500, as the app answers it', async () => {
    const broken = createStore(sqlRpc(t.db));
    const throwing: Store = {
      ...broken,
      applyEvent: () => {
        throw new Error('boom');
      },
    };
    const deps = { store: throwing, signingSecret: SECRET, logger: silentLogger };
    const node = serveReceiver(deps, { port: 0 });
    const app = serveNode({ fetch: createApp(deps).fetch, port: 0, logger: silentLogger });
    try {
      const d = delivery(sampleEvent('user.created', { id: 'user_boom' }));
      const [a, b] = [await send((await node.listening).port, d), await send((await app.listening).port, d)];
      expect(a).toEqual(b);
      expect(a.status).toBe(500);
    } finally {
      await Promise.all([node.shutdown(), app.shutdown()]);
    }
  });
});
