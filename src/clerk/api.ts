/**
 * @module Client for the Clerk Backend API reads of `clerk-sync backfill` and `doctor`: counts and
 * pipelined paging of users, organizations and memberships, oldest first, behind one shared rate
 * limiter, with 429 pauses and retries. Runtime-neutral: `fetch`, `AbortController` and timers only.
 * Items come back as raw JSON; callers validate them (`userSchema`, … in `src/core/events.ts`).
 */

import type { ListEndpoint } from '../core/kinds.ts';
import { ClerkApiError, errorForStatus, type RetryReason, retriesExhausted } from './errors.ts';
import { abortable, createGate, type Rate, type Sleep, timerSleep } from './limiter.ts';
import {
  type Page,
  type PagingEvent,
  type Query,
  unexpectedAnswer,
  type WalkOptions,
  walkList,
} from './paging.ts';

export type { Fallback, Page, PagingMode, Query } from './paging.ts';
export { PAGE_SIZE } from './paging.ts';

/** 90 % of the development-instance limit (100 requests / 10 s); production allows 1000 / 10 s. */
export const DEFAULT_RATE: Rate = { requests: 90, windowMs: 10_000 };

export type PagesOptions = WalkOptions;

export type ApiEvent =
  /** An answer arrived (any status). `attempt` counts from 1. */
  | { type: 'response'; path: string; status: number; attempt: number; ms: number }
  /** Attempt `attempt` failed and the request will be sent again after `delayMs`. */
  | {
      type: 'retry';
      path: string;
      reason: RetryReason;
      status: number | null;
      attempt: number;
      delayMs: number;
    }
  /** A 429: every request of the client waits `delayMs`. */
  | { type: 'pause'; path: string; delayMs: number }
  | PagingEvent;

export interface ClerkApiOptions {
  /** `sk_test_…` / `sk_live_…`. */
  secretKey: string;
  /** e.g. `https://api.clerk.com/v1`. */
  apiUrl: string;
  fetch?: typeof fetch;
  /** Budget shared by every request of the client, used as given. Default {@link DEFAULT_RATE}. */
  rate?: Rate;
  /** Retries after the first attempt, for 429, 5xx and network errors. Default 5. */
  maxRetries?: number;
  /** Longest pause a 429 can impose, whatever its `Retry-After`. Default 60 s. */
  retryAfterCapMs?: number;
  /** Per attempt, until the body is read; a timeout counts as a network error. Default 30 s. */
  timeoutMs?: number;
  sleep?: Sleep;
  now?: () => number;
  random?: () => number;
  onEvent?: (event: ApiEvent) => void;
}

