import { Writable } from 'node:stream';
import pretty from 'pino-pretty';
import { describe, expect, it } from 'vitest';
import { createLogger, PRETTY_OPTIONS } from '../../src/node/logger.ts';
import { captureLogs } from '../support/logs.ts';

describe('the Node (pino) logger', () => {
  it('redacts secrets and personal data at any depth, in entries and child bindings', () => {
    const { logger, lines, text } = captureLogs('info');
    logger.child({ apikey: 'sb_secret_child', svix_id: 'msg_1' }).info(
      {
        serviceKey: 'eyJ…',
        err: { Email: 'ada@example.com', nested: [{ first_name: 'Ada', deeper: { phone_number: '+4420' } }] },
        ok: 1,
      },
      'x',
    );
    expect(text()).not.toMatch(/sb_secret_child|eyJ|ada@example\.com|"Ada"|\+4420/);
    expect(lines()[0]).toMatchObject({
      svix_id: 'msg_1',
      apikey: '[redacted]',
      serviceKey: '[redacted]',
      err: {
        Email: '[redacted]',
        nested: [{ first_name: '[redacted]', deeper: { phone_number: '[redacted]' } }],
      },
      ok: 1,
      msg: 'x',
    });
  });

  it('logs an Error as its name and message only', () => {
    const { logger, lines } = captureLogs('info');
    logger.error({ err: new TypeError('boom') }, 'failed');
    expect(lines()[0]?.err).toEqual({ name: 'TypeError', message: 'boom' });
  });

  it('on a terminal, a delivery takes one line', async () => {
    let text = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    });
    const logger = createLogger(
      'info',
      pretty({ ...PRETTY_OPTIONS, colorize: false, destination: sink, sync: true }),
    );
    logger.info(
      { svix_id: 'msg_1', type: 'user.created', object_id: 'user_1', outcome: 'applied', status: 200, ms: 3 },
      'webhook',
    );
    expect(text.split('\n').filter(Boolean)).toEqual([
      expect.stringMatching(
        /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: webhook {"svix_id":"msg_1","type":"user.created","object_id":"user_1","outcome":"applied","status":200,"ms":3}$/,
      ),
    ]);
  });
});
