/**
 * @module One delivery, from its body and headers to the answer: size limit, signature, validation,
 * the store, the ledger for what can never apply, the log lines. Free of any HTTP framework, so that
 * the Hono route (every runtime) and Node's own route (src/node/http.ts) answer alike.
 */
import { interpret } from '../core/dispatch.ts';
import type { Logger } from '../core/logger.ts';
import { ledgerPayload, payloadIds, toHex } from '../store/failure.ts';
import { type FailureReason, type Outcome, type Result, type Store, StoreError } from '../store/port.ts';
import { createVerifier, HEADER_NAMES, type HmacSha256 } from './verify.ts';

export interface DeliveryDeps {
  store: Store;
  /** `whsec_…` */
  signingSecret: string;
  logger: Logger;
  /** A native HMAC-SHA256 for signature checks (Node passes node:crypto's); default: pure JavaScript. */
  hmac?: HmacSha256;
  /** The longest a delivery may wait on the database before it is answered 503 (Svix gives up at 15 s). */
  timeoutMs?: number;
  now?: () => number;
}

/** A delivery as the HTTP layer hands it over. */
export interface DeliveryRequest {
  /** The body as text, or null when it is over MAX_BODY_BYTES; rejects when the sender went away mid-body. */
  read(): Promise<string | null>;
  header(name: string): string | undefined;
}

/** What to answer: a status and a JSON body. */
export interface DeliveryAnswer {
  status: 200 | 400 | 401 | 413 | 503;
  body: Readonly<Record<string, string>>;
}

export type Deliver = (request: DeliveryRequest) => Promise<DeliveryAnswer>;

export const MAX_BODY_BYTES = 1024 * 1024;

/** Fixed bodies: a refused sender learns nothing about which check failed. */
const UNAUTHORIZED = { error: 'invalid signature' } as const;
const TOO_LARGE = { error: 'payload too large' } as const;
const RETRY = { error: 'temporarily unavailable, retry later' } as const;
const NOT_RECEIVED = { error: 'body not received' } as const;

type Answer = Outcome | 'ignored';

/** `promise`, or a `timeout` failure when it has not settled within `ms`. */
export async function within<T>(promise: Promise<Result<T>>, ms: number): Promise<Result<T>> {
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
 * Builds the delivery handler: a 2xx only for an event applied, a duplicate, stale, ignored, or kept
 * whole as failed because its content can never apply; 503 for anything else, so the sender retries.
 * @example const deliver = createDelivery({ store, signingSecret, logger });
 * const { status, body } = await deliver({ read: async () => text, header: (n) => headers[n] });
 */
export function createDelivery(deps: DeliveryDeps): Deliver {
  const verify = createVerifier(deps.signingSecret, deps.hmac);
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const now = deps.now ?? Date.now;
  // Deliveries by outcome since start, for the debug line.
  const totals: Record<string, number> = {};
  const count = (outcome: string) => {
    totals[outcome] = (totals[outcome] ?? 0) + 1;
    return totals;
  };

  return async (request) => {
    const started = now();
    // Stage boundaries for the debug line: received, read, verified, validated, answered.
    const marks = [performance.now()];
    let body: string | null;
    try {
      body = await request.read();
    } catch (error) {
      // The sender went away mid-body (or the server's body timeout cut it off): nothing to answer.
      deps.logger.debug({ err: { name: (error as Error).name } }, 'delivery body not received (aborted)');
      return { status: 400, body: NOT_RECEIVED };
    }
    marks.push(performance.now());
    if (body === null) return { status: 413, body: TOO_LARGE };
    const headers: Record<string, string> = {};
    for (const name of HEADER_NAMES) {
      const value = request.header(name);
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
      return { status: 401, body: UNAUTHORIZED };
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
      return { status: 503, body: RETRY };
    }
    const line = { ...base, outcome: answer.value, status: 200, ms };
    if (answer.value === 'failed')
      deps.logger.warn(
        { ...line, reason: failedReason, error: event.kind === 'invalid' ? event.error : undefined },
        `webhook stored as failed (${failedReason})`,
      );
    else deps.logger.info(line, 'webhook');
    return { status: 200, body: { outcome: answer.value } };

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
  };
}
