/**
 * @module The progress line of long CLI runs: a bar redrawn in place on a terminal, a plain line
 * every few seconds otherwise. The rate is measured over the last seconds only (a resumed run or a
 * burst of prefetched pages does not show as 500000/s), and a wait — Clerk's rate limit — is shown
 * counting down instead of a frozen ETA.
 */
import type { Io } from './command.ts';

export interface Progress {
  /** `done` of `total` (null: unknown) objects of `what`. */
  update(what: string, done: number, total: number | null): void;
  /** Everything waits `ms` for `why`, e.g. "Clerk's rate limit". */
  wait(ms: number, why: string): void;
  /** A line of its own (above the bar on a terminal). */
  note(line: string): void;
  /** Clears the bar; later updates draw it again. */
  clear(): void;
}

export interface ProgressOptions {
  now?: () => number;
  /** The span the rate is measured over. */
  windowMs?: number;
  /** Off a terminal, at most one line per this many ms. */
  lineEveryMs?: number;
  /** Set for `--json`: nothing but notes. */
  quiet?: boolean;
}

/**
 * A duration for people, rounded up to the second below two minutes.
 * @example formatDuration(150_000); // '3 min'
 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 120) return `${s} s`;
  const min = Math.round(s / 60);
  return min < 120 ? `${min} min` : `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
}

/**
 * @example
 * const progress = createProgress(io);
 * progress.update('users', 1000, 1234); // [###################-----] 1000/1234 users  9000/s  ETA 1 s
 */
export function createProgress(io: Io, options: ProgressOptions = {}): Progress {
  const { now = Date.now, windowMs = 10_000, lineEveryMs = 5_000, quiet = false } = options;
  const tty = io.tty === true && io.progress !== undefined;
  let samples: { at: number; done: number }[] = [];
  let current: { what: string; done: number; total: number | null } | null = null;
  let waitingUntil = 0;
  let waitingFor = '';
  let drawn = false;
  let lastLine = Number.NEGATIVE_INFINITY;
  let ticker: ReturnType<typeof setInterval> | undefined;

  /** Objects per second over the window, or null until it spans a second. */
  function rate(): number | null {
    const first = samples[0];
    const last = samples.at(-1);
    if (first === undefined || last === undefined || last.at - first.at < 1_000) return null;
    return ((last.done - first.done) * 1000) / (last.at - first.at);
  }

  function line(): string {
    if (current === null) return '';
    const { what, done, total } = current;
    const of = total === null ? `${done} ${what}` : `${done}/${total} ${what}`;
    const t = now();
    if (t < waitingUntil) return `${of}  waiting ${formatDuration(waitingUntil - t)} for ${waitingFor}`;
    const perSecond = rate();
    if (perSecond === null) return of;
    const eta =
      total !== null && perSecond > 0 ? `  ETA ${formatDuration(((total - done) / perSecond) * 1000)}` : '';
    return `${of}  ${Math.round(perSecond)}/s${eta}`;
  }

  function draw(force: boolean): void {
    if (quiet || current === null) return;
    if (tty) {
      const share = current.total ? Math.min(1, current.done / current.total) : 0;
      const bar = '#'.repeat(Math.round(share * 24)).padEnd(24, '-');
      io.progress?.(`[${bar}] ${line()}`);
      drawn = true;
      return;
    }
    const t = now();
    if (force || t - lastLine >= lineEveryMs) {
      io.err(`progress: ${line()}`);
      lastLine = t;
    }
  }

  function stopTicker(): void {
    clearInterval(ticker);
    ticker = undefined;
  }

  return {
    update(what, done, total) {
      const t = now();
      if (current?.what !== what) samples = [];
      current = { what, done, total };
      samples.push({ at: t, done });
      while (samples.length > 2 && (samples[1] as { at: number }).at <= t - windowMs) samples.shift();
      draw(done === total);
    },
    wait(ms, why) {
      waitingUntil = Math.max(waitingUntil, now() + ms);
      waitingFor = why;
      // The window restarts when the wait ends: the rate is the one Clerk allows once it lets us go on.
      const last = samples.at(-1);
      samples = last === undefined ? [] : [{ at: waitingUntil, done: last.done }];
      if (quiet) return;
      if (!tty) {
        io.err(`progress: waiting ${formatDuration(ms)} for ${why}`);
        return;
      }
      draw(true);
      stopTicker();
      ticker = setInterval(() => {
        if (now() >= waitingUntil) stopTicker();
        draw(true);
      }, 1_000);
      ticker.unref?.();
    },
    note(text) {
      if (drawn) io.progress?.('');
      drawn = false;
      io.err(text);
      if (tty) draw(true);
    },
    clear() {
      stopTicker();
      if (drawn) io.progress?.('');
      drawn = false;
    },
  };
}
