/**
 * @module Per-event CPU of the Worker in workerd (`npm run bench:edge`). Bundles bench/worker-cpu.ts
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
import { sampleEvent } from '../src/core/samples.ts';
import { SECRET, signed } from '../test/support/webhooks.ts';

const ROOT = new URL('../', import.meta.url).pathname;
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

/** Measures; returns the figures the README quotes. */
export async function measure(options: { events?: number; runs?: number } = {}) {
  const events = options.events ?? 300;
  const runs = options.runs ?? 7;
  const worker = await bundle();
  const bench = await bundle('bench/worker-cpu.ts');
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await measure();
  process.stdout.write(
    `Worker bundle: ${r.minifiedKiB.toFixed(1)} KiB minified, ${r.gzipKiB.toFixed(1)} KiB gzipped (level 9)\n` +
      `CPU per event in workerd: ${r.cpuMsPerEvent.toFixed(3)} ms (median of ${r.runs} runs of ${r.events} events)\n`,
  );
}
