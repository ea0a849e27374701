import { describe, expect, it } from 'vitest';
import { createGate } from '../../src/clerk/limiter.ts';
import { virtualClock } from './clock.ts';

/** Acquires `n` slots at once; resolves with the virtual time each one was granted, in order. */
async function grants(gate: ReturnType<typeof createGate>, now: () => number, n: number): Promise<number[]> {
  const times: number[] = [];
  await Promise.all(Array.from({ length: n }, () => gate.acquire().then(() => times.push(now()))));
  return times;
}

describe('createGate', () => {
  it.each([
    [
      '5 per 200 ms, 11 requests',
      { requests: 5, windowMs: 200 },
      11,
      [0, 0, 0, 0, 0, 200, 200, 200, 200, 200, 400],
    ],
    ['1 per 100 ms, 3 requests', { requests: 1, windowMs: 100 }, 3, [0, 100, 200]],
    ['within budget', { requests: 90, windowMs: 10_000 }, 4, [0, 0, 0, 0]],
  ])('%s', async (_label, rate, n, expected) => {
    const clock = virtualClock();
    expect(await grants(createGate(rate, clock), clock.now, n)).toEqual(expected);
  });

  it('holds every waiter until the pause ends, and a shorter pause never shortens it', async () => {
    const clock = virtualClock();
    const gate = createGate({ requests: 100, windowMs: 1000 }, clock);
    gate.pauseUntil(2000);
    gate.pauseUntil(500);
    expect(await grants(gate, clock.now, 3)).toEqual([2000, 2000, 2000]);
  });

  it('rejects an aborted waiter at once, without using a slot', async () => {
    const clock = virtualClock();
    const gate = createGate({ requests: 1, windowMs: 1000 }, clock);
    await gate.acquire();
    const controller = new AbortController();
    const queued = gate.acquire(controller.signal);
    controller.abort(new Error('stop'));
    await expect(queued).rejects.toThrow('stop');
    expect(clock.now()).toBe(0);
    expect(await grants(gate, clock.now, 2)).toEqual([1000, 2000]);
  });
});
