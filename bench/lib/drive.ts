/**
 * @module A closed-loop load driver: `concurrency` workers each send the next item as soon as their
 * previous one is answered, until the items run out or the time is up; latencies per request.
 */

export interface Latency {
  p50: number;
  p99: number;
}

export interface DriveResult {
  concurrency: number;
  /** Requests answered (any outcome). */
  sent: number;
  ok: number;
  failed: number;
  elapsedMs: number;
  /** ok / elapsed. */
  perSecond: number;
  latencyMs: Latency;
  /** Answers by label (HTTP status, outcome). */
  outcomes: Record<string, number>;
}

/** Nearest-rank percentiles of `values` (sorted in place). */
export function latency(values: Float64Array): Latency {
  values.sort();
  const at = (q: number) =>
    values.length === 0
      ? 0
      : (values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)] as number);
  return { p50: at(0.5), p99: at(0.99) };
}

/**
 * Sends `items` through `send` with `concurrency` in flight; stops starting new ones after
 * `durationMs`. `send` resolves to an outcome label and whether it counts as ok; it must not reject.
 */
export async function drive<T>(
  items: readonly T[],
  concurrency: number,
  durationMs: number,
  send: (item: T) => Promise<{ ok: boolean; label: string }>,
): Promise<DriveResult> {
  const latencies = new Float64Array(items.length);
  const outcomes: Record<string, number> = {};
  let next = 0;
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  async function worker() {
    while (next < items.length && performance.now() < deadline) {
      const index = next++;
      const t0 = performance.now();
      const answer = await send(items[index] as T);
      latencies[index] = performance.now() - t0;
      outcomes[answer.label] = (outcomes[answer.label] ?? 0) + 1;
      if (answer.ok) ok++;
      else failed++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  return {
    concurrency,
    sent: next,
    ok,
    failed,
    elapsedMs,
    perSecond: ok / (elapsedMs / 1000),
    latencyMs: latency(latencies.subarray(0, next)),
    outcomes,
  };
}

/** Reads the JSON argument a child process was started with. */
export function childSpec<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('expected a JSON spec as the first argument');
  return JSON.parse(raw) as T;
}

/** Prints a child's result as its last stdout line, for the orchestrator to read. */
export function report(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
