/**
 * @module A per-key sliding-window limit that refuses rather than waits (the Clerk client's gate
 * waits): at most `requests` grants per key in any `windowMs`. Memory stays bounded: keys whose
 * window has passed are dropped once the map grows past `maxKeys`.
 */
import type { Rate } from '../clerk/limiter.ts';

export type Grant = { ok: true } | { ok: false; retryAfterMs: number };

export interface KeyedLimiter {
  take(key: string): Grant;
  /** How many keys it holds (bounded by `maxKeys` plus the keys active in the window). */
  size(): number;
}

/**
 * @example
 * const limit = createKeyedLimiter({ requests: 5, windowMs: 60_000 });
 * if (!limit.take(userId).ok) return tooManyRequests();
 */
export function createKeyedLimiter(rate: Rate, now: () => number = Date.now, maxKeys = 10_000): KeyedLimiter {
  const grants = new Map<string, number[]>();
  const sweep = (t: number) => {
    for (const [key, times] of grants) if ((times.at(-1) as number) <= t - rate.windowMs) grants.delete(key);
  };
  return {
    take(key) {
      const t = now();
      const times = grants.get(key) ?? [];
      while (times[0] !== undefined && times[0] <= t - rate.windowMs) times.shift();
      if (times.length >= rate.requests)
        return { ok: false, retryAfterMs: (times[0] as number) + rate.windowMs - t };
      times.push(t);
      if (!grants.has(key)) {
        if (grants.size >= maxKeys) sweep(t);
        grants.set(key, times);
      }
      return { ok: true };
    },
    size: () => grants.size,
  };
}
