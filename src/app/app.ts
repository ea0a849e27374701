/**
 * @module The HTTP app every runtime serves: `POST /webhooks/clerk`, `GET /healthz` and
 * `POST /users/me/sync` (src/ensure/route.ts).
 */
import { Hono } from 'hono';
import { interpret } from '../core/dispatch.ts';
import type { Logger } from '../core/logger.ts';
import { type EnsureRouteDeps, ensureRoutes } from '../ensure/route.ts';
import { ledgerPayload, payloadIds, toHex } from '../store/failure.ts';
import { type FailureReason, type Outcome, type Result, type Store, StoreError } from '../store/port.ts';
import { checkHealth } from './health.ts';
import { createVerifier, HEADER_NAMES, type HmacSha256 } from './verify.ts';

export interface AppDeps {
  store: Store;
  /** `whsec_…` */
  signingSecret: string;
  logger: Logger;
  /** A native HMAC-SHA256 for signature checks (Node passes node:crypto's); default: pure JavaScript. */
  hmac?: HmacSha256;
  /** The longest a delivery may wait on the database before it is answered 503 (Svix gives up at 15 s). */
  timeoutMs?: number;
  now?: () => number;
  /** `POST /users/me/sync`; without it the route answers 501 and names what to set. */
  ensure?: EnsureRouteDeps | undefined;
  /**
   * Where the two routes answer (Hono paths). Default `/webhooks/clerk` and `/healthz`;
   * `createClerkSyncHandler` serves both at `*` (a POST anywhere is a delivery, a GET the health check).
   */
  routes?: { webhook: string; health: string };
}

export const MAX_BODY_BYTES = 1024 * 1024;

/** Fixed bodies: a refused sender learns nothing about which check failed. */
const UNAUTHORIZED = { error: 'invalid signature' } as const;
const TOO_LARGE = { error: 'payload too large' } as const;
const RETRY = { error: 'temporarily unavailable, retry later' } as const;

type Answer = Outcome | 'ignored';

const UTF8 = new TextDecoder();
const UTF8_ENCODER = new TextEncoder();

async function within<T>(promise: Promise<Result<T>>, ms: number): Promise<Result<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<Result<T>>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          ok: false,
          error: new StoreError('timeout', `no answer from the database within ${ms} ms`),
        }),
      ms,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

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

const STAGES = ['read', 'verify', 'validate', 'database'] as const;

/** Milliseconds between consecutive marks, by stage name (0.01 ms resolution). */
function stageTimes(marks: number[]): Record<(typeof STAGES)[number], number> {
  const times = {} as Record<(typeof STAGES)[number], number>;
  STAGES.forEach((stage, i) => {
    times[stage] = Math.round(((marks[i + 1] ?? 0) - (marks[i] ?? 0)) * 100) / 100;
  });
  return times;
}

/** How a store failure was classified (never its values): what an operator needs to tell causes apart. */
const classified = (error: StoreError) => ({
  code: error.code,
  sqlstate: error.sqlstate,
  retryable: error.retryable,
  message: error.message,
});

/**
 * Builds the app.
 * @example const app = createApp({ store, signingSecret, logger }); await app.request('/healthz');
 */
