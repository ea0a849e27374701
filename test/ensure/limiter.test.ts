import { describe, expect, it } from 'vitest';
import { createKeyedLimiter } from '../../src/ensure/limiter.ts';

describe('createKeyedLimiter', () => {
  it('grants `requests` per key in any window, says when the next one will be, and keys are apart', () => {
    let t = 0;
    const limit = createKeyedLimiter({ requests: 2, windowMs: 1_000 }, () => t);
    expect(limit.take('a')).toEqual({ ok: true });
    t = 400;
    expect(limit.take('a')).toEqual({ ok: true });
    expect(limit.take('a')).toEqual({ ok: false, retryAfterMs: 600 });
    expect(limit.take('b')).toEqual({ ok: true });
    t = 1_000; // the first grant has left the window: one more, not two
    expect(limit.take('a')).toEqual({ ok: true });
    expect(limit.take('a')).toEqual({ ok: false, retryAfterMs: 400 });
  });

  it('drops keys whose window has passed once it holds maxKeys, and keeps the active ones', () => {
    let t = 0;
    const limit = createKeyedLimiter({ requests: 1, windowMs: 1_000 }, () => t, 2);
    limit.take('old');
    t = 1_500;
    limit.take('active');
    expect(limit.size()).toBe(2);
    limit.take('new'); // at maxKeys: 'old', whose window has passed, is dropped
    expect(limit.size()).toBe(2);
    limit.take('newer'); // every key left is active: held, over maxKeys
    expect(limit.size()).toBe(3);
    t = 1_600;
    expect(limit.take('active')).toEqual({ ok: false, retryAfterMs: 900 });
  });
});
