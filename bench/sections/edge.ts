/**
 * @module Per-event CPU of the Worker in workerd (`npm run bench -- --only edge`). Bundles bench/procs/worker-cpu.ts
 * with wrangler (same settings as the real Worker), runs it in Miniflare, and times batches of 1 and of
 * 1 + N signed deliveries from outside: workerd freezes its own clocks between I/O (Spectre
 * mitigation), and with no I/O in the batch its wall time is CPU time. Per event = (T(1+N) − T(1)) / N,
 * the median of several runs after a warm-up. Also prints the real Worker's bundle size.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Miniflare } from 'miniflare';
import { sampleEvent } from '../../src/core/samples.ts';
import { SECRET, signed } from '../../test/support/webhooks.ts';
import { ROOT } from '../lib/child.ts';

const run = promisify(execFile);

async function bundle(entry?: string): Promise<{ dir: string; file: string; code: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'clerk-sync-bench-'));
  await run(
    join(ROOT, 'node_modules/.bin/wrangler'),
    ['deploy', '--dry-run', '--outdir', dir, ...(entry ? [entry] : [])],
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' } },
  );
  // wrangler names the output after the entry: index.js for the Worker, worker-cpu.js for the bench.
  const file = join(
    dir,
    entry === undefined ? 'index.js' : `${entry.replace(/^.*\//, '').replace(/\.ts$/, '')}.js`,
  );
  return { dir, file, code: await readFile(file, 'utf8') };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export interface EdgeResult {
  minifiedKiB: number;
  gzipKiB: number;
  cpuMsPerEvent: number;
  events: number;
  runs: number;
}

/** Measures the Worker's bundle and its CPU per event in workerd: the figures the README quotes. */
export async function edgeSection({ events, runs }: { events: number; runs: number }): Promise<EdgeResult> {
  const worker = await bundle();
  const bench = await bundle('bench/procs/worker-cpu.ts');
  const size = {
    minifiedKiB: Buffer.byteLength(worker.code) / 1024,
    gzipKiB: gzipSync(worker.code, { level: 9 }).length / 1024,
  };
  const toml = await readFile(join(ROOT, 'wrangler.toml'), 'utf8');
  const mf = new Miniflare({
    modulesRoot: bench.dir,
    modules: [{ type: 'ESModule', path: bench.file }],
    compatibilityDate: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] as string,
    bindings: { CLERK_WEBHOOK_SIGNING_SECRET: SECRET },
  });
  try {
    const types = [
      'user.created',
      'user.updated',
      'organization.created',
      'organizationMembership.created',
    ] as const;
    const batch = (n: number) =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) =>
          signed(sampleEvent(types[i % types.length] as (typeof types)[number])),
        ),
      );
    const time = async (body: string) => {
      const started = performance.now();
      const res = await mf.dispatchFetch('http://bench.test/', { method: 'POST', body });
      const text = await res.text();
      if (res.status !== 200) throw new Error(text);
      return performance.now() - started;
    };
    const one = batch(1);
    const many = batch(1 + events);
    await time(many); // warm-up: compile and optimise
    const perEvent: number[] = [];
    for (let i = 0; i < runs; i++) perEvent.push(((await time(many)) - (await time(one))) / events);
    return { ...size, cpuMsPerEvent: median(perEvent), events, runs };
  } finally {
    await mf.dispose();
    await rm(worker.dir, { recursive: true, force: true });
    await rm(bench.dir, { recursive: true, force: true });
  }
}
