/**
 * @module The `clerk-sync` command line: dispatches subcommands, turns failures into one line.
 */
import { parseArgs } from 'node:util';
import { ClerkApiError } from '../clerk/errors.ts';
import { ConfigError, type Env, parseConfig } from '../core/config.ts';
import { explainDatabaseError } from '../node/database-error.ts';
import { packageInfo } from '../node/package.ts';
import { StoreError } from '../store/port.ts';
import { CliError, type Command, type Io } from './command.ts';
import { backfill } from './commands/backfill.ts';
import { doctor } from './commands/doctor.ts';
import { init } from './commands/init.ts';
import { metadata } from './commands/metadata.ts';
import { migrate } from './commands/migrate.ts';
import { replay } from './commands/replay.ts';
import { rls } from './commands/rls.ts';
import { sendTestEvent } from './commands/send-test-event.ts';
import { serve } from './commands/serve.ts';

const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  progress: (line) => process.stderr.write(`\r\x1b[2K${line}`),
  tty: process.stderr.isTTY === true,
  color: process.stdout.isTTY === true && !process.env.NO_COLOR,
  onInterrupt: (handler) => {
    process.once('SIGINT', handler);
    return () => process.off('SIGINT', handler);
  },
};

const commands: Record<string, Command> = {
  migrate,
  backfill,
  replay,
  doctor,
  'send-test-event': sendTestEvent,
  rls,
  serve,
  init,
  metadata,
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'Usage: clerk-sync <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'clerk-sync <command> --help' for a command's options; 'clerk-sync --version' for the version.",
  ].join('\n');
}

/**
 * Runs one CLI invocation and returns its exit status.
 * @example process.exitCode = await main(['migrate'], process.env);
 */
export async function main(argv: string[], env: Env, io: Io = defaultIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(help());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.out(packageInfo().version);
    return 0;
  }
  const command = commands[name];
  if (command === undefined) {
    io.err(`clerk-sync: unknown command '${name}'. Commands: ${Object.keys(commands).join(', ')}.`);
    return 2;
  }
  try {
    const args = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (args.values.help) {
      io.out(`Usage: ${command.usage}\n\n${command.summary}`);
      return 0;
    }
    return await command.run(args as { values: Record<string, unknown>; positionals: string[] }, env, io);
  } catch (error) {
    io.err(`clerk-sync ${name}: ${describe(error, name, command, env)}`);
    return 1;
  }
}

/** The failure as one line that says what to change. */
function describe(error: unknown, name: string, command: Command, env: Env): string {
  if (error instanceof ConfigError) return error.problems.join('; ');
  if (error instanceof CliError || error instanceof ClerkApiError)
    return error.message.split('\n')[0] as string;
  const option = badOption(error, name, command);
  if (option !== null) return option;
  const database = databaseOf(env);
  const explained = database === null ? null : explainDatabaseError(error, database);
  if (explained !== null) return explained;
  if (error instanceof StoreError)
    return error.retryable
      ? `the database is unavailable (${error.message}): check DATABASE_URL / SUPABASE_URL, then retry`
      : `the database refused the call (${error.message}): run clerk-sync doctor to check the set-up`;
  if (error instanceof Error) return error.message.split('\n')[0] as string;
  return String(error);
}

function databaseOf(env: Env) {
  try {
    return parseConfig(env).database;
  } catch {
    return null;
  }
}

/** parseArgs' complaints, reworded to name the option and list the ones the command takes. */
function badOption(error: unknown, name: string, command: Command): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? '';
  const known = Object.keys(command.options ?? {}).map((o) => `--${o}`);
  const takes = known.length === 0 ? 'no options' : known.join(', ');
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
    return `unknown option ${flag}: ${name} takes ${takes} (clerk-sync ${name} --help)`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
    return /argument missing/.test(message)
      ? `${flag} needs a value (clerk-sync ${name} --help)`
      : `${flag} takes no value (clerk-sync ${name} --help)`;
  return null;
}
