/**
 * @module The Node HTTP server every Node entry serves the app with (`npm start`, `serve`): bounded
 * for unsigned traffic — headers and the whole body must arrive within 10 s, and the bytes of bodies
 * being received are capped (past the cap a new delivery gets 503 + Retry-After, before any of its
 * body is read) — and a shutdown that finishes in-flight deliveries within a bounded time.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { MAX_BODY_BYTES } from '../app/app.ts';
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
}

export interface NodeServer {
  server: Server;
  /** Resolves once listening. */
  listening: Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish (at most `drainMs`), then closes every connection. */
  shutdown(): Promise<void>;
}

const BUSY_BODY = JSON.stringify({ error: 'temporarily unavailable, retry later' });
export const RETRY_AFTER_SECONDS = 5;

/**
 * Serves `fetch` on `port` with the bounds above.
 * @example const { listening, shutdown } = serveNode({ fetch: app.fetch, port: 8787, logger });
 */
export function serveNode(options: NodeServerOptions): NodeServer {
  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  const cap = options.maxBufferedBytes ?? 32 * 1024 * 1024;
  const drainMs = options.drainMs ?? 8_000;
  const listener = getRequestListener(options.fetch);
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
