import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProgress, formatDuration } from '../../src/cli/progress.ts';
import { captureIo } from '../support/cli-io.ts';

function setup(tty: boolean) {
  let t = 1_000_000;
  const drawn: string[] = [];
  const captured = captureIo({ tty });
  captured.io.progress = (line) => drawn.push(line);
  const progress = createProgress(captured.io, { now: () => t });
  return {
    progress,
    drawn,
    lines: () => captured.err().split('\n').filter(Boolean),
    advance: (ms: number) => {
      t += ms;
    },
  };
}

afterEach(() => vi.useRealTimers());

describe('progress', () => {
  it('off a terminal: no rate before a second of samples, then the rate of the last 10 s', () => {
    const p = setup(false);
    p.progress.update('users', 500, 10_000); // a resumed run, or a first page that came at once
    p.advance(5_000);
    p.progress.update('users', 1_000, 10_000);
    p.advance(5_000);
    p.progress.update('users', 2_000, 10_000);
    p.advance(20_000);
    p.progress.update('users', 3_000, 10_000); // the first samples have left the window
    expect(p.lines()).toEqual([
      'progress: 500/10000 users',
      'progress: 1000/10000 users  100/s  ETA 90 s',
      'progress: 2000/10000 users  150/s  ETA 54 s',
      'progress: 3000/10000 users  50/s  ETA 2 min',
    ]);
  });

  it('off a terminal: at most one line per 5 s, and the last one', () => {
    const p = setup(false);
    for (let done = 100; done <= 1_000; done += 100) {
      p.progress.update('organizations', done, 1_000);
      p.advance(1_000);
    }
    expect(p.lines().map((l) => l.split('  ')[0])).toEqual([
      'progress: 100/1000 organizations',
      'progress: 600/1000 organizations',
      'progress: 1000/1000 organizations',
    ]);
  });

  it('shows a rate-limit wait counting down on a terminal, instead of a stale ETA', () => {
    vi.useFakeTimers();
    const p = setup(true);
    p.progress.update('users', 500, 1_000);
    p.advance(2_000);
    p.progress.update('users', 1_000, 2_000);
    p.progress.wait(6_000, "Clerk's rate limit");
    expect(p.drawn.at(-1)).toBe(
      "[############------------] 1000/2000 users  waiting 6 s for Clerk's rate limit",
    );
    p.advance(1_000);
    vi.advanceTimersByTime(1_000);
    expect(p.drawn.at(-1)).toMatch(/waiting 5 s for Clerk's rate limit$/);
    p.advance(5_000);
    p.progress.update('users', 1_500, 2_000);
    expect(p.drawn.at(-1)).toBe('[##################------] 1500/2000 users');
  });

  it('off a terminal, says a wait in one line', () => {
    const p = setup(false);
    p.progress.wait(6_000, "Clerk's rate limit");
    expect(p.lines()).toEqual(["progress: waiting 6 s for Clerk's rate limit"]);
  });

  it.each([
    [999, '1 s'],
    [119_000, '119 s'],
    [150_000, '3 min'],
    [3 * 3_600_000 + 5 * 60_000, '3 h 05 min'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
