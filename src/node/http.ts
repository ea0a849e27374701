/**
 * @module The Node HTTP server every Node entry serves the app with (`npm start`, `serve`): bounded
 * for unsigned traffic — headers and the whole body must arrive within 10 s, and the bytes of bodies
 * being received are capped (past the cap a new delivery gets 503 + Retry-After, before any of its
 * body is read) — and a shutdown that finishes in-flight deliveries within a bounded time.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { type AppDeps, createApp, WEBHOOK_PATH } from '../app/app.ts';
import { createDelivery, type Deliver, MAX_BODY_BYTES } from '../app/deliver.ts';
import type { Logger } from '../core/logger.ts';

export interface NodeServerOptions {
  fetch: (request: Request) => Response | Promise<Response>;
  port: number;
  hostname?: string;
  logger: Logger;
  /** Headers, then the whole request, must arrive within this (default 10 s; Svix sends at once). */
  requestTimeoutMs?: number;
  /**
   * The most bytes of request bodies held at once (default 32 MiB): each POST reserves its
   * Content-Length (1 MiB when chunked) until it is answered.
   */
  maxBufferedBytes?: number;
  /** How long a shutdown waits for in-flight requests before it cuts their connections (default 8 s). */
  drainMs?: number;
  /**
   * Deliveries to `path` (a POST) go straight to `deliver` over node:http, without the Web
   * Request/Response that `fetch` takes (docs/decisions/0011); everything else goes to `fetch`.
   */
  webhook?: { path: string; deliver: Deliver };
}

export interface NodeServer {
  server: Server;
  /** Resolves once listening. */
  listening: Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish (at most `drainMs`), then closes every connection. */
  shutdown(): Promise<void>;
}

const BUSY_BODY = JSON.stringify({ error: 'temporarily unavailable, retry later' });
const INTERNAL_ERROR = { error: 'internal error' } as const;
export const RETRY_AFTER_SECONDS = 5;
const UTF8 = new TextDecoder();

/**
 * The body as text (decoded as `Request.text()` decodes it), or null once it is over `max` bytes:
 * refused unread when Content-Length says so, counted while read when it does not (chunked).
 * Rejects when the sender goes away mid-body.
 */
function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && !(Number(declared) <= max)) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
      else {
        // Nothing more is kept; the answer closes the connection, which ends the read.
        req.off('data', onData);
        resolve(null);
      }
    };
    req.on('data', onData);
    req.once('end', () =>
      resolve(UTF8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))),
    );
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('request aborted'));
    });
  });
}

/** A JSON answer; a refused body closes the connection rather than be read to its end. */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  };
  if (status === 413) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(text);
}

/** Node's own route for deliveries: what `deliver` answers, or 500 if it throws (as the app's onError). */
async function serveDelivery(req: IncomingMessage, res: ServerResponse, deliver: Deliver, logger: Logger) {
  try {
    const { status, body } = await deliver({
      read: () => readBody(req, MAX_BODY_BYTES),
      // Node joins a repeated header's values into one string (set-cookie aside, never asked for).
      header: (name) => req.headers[name] as string | undefined,
    });
    sendJson(res, status, body);
  } catch (error) {
    logger.error(
      { err: { name: (error as Error).name, message: (error as Error).message } },
      'unhandled error',
    );
    sendJson(res, 500, INTERNAL_ERROR);
  }
}

/** `url`'s path, without its query. */
const pathOf = (url: string | undefined) => {
  const path = url ?? '/';
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
};

/**
 * Serves `fetch` on `port` with the bounds above.
 * @example const { listening, shutdown } = serveNode({ fetch: app.fetch, port: 8787, logger });
 */
export function serveNode(options: NodeServerOptions): NodeServer {
  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  const cap = options.maxBufferedBytes ?? 32 * 1024 * 1024;
  const drainMs = options.drainMs ?? 8_000;
  const listener = getRequestListener(options.fetch);
  const { webhook } = options;
  let buffered = 0;

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
      const declared = Number(req.headers['content-length']);
      // Over 1 MiB is refused (413) after at most 1 MiB is read, so that is what it can cost.
      const reserve =
        req.headers['content-length'] !== undefined && Number.isFinite(declared) && declared >= 0
          ? Math.min(declared, MAX_BODY_BYTES + 1)
          : MAX_BODY_BYTES;
      if (buffered + reserve > cap) {
        options.logger.warn(
          { buffered, reserve, cap, status: 503 },
          'delivery refused: too many request bodies being received at once',
        );
        res.writeHead(503, {
          'content-type': 'application/json',
          'retry-after': String(RETRY_AFTER_SECONDS),
          connection: 'close',
        });
        res.end(BUSY_BODY);
        return;
      }
      buffered += reserve;
      res.once('close', () => {
        buffered -= reserve;
      });
      if (webhook !== undefined && req.method === 'POST' && pathOf(req.url) === webhook.path)
        return void serveDelivery(req, res, webhook.deliver, options.logger);
    }
    void listener(req, res);
  };

  const server = createServer(
    {
      headersTimeout: Math.min(requestTimeout, 10_000),
      requestTimeout,
      // How often Node checks those timeouts (default 30 s, which would stretch a 10 s bound to 40).
      connectionsCheckingInterval: 1_000,
    },
    onRequest,
  );
  // A client that went away mid-request: nothing to answer, nothing to report above debug.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    options.logger.debug({ err: { code: error.code, message: error.message } }, 'client connection error');
    if (socket.writable && error.code !== 'ECONNRESET')
      socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const listening = new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.hostname, () => resolve(server.address() as AddressInfo));
  });

  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
      timer = setTimeout(() => {
        // Stuck requests (a database that does not answer, a sender that trickles): cut them.
        server.closeAllConnections();
        resolve();
      }, drainMs);
    });
    return stopping;
  };
  return { server, listening, shutdown };
}

/**
 * Serves the receiver as the Node entries do: deliveries on Node's own route, the rest on the app.
 * @example const node = serveReceiver({ store, signingSecret, logger }, { port: 8787 });
 */
export function serveReceiver(
  deps: AppDeps,
  options: Omit<NodeServerOptions, 'fetch' | 'webhook' | 'logger'>,
) {
  return serveNode({
    ...options,
    fetch: createApp(deps).fetch,
    webhook: { path: WEBHOOK_PATH, deliver: createDelivery(deps) },
    logger: deps.logger,
  });
}

/**
 * On SIGTERM or SIGINT: shut the server down, run `cleanup` (close the store), and exit — within
 * `exitMs` whatever hangs.
 * @example exitOnSignals(node, () => store.close());
 */
export function exitOnSignals(node: NodeServer, cleanup: () => Promise<void>, exitMs = 10_000): void {
  const stop = () => {
    setTimeout(() => process.exit(0), exitMs).unref();
    void node
      .shutdown()
      .then(() => Promise.race([cleanup(), new Promise((r) => setTimeout(r, 1_000))]))
      .catch(() => {})
      .finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
