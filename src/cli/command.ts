/**
 * @module What a `clerk-sync` subcommand is, and the error it throws for a one-line message.
 */
import type { parseArgs } from 'node:util';
import type { Env } from '../core/config.ts';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
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
