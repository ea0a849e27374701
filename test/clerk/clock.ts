/**
 * @module A virtual clock for the Clerk client tests. `sleep` timers fire in order of their virtual
 * due time, one per macrotask and only while no request is in flight, so every response has been
 * handled (and its own timers set) before time moves on. No wall-clock assertions, no flakes.
 */

export interface VirtualClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** `fetch` that records the virtual time of every send in `sends`. */
  fetch: typeof fetch;
  sends: number[];
}

export function virtualClock(): VirtualClock {
  let t = 0;
  let inFlight = 0;
  let scheduled = false;
  const timers: { at: number; resolve: () => void }[] = [];
  const sends: number[] = [];

  const schedule = (delay = 0) => {
    if (scheduled || timers.length === 0) return;
    scheduled = true;
    setTimeout(fire, delay);
  };
  const fire = () => {
    scheduled = false;
    if (inFlight > 0) return schedule(1);
    timers.sort((a, b) => a.at - b.at);
    const next = timers.shift();
    if (next) {
      t = Math.max(t, next.at);
      next.resolve();
    }
    schedule();
  };

  return {
    now: () => t,
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        timers.push({ at: t + ms, resolve });
        schedule();
      }),
    fetch: async (input, init) => {
      sends.push(t);
      inFlight++;
      try {
        return await globalThis.fetch(input, init);
      } finally {
        inFlight--;
      }
    },
    sends,
  };
}
