/**
 * @module pino for Node: JSON lines, pretty on a terminal, with secrets and personal data redacted.
 */
import pino from 'pino';
import type { Config } from '../core/config.ts';
import { type Logger, redact } from '../core/logger.ts';

/** Our Logger over pino, with child bindings redacted too (pino's bindings formatter skips them). */
function wrap(p: pino.Logger): Logger {
  return {
    child: (bindings) => wrap(p.child(redact(bindings) as pino.Bindings)),
    debug: (obj, msg) => p.debug(obj, msg),
    info: (obj, msg) => p.info(obj, msg),
    warn: (obj, msg) => p.warn(obj, msg),
    error: (obj, msg) => p.error(obj, msg),
  };
}

/**
 * Where the process logger writes off a terminal (stdout, fd 1): in blocks of 4 KiB or every 0.5 s,
 * whichever comes first, and what is left when the process exits. A write per line (a syscall
 * that wakes a thread) was ~10 % of a delivery's time under load.
 * @example createLogger('info', logDestination('/dev/null'));
 */
export function logDestination(dest: number | string = 1): pino.DestinationStream {
  const stream = pino.destination({ dest, sync: false, minLength: 4096 });
  setInterval(() => stream.flush(), 500).unref();
  return stream;
}

/**
 * pino-pretty on a terminal: one line per entry (its fields as JSON after the message), so that a
 * delivery takes one line, not one per field.
 */
export const PRETTY_OPTIONS = {
  ignore: 'pid,hostname,service',
  singleLine: true,
  translateTime: 'SYS:HH:MM:ss.l',
} as const;

/**
 * Creates the process logger: pretty on a terminal, JSON lines to `destination` (default
 * {@link logDestination}) otherwise.
 * @example const logger = createLogger('info');
 */
export function createLogger(level: Config['logLevel'], destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'clerk-supabase-sync' },
    // Every entry goes through redact(), which also turns an Error into its name and message.
    formatters: { log: (entry) => redact(entry) as Record<string, unknown> },
    serializers: { err: (err: unknown) => err },
  };
  if (destination === undefined && process.stdout.isTTY)
    return wrap(pino({ ...options, transport: { target: 'pino-pretty', options: PRETTY_OPTIONS } }));
  return wrap(pino(options, destination ?? logDestination()));
}
