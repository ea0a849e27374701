/**
 * @module Child processes of the bench: one-shot jobs that print a JSON line, and servers that run
 * until stopped. Every child is started here, in its own process group, and stopped by its id.
 */
import { type ChildProcess, fork, type StdioOptions, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = ['--import', 'tsx'];
const live = new Set<ChildProcess>();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Stops every child still running (used on exit and Ctrl-C). */
export function killAll(): void {
  for (const child of live) stop(child, 'SIGKILL');
}

function stop(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Each child leads its own process group (detached): this reaches `npm start`'s node too.
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** Stops `child` (SIGTERM, then SIGKILL after `graceMs`) and waits for it. */
export async function terminate(child: ChildProcess, graceMs = 5_000): Promise<void> {
  stop(child, 'SIGTERM');
  const timer = setTimeout(() => stop(child, 'SIGKILL'), graceMs);
  if (child.exitCode === null && child.signalCode === null)
    await new Promise((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  live.delete(child);
}

/** Spawns `command` in its own process group; `output()` is what it printed to stdout so far. */
function start(command: string, args: string[], env: NodeJS.ProcessEnv, stdio: StdioOptions) {
  const child = spawn(command, args, { cwd: ROOT, env, stdio, detached: true });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-2_000);
  });
  return { child, output: () => out, errors: () => err };
}

/** Runs `node --import tsx <script> <json spec>` and returns the JSON of its last stdout line. */
export async function runJson<T>(
  script: string,
  spec: unknown,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<T> {
  const { child, output, errors } = start(
    process.execPath,
    [...TSX, script, JSON.stringify(spec)],
    options.env ?? process.env,
    ['ignore', 'pipe', 'pipe'],
  );
  const timer = setTimeout(() => stop(child, 'SIGKILL'), options.timeoutMs ?? 300_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  live.delete(child);
  const last = output().trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !last.startsWith('{'))
    throw new Error(`${script} exited ${code ?? 'by signal'}:\n${errors()}\n${output().slice(-500)}`);
  return JSON.parse(last) as T;
}

/** Starts a server child; resolves once `ready(stdout so far)` says so, or rejects after a minute. */
export async function startServer(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdio?: 'pipe' | number; ready: (stdout: string) => Promise<boolean> },
): Promise<ChildProcess> {
  const stdio = options.stdio ?? 'pipe';
  const { child, output } = start(command, args, options.env ?? process.env, ['ignore', stdio, stdio]);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`${command} ${args.join(' ')} exited ${child.exitCode}: ${output()}`);
    if (await options.ready(output())) return child;
    await sleep(100);
  }
  await terminate(child);
  throw new Error(`${command} ${args.join(' ')} did not become ready: ${output()}`);
}

/** `node --import tsx <script> <json>` with an IPC channel (the Clerk stand-in). */
export function forkTs(script: string, spec: unknown): ChildProcess {
  const child = fork(script, [JSON.stringify(spec)], {
    cwd: ROOT,
    execArgv: TSX,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  live.add(child);
  return child;
}

/** Sends `message` to an IPC child and resolves with its next reply. */
export function ask<T>(child: ChildProcess, message: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (reply) => resolve(reply as T));
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    child.send(message as object);
  });
}

/** A free loopback port (bound, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * CPU time (user + system, ms) used so far by every live process in process group `pgid` — a
 * child started here and everything it started (`npm start` → sh → tsx → node). Linux only: utime
 * and stime in /proc are in clock ticks (USER_HZ, 100 per second).
 */
export function groupCpuMs(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10;
}
