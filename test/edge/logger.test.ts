import { describe, expect, it } from 'vitest';
import { consoleLogger } from '../../src/edge/logger.ts';

function sink() {
  const lines: { stream: 'log' | 'warn' | 'error'; entry: Record<string, unknown> }[] = [];
  const put = (stream: 'log' | 'warn' | 'error') => (line: string) =>
    lines.push({ stream, entry: JSON.parse(line) as Record<string, unknown> });
  return { lines, console: { log: put('log'), warn: put('warn'), error: put('error') } };
}

describe('the edge console logger', () => {
  it('writes one JSON line per entry, pino-shaped, with child bindings', () => {
    const s = sink();
    consoleLogger('info', { console: s.console })
      .child({ svix_id: 'msg_1' })
      .info({ status: 200 }, 'webhook');
    expect(s.lines).toEqual([
      {
        stream: 'log',
        entry: {
          level: 30,
          time: expect.any(Number),
          service: 'clerk-supabase-sync',
          svix_id: 'msg_1',
          status: 200,
          msg: 'webhook',
        },
      },
    ]);
  });

  it.each<[string, 'debug' | 'info' | 'warn' | 'error', string[]]>([
    ['debug shows all', 'debug', ['log', 'log', 'warn', 'error']],
    ['info drops debug', 'info', ['log', 'warn', 'error']],
    ['error keeps errors only', 'error', ['error']],
  ])('%s', (_label, level, streams) => {
    const s = sink();
    const log = consoleLogger(level, { console: s.console });
    log.debug({}, 'd');
    log.info({}, 'i');
    log.warn({}, 'w');
    log.error({}, 'e');
    expect(s.lines.map((l) => l.stream)).toEqual(streams);
  });

  it('redacts secrets and personal data at any depth', () => {
    const s = sink();
    consoleLogger('info', { console: s.console }).info(
      { serviceKey: 'eyJ…', err: { email: 'ada@example.com', nested: [{ first_name: 'Ada' }] }, ok: 1 },
      'x',
    );
    const text = JSON.stringify(s.lines);
    expect(text).not.toContain('eyJ');
    expect(text).not.toContain('ada@example.com');
    expect(text).not.toContain('Ada');
    expect(s.lines[0]?.entry).toMatchObject({ serviceKey: '[redacted]', ok: 1 });
  });
});
