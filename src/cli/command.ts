/**
 * @module What a `clerk-sync` subcommand is, and the error it throws for a one-line message.
 */
import type { parseArgs } from 'node:util';
import type { Env } from '../core/config.ts';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Redraws one status line in place (terminals only). */
  progress?: (line: string) => void;
  /** stderr is a terminal: draw a progress bar rather than plain progress lines. */
  tty?: boolean;
  /** Colour allowed (a terminal, and NO_COLOR unset). */
  color?: boolean;
  /**
   * Calls `handler` on the first Ctrl-C (SIGINT) instead of exiting, until the returned function
   * is called. For commands that stop cleanly and say where; the others leave Ctrl-C alone.
   */
  onInterrupt?: (handler: () => void) => () => void;
}

/** A failure the user can act on: printed as one line, exit status 1. */
export class CliError extends Error {
  override name = 'CliError';
}

export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  run(args: { values: Record<string, unknown>; positionals: string[] }, env: Env, io: Io): Promise<number>;
}

/** Unwraps a store result, or throws its error for the CLI to print as one line. */
export function must<T>(result: { ok: true; value: T } | { ok: false; error: Error }): T {
  if (!result.ok) throw result.error;
  return result.value;
}