export interface ClerkApi {
  /** Total number of objects on a list endpoint (a kind's `list` in the registry). */
  count(list: ListEndpoint, signal?: AbortSignal): Promise<number>;
  /**
   * Pages of a list endpoint (a kind's `list` in the registry), oldest first, the next one fetched
   * while the caller works on the current one; by cursor where honoured, by overlapping offsets
   * otherwise (see {@link walkList}).
   */
  pages(list: ListEndpoint, options?: PagesOptions): AsyncGenerator<Page, void, undefined>;
  /** A GET through the limiter and retries; the parsed JSON body. */
  get(path: string, query?: Query, signal?: AbortSignal): Promise<unknown>;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const RATE_LIMIT_JITTER_MS = 500;

type Failure = {
  ok: false;
  reason: RetryReason;
  status: number | null;
  cause: unknown;
  retryAfter: string | null;
};
type Outcome = { ok: true; body: unknown } | Failure;

const failed = (
  reason: RetryReason,
  status: number | null,
  cause: unknown = null,
  retryAfter: string | null = null,
) => ({ ok: false, reason, status, cause, retryAfter }) satisfies Failure;

/** `Retry-After` in ms: delta-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or invalid. */
export function parseRetryAfter(header: string | null, nowMs = Date.now()): number | null {
  const value = header?.trim() ?? '';
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  // Date.parse accepts almost anything ('-1' is a year); an HTTP date has a month or weekday name.
  const at = /[a-z]/i.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/**
 * A Clerk Backend API client. Programmer mistakes (empty key, bad budget) throw here; request
 * failures reject with a {@link ClerkApiError}.
 *
 * @example
 * const clerk = createClerkApi({ secretKey: env.CLERK_SECRET_KEY, apiUrl: 'https://api.clerk.com/v1' });
 * const total = await clerk.count(KINDS.user.list);
 * for await (const page of clerk.pages(KINDS.user.list)) {
 *   await applyUsers(page.items.map((u) => userSchema.parse(u)));
 * }
 */
export function createClerkApi(options: ClerkApiOptions): ClerkApi {
  const {
    secretKey,
    rate = DEFAULT_RATE,
    maxRetries = 5,
    retryAfterCapMs = 60_000,
    timeoutMs = 30_000,
    sleep = timerSleep,
    now = () => Date.now(),
    random = Math.random,
    onEvent = () => {},
  } = options;
  if (!secretKey) throw new TypeError('createClerkApi: secretKey is empty');
  if (!(Number.isInteger(rate.requests) && rate.requests > 0 && rate.windowMs > 0)) {
    throw new TypeError(
      `createClerkApi: rate must be a positive integer per positive window, got ${JSON.stringify(rate)}`,
    );
  }
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  // Resolved per call so that a fetch patched later (msw, instrumentation) is the one used.
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const headers = { Authorization: `Bearer ${secretKey}`, Accept: 'application/json' };
  const gate = createGate(rate, { now, sleep });

  const redacted = (error: ClerkApiError) => {
    // Defence in depth: Clerk should never echo the key, but an error message may end up in logs.
    if (error.message.includes(secretKey)) error.message = error.message.replaceAll(secretKey, '[redacted]');
    return error;
  };

  const backoffMs = (attempt: number) => {
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
    return ceiling / 2 + (random() * ceiling) / 2;
  };

  async function attemptOnce(path: string, attempt: number, signal?: AbortSignal): Promise<Outcome> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const started = now();
    try {
      const res = await doFetch(`${apiUrl}${path}`, { headers, signal: controller.signal });
      const text = await res.text();
      onEvent({ type: 'response', path, status: res.status, attempt, ms: now() - started });
      if (res.status === 429) return failed('rate_limited', 429, null, res.headers.get('retry-after'));
      if (res.status >= 500) return failed('server', res.status);
      if (!res.ok) throw errorForStatus(res.status, path, text, apiUrl);
      try {
        return { ok: true, body: JSON.parse(text) };
      } catch (cause) {
        throw new ClerkApiError(
          'unexpected_response',
          `Clerk's answer to GET ${path} is not JSON: check CLERK_API_URL (${apiUrl}).`,
          { path, status: res.status, cause },
        );
      }
    } catch (cause) {
      if (cause instanceof ClerkApiError) throw cause;
      signal?.throwIfAborted();
      // fetch signals network failures (DNS, refused, reset) with a TypeError; anything else is a bug.
      if (timedOut || cause instanceof TypeError) {
        return failed('network', null, timedOut ? controller.signal.reason : cause);
      }
      throw cause;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async function get(path: string, query: Query = {}, signal?: AbortSignal): Promise<unknown> {
    const search = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
    const target = search ? `${path}?${search}` : path;
    for (let attempt = 1; ; attempt++) {
      await gate.acquire(signal);
      const outcome = await attemptOnce(target, attempt, signal).catch((e: unknown) => {
        throw e instanceof ClerkApiError ? redacted(e) : e;
      });
      if (outcome.ok) return outcome.body;
      let delayMs: number;
      if (outcome.reason === 'rate_limited') {
        const asked = parseRetryAfter(outcome.retryAfter) ?? Math.max(1000, backoffMs(attempt));
        delayMs = Math.min(retryAfterCapMs, asked + random() * RATE_LIMIT_JITTER_MS);
        // Clerk limits the instance, not the request: everyone waits, including requests in flight now.
        gate.pauseUntil(now() + delayMs);
        onEvent({ type: 'pause', path: target, delayMs });
      } else {
        delayMs = backoffMs(attempt);
      }
      if (attempt > maxRetries) {
        throw retriesExhausted(outcome.reason, target, outcome.status, attempt, apiUrl, outcome.cause);
      }
      onEvent({
        type: 'retry',
        path: target,
        reason: outcome.reason,
        status: outcome.status,
        attempt,
        delayMs,
      });
      if (outcome.reason !== 'rate_limited') await abortable(sleep(delayMs, signal), signal);
    }
  }

  async function count({ path, countPath, query }: ListEndpoint, signal?: AbortSignal): Promise<number> {
    const body = await get(countPath ?? path, countPath ? {} : { ...query, limit: 1 }, signal);
    const total = (body as { total_count?: unknown } | null)?.total_count;
    if (typeof total !== 'number') throw unexpectedAnswer(countPath ?? path, 'total_count', apiUrl);
    return total;
  }

  function pages(list: ListEndpoint, options: PagesOptions = {}): AsyncGenerator<Page, void, undefined> {
    const client = {
      get: (path: string, query: Query, signal: AbortSignal) => get(path, query, signal),
      apiUrl,
      onEvent,
    };
    return walkList(client, list, options);
  }

  return { count, pages, get };
}
