/**
 * @module The HTTP app every runtime serves: `POST /webhooks/clerk` (src/app/deliver.ts),
 * `GET /healthz` and `POST /users/me/sync` (src/ensure/route.ts).
 */
import { Hono } from 'hono';
import { type EnsureRouteDeps, ensureRoutes } from '../ensure/route.ts';
import { createDelivery, type DeliveryDeps, MAX_BODY_BYTES, within } from './deliver.ts';
import { checkHealth } from './health.ts';

export interface AppDeps extends DeliveryDeps {
  /** `POST /users/me/sync`; without it the route answers 501 and names what to set. */
  ensure?: EnsureRouteDeps | undefined;
  /**
   * Where the two routes answer (Hono paths). Default `/webhooks/clerk` and `/healthz`;
   * `createClerkSyncHandler` serves both at `*` (a POST anywhere is a delivery, a GET the health check).
   */
  routes?: { webhook: string; health: string };
}

/** Where deliveries are posted unless `routes` says otherwise. */
export const WEBHOOK_PATH = '/webhooks/clerk';

const UTF8 = new TextDecoder();
const UTF8_ENCODER = new TextEncoder();

/**
 * The body as text, or null when it is over `max` bytes — refused before it is read when
 * Content-Length says so, and counted while read when it does not (chunked).
 */
async function readLimited(request: Request, max: number): Promise<string | null> {
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    // The HTTP layer delivers at most Content-Length bytes, so a small declared size bounds the read.
    if (!(Number(declared) <= max)) return null;
    // Read as text in one step (on Node, decoded straight from the received bytes, no copy).
    const text = await request.text();
    // A UTF-16 unit is at most 3 bytes of UTF-8: only a long text needs counting.
    return text.length * 3 > max && UTF8_ENCODER.encode(text).byteLength > max ? null : text;
  }
  if (request.body === null) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return UTF8.decode(body);
}

/**
 * Builds the app.
 * @example const app = createApp({ store, signingSecret, logger }); await app.request('/healthz');
 */
export function createApp(deps: AppDeps): Hono {
  const deliver = createDelivery(deps);
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const routes = deps.routes ?? { webhook: WEBHOOK_PATH, health: '/healthz' };
  const app = new Hono();

  app.get(routes.health, async (c) => {
    const { health, error } = await checkHealth(within(deps.store.schemaVersion(), timeoutMs));
    if (error !== undefined)
      deps.logger.warn(
        { err: { code: error.code, message: error.message } },
        'healthz: database check failed',
      );
    return c.json(health, health.status === 'ok' ? 200 : 503);
  });

  app.post(routes.webhook, async (c) => {
    const { status, body } = await deliver({
      read: () => readLimited(c.req.raw, MAX_BODY_BYTES),
      header: (name) => c.req.header(name),
    });
    return c.json(body, status);
  });

  app.route('/', ensureRoutes(deps.ensure, deps.logger, deps.now ?? Date.now));

  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((error, c) => {
    deps.logger.error({ err: { name: error.name, message: error.message } }, 'unhandled error');
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
