/**
 * @module A console sink for the edge runtimes (workerd, Deno / Supabase Edge Functions): one JSON line
 * per entry through `console.log` / `console.warn` / `console.error`, which both platforms collect and
 * parse. Same shape as pino's lines (`level`, `time`, `msg`, bindings), same redacted keys.
 */
import type { Config } from '../core/config.ts';
import { type Logger, redact } from '../core/logger.ts';

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;

export interface ConsoleLike {
  log(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

/**
 * Creates a logger that writes JSON lines to the console.
 * @example const logger = consoleLogger('info'); logger.info({ status: 200 }, 'webhook');
 */
export function consoleLogger(
  level: Config['logLevel'],
  options: { bindings?: Record<string, unknown>; console?: ConsoleLike } = {},
): Logger {
  const min = LEVELS[level];
  const sink = options.console ?? console;
  const bindings = { service: 'clerk-supabase-sync', ...options.bindings };
  const write = (name: 'debug' | 'info' | 'warn' | 'error') => (obj: object, msg?: string) => {
    const n = LEVELS[name];
    if (n < min) return;
    const line = JSON.stringify(redact({ level: n, time: Date.now(), ...bindings, ...obj, msg }));
    if (n >= LEVELS.error) sink.error(line);
    else if (n >= LEVELS.warn) sink.warn(line);
    else sink.log(line);
  };
  return {
    child: (more) => consoleLogger(level, { bindings: { ...bindings, ...more }, console: sink }),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
  };
}
