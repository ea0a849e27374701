/**
 * @module pino for Node: JSON lines, pretty on a terminal, with secrets and personal data redacted.
 */
import pino from 'pino';
import type { Config } from '../core/config.ts';
import { type Logger, REDACTED_KEYS } from '../core/logger.ts';

/**
 * Creates the process logger.
 * @example const logger = createLogger('info');
 */
export function createLogger(level: Config['logLevel'], destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'clerk-supabase-sync' },
    redact: { paths: REDACTED_KEYS.flatMap((k) => [k, `*.${k}`]), censor: '[redacted]' },
  };
  if (destination !== undefined) return pino(options, destination);
  if (process.stdout.isTTY)
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname,service' } },
    });
  return pino(options);
}
