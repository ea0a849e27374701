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
 * Creates the process logger. Off a terminal it writes to stdout asynchronously: lines that queue
 * while a write is in flight go out together, and pino flushes what is left when the process exits.
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
  if (destination !== undefined) return wrap(pino(options, destination));
  if (process.stdout.isTTY)
    return wrap(
      pino({ ...options, transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname,service' } } }),
    );
  return wrap(pino(options, pino.destination({ dest: 1, sync: false })));
}
