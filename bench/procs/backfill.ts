/**
 * @module Runs one `clerk-sync backfill` (the CLI's own `main`) as a child process of the bench and
 * prints what it did: exit code, time and CPU (module loading excluded), every stderr line with its time
 * (progress lines mark the end of each kind; 429 pauses are announced there), and peak RSS.
 */
import type { Io } from '../../src/cli/command.ts';
import { childSpec, report } from '../lib/drive.ts';

const argv = childSpec<string[]>();
const { main } = await import('../../src/cli/main.ts');
const out: string[] = [];
const err: { ms: number; line: string }[] = [];
const startedAt = Date.now();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const io: Io = {
  out: (line) => out.push(line),
  err: (line) => err.push({ ms: performance.now() - t0, line }),
  tty: false,
  color: false,
};
const code = await main(argv, process.env, io);
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const usage = process.resourceUsage();
report({
  code,
  ms,
  startedAt,
  maxRssKb: usage.maxRSS,
  /** CPU of the command itself, module loading excluded. */
  cpuMs: (cpu.user + cpu.system) / 1000,
  out,
  err,
});
process.exit(0);
