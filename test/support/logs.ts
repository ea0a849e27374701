/**
 * @module A real pino logger writing into memory, so tests can read every line it wrote. Every
 * capture is also audited after its test file (test/support/log-audit.ts) for secrets and
 * personal data.
 */
import { Writable } from 'node:stream';
import type { Logger } from '../../src/core/logger.ts';
import { createLogger } from '../../src/node/logger.ts';

/** All log text written through captureLogs in this test file. */
export const capturedText: string[] = [];

export function captureLogs(level: 'debug' | 'info' = 'debug'): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      capturedText.push(String(chunk));
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
