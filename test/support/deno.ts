/**
 * @module Runs a Supabase Edge Function with the `deno` npm package (npm: specifiers from the local
 * node_modules, no registry), and waits until it listens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface DenoProcess {
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
}

/**
 * `deno run <flags> <entry>` in `cwd` with only `env` (plus PATH and HOME); resolves once it prints
 * "Listening on", throws with its output if it does not within 60 s.
 */
export async function startDeno(
  flags: string[],
  entry: string,
  cwd: string,
  env: Record<string, string>,
): Promise<DenoProcess> {
  const child = spawn(
    join(ROOT, 'node_modules/.bin/deno'),
    // npm: specifiers resolve from cwd's node_modules (installed by npm): no registry at run time.
    ['run', '--allow-net', '--allow-env', '--no-lock', '--node-modules-dir=manual', ...flags, entry],
    {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DENO_NO_UPDATE_CHECK: '1', ...env },
    },
  );
  let output = '';
  child.stdout?.on('data', (b) => (output += b));
  child.stderr?.on('data', (b) => (output += b));
  const started = Date.now();
  while (!output.includes('Listening on') && child.exitCode === null && Date.now() - started < 60_000)
    await new Promise((r) => setTimeout(r, 100));
  if (!output.includes('Listening on')) {
    child.kill('SIGTERM');
    throw new Error(`deno did not start:\n${output}`);
  }
  return { child, output: () => output };
}
