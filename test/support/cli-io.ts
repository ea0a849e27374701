/**
 * @module Runs `clerk-sync` in-process with an Io that records what it printed.
 */
import type { Io } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';

export interface Captured {
  io: Io;
  out: () => string;
  err: () => string;
}

/** An Io that keeps every line; `tty` and `color` as given (both off by default). */
export function captureIo(options: { tty?: boolean; color?: boolean } = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      progress: () => {},
      tty: options.tty ?? false,
      color: options.color ?? false,
    },
    out: () => out.join('\n'),
    err: () => err.join('\n'),
  };
}

/**
 * Runs one CLI invocation.
 * @example const { code, out } = await cli(['rls', 'todos', '--dry-run']);
 */
export async function cli(
  argv: string[],
  env: Record<string, string | undefined> = {},
  options: { tty?: boolean; color?: boolean } = {},
): Promise<{ code: number; out: string; err: string }> {
  const captured = captureIo(options);
  const code = await main(argv, env, captured.io);
  return { code, out: captured.out(), err: captured.err() };
}