export function createApp(deps: AppDeps): Hono {
  const verify = createVerifier(deps.signingSecret, deps.hmac);
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const now = deps.now ?? Date.now;
  const routes = deps.routes ?? { webhook: '/webhooks/clerk', health: '/healthz' };
  const app = new Hono();
  // Deliveries by outcome since start, for the debug line.
  const totals: Record<string, number> = {};
  const count = (outcome: string) => {
    totals[outcome] = (totals[outcome] ?? 0) + 1;
    return totals;
  };

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
    const started = now();
    // Stage boundaries for the debug line: received, read, verified, validated, answered.
    const marks = [performance.now()];
    let body: string | null;
    try {
      body = await readLimited(c.req.raw, MAX_BODY_BYTES);
    } catch (error) {
      // The sender went away mid-body (or the server's body timeout cut it off): nothing to answer.
      deps.logger.debug({ err: { name: (error as Error).name } }, 'delivery body not received (aborted)');
      return c.json({ error: 'body not received' }, 400);
    }
    marks.push(performance.now());
    if (body === null) return c.json(TOO_LARGE, 413);
    const headers: Record<string, string> = {};
    for (const name of HEADER_NAMES) {
      const value = c.req.header(name);
      if (value !== undefined) headers[name] = value;
    }
    const eventId = headers['svix-id'] ?? headers['webhook-id'] ?? '';
    // Named in each line rather than bound in a child logger: no logger object per delivery.
    const svix_id = eventId.slice(0, 64);

    const verified = verify(body, headers);
    if (!verified.ok) {
      deps.logger.warn(
        { svix_id, reason: verified.reason, status: 401 },
        'webhook refused: signature check failed',
      );
      return c.json(UNAUTHORIZED, 401);
    }
    marks.push(performance.now());

    const { payload, json } = verified;
    const event = interpret(payload);
    marks.push(performance.now());
    const base = {
      svix_id,
      type: event.type,
      object_id: event.kind === 'ignored' ? undefined : event.objectId,
    };
    let answer: Result<Answer>;
    let failedReason: FailureReason | undefined;
    if (event.kind === 'ignored') answer = { ok: true, value: 'ignored' };
    else if (event.kind === 'apply')
      answer = await within(
        deps.store.applyEvent({
          eventId,
          type: event.type,
          kind: event.objectKind,
          op: event.op,
          data: event.data,
          occurredAt: event.occurredAt,
        }),
        timeoutMs,
      );
    else answer = await recordFailed(event.type, event.error, json ? event.reason : 'not_json');

    // The database refused the event for its content: keep it as failed for replay, not retried forever.
    if (!answer.ok && !answer.error.retryable && event.kind === 'apply')
      answer = await recordFailed(
        event.type,
        `database refused it: ${answer.error.message}`,
        answer.error.reason ?? 'data_exception',
      );

    const ms = now() - started;
    marks.push(performance.now());
    deps.logger.debug(
      {
        svix_id,
        kind: event.kind,
        stages_ms: stageTimes(marks),
        ...(answer.ok ? { outcome: answer.value } : { err: classified(answer.error) }),
        totals: count(answer.ok ? answer.value : 'not_applied'),
      },
      'webhook stages',
    );
    if (!answer.ok) {
      // Not applied and not stored whole: Svix retries, whatever the cause.
      deps.logger.error(
        { ...base, status: 503, ms, err: { code: answer.error.code, message: answer.error.message } },
        'webhook not applied',
      );
      return c.json(RETRY, 503);
    }
    const line = { ...base, outcome: answer.value, status: 200, ms };
    if (answer.value === 'failed')
      deps.logger.warn(
        { ...line, reason: failedReason, error: event.kind === 'invalid' ? event.error : undefined },
        `webhook stored as failed (${failedReason})`,
      );
    else deps.logger.info(line, 'webhook');
    return c.json({ outcome: answer.value });

    /** Stores the event as failed with its payload whole, or fails (and the delivery is retried). */
    async function recordFailed(
      type: string,
      failure: string,
      reason: FailureReason,
    ): Promise<Result<Answer>> {
      failedReason = reason;
      const input = { eventId, type, failure, reason, data: payloadIds(payload) };
      const raw = body as string;
      const kept = json ? ledgerPayload(payload, raw) : { payloadHex: toHex(raw) };
      const stored = await within(deps.store.applyEvent({ ...input, ...kept }), timeoutMs);
      if (stored.ok || stored.error.retryable || 'payloadHex' in kept) return stored;
      // jsonb refused a payload that looked holdable: keep the delivered bytes instead, still whole.
      return within(deps.store.applyEvent({ ...input, payloadHex: toHex(raw) }), timeoutMs);
    }
  });

  app.route('/', ensureRoutes(deps.ensure, deps.logger, now));

  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((error, c) => {
    deps.logger.error({ err: { name: error.name, message: error.message } }, 'unhandled error');
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
