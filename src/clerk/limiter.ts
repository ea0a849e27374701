/**
 * @module The gate every request of one Clerk client passes: a sliding-window rate limiter plus the
 * client-wide pause a 429 imposes. Runtime-neutral (timers and `AbortSignal` only).
 */

/** A request budget: at most `requests` sends in any `windowMs`. */
export interface Rate {
  requests: number;
  windowMs: number;
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface Clock {
  now: () => number;
  sleep: Sleep;
}

export interface Gate {
  /** Resolves when a request may be sent. Callers are served in arrival order. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Holds every later send, queued or retried, until `at` (extends a pause, never shortens it). */
  pauseUntil(at: number): void;
}

/** `setTimeout` as a promise that settles early, rejecting, when `signal` aborts. */
export const timerSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * `promise`, or a rejection with `signal.reason` as soon as `signal` aborts, whichever comes first.
 *
 * @example
 * await abortable(sleep(5_000), controller.signal);
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A gate for one client. Sends are recorded when granted; a sliding window (not a token bucket)
 * so that no `windowMs` span, wherever Clerk starts counting, ever holds more than the budget.
 *
 * @example
 * const gate = createGate({ requests: 90, windowMs: 10_000 }, { now: Date.now, sleep: timerSleep });
 * await gate.acquire(signal);
 * const res = await fetch(url, { signal });
 * if (res.status === 429) gate.pauseUntil(Date.now() + 2_000);
 */
export function createGate(rate: Rate, clock: Clock): Gate {
  const sent: number[] = [];
  let pausedUntil = Number.NEGATIVE_INFINITY;
  let tail: Promise<unknown> = Promise.resolve();

  const pause = (ms: number, signal?: AbortSignal) => abortable(clock.sleep(ms, signal), signal);

  async function take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const t = clock.now();
      if (t < pausedUntil) {
        await pause(pausedUntil - t, signal);
        continue;
      }
      while (sent[0] !== undefined && sent[0] <= t - rate.windowMs) sent.shift();
      const oldest = sent[0];
      if (oldest === undefined || sent.length < rate.requests) {
        sent.push(t);
        return;
      }
      await pause(oldest + rate.windowMs - t, signal);
    }
  }

  return {
    acquire(signal) {
      // One waiter at a time: a queue in arrival order, and a pause set meanwhile is seen by all.
      const turn = tail.then(() => take(signal));
      tail = turn.catch(() => undefined);
      return abortable(turn, signal);
    },
    pauseUntil(at) {
      pausedUntil = Math.max(pausedUntil, at);
    },
  };
}
