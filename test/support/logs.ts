/**
 * @module A real pino logger writing into memory, so tests can read every line it wrote.
 */
import { Writable } from 'node:stream';
import type { Logger } from '../../src/core/logger.ts';
import { createLogger } from '../../src/node/logger.ts';

export function captureLogs(level: 'debug' | 'info' = 'debug'): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    logger: createLogger(level, sink),
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
