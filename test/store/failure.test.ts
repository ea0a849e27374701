import { describe, expect, it } from 'vitest';
import { classify, classifyPostgrest, fromHex, ledgerPayload, toHex } from '../../src/store/failure.ts';

describe('classify: final only for content errors', () => {
  it.each([
    ['22Z01 (our own refusal)', '22Z01', 'sync_refused'],
    ['22P05 (unsupported unicode escape)', '22P05', 'data_exception'],
    ['22007 (invalid datetime)', '22007', 'data_exception'],
    ['23505 (unique violation)', '23505', 'integrity_violation'],
  ])('%s → rejected', (_label, code, reason) => {
    const e = classify({ code, message: 'x "a@x.io"' });
    expect(e).toMatchObject({ code: 'rejected', retryable: false, reason, sqlstate: code });
    expect(e.message).not.toContain('a@x.io');
  });

  it.each([
    [
      '55000 (not accepting connections)',
      { code: '55000', message: 'database "x" is not currently accepting connections' },
    ],
    ['57P01 (admin shutdown)', { code: '57P01', message: 'terminating connection' }],
    ['57P05 (idle-session timeout)', { code: '57P05', message: 'idle-session timeout' }],
    ['53100 (disk full)', { code: '53100', message: 'could not extend file' }],
    ['53200 (out of memory)', { code: '53200', message: 'out of memory' }],
    ['25006 (read-only)', { code: '25006', message: 'cannot execute INSERT in a read-only transaction' }],
    ['58030 (io error)', { code: '58030', message: 'could not write' }],
    ['XX000 (internal)', { code: 'XX000', message: 'internal' }],
    ['42883 (function missing)', { code: '42883', message: 'function does not exist' }],
    ['42P01 (table missing)', { code: '42P01', message: 'relation does not exist' }],
    ['28P01 (login refused)', { code: '28P01', message: 'password authentication failed' }],
    ['42501 (no privilege)', { code: '42501', message: 'permission denied' }],
    ['P0001 (a raise without our code)', { code: 'P0001', message: 'x' }],
    ['a driver error', new Error('Connection terminated unexpectedly')],
    ['an unknown error', new Error('something new')],
    ['a client-side query timeout', new Error('Query read timeout')],
  ])('%s → retryable', (_label, error) => {
    expect(classify(error).retryable).toBe(true);
  });
});

describe('classifyPostgrest: content only when PostgREST forwards it', () => {
  it.each([
    ['400 with 22Z01', 400, { code: '22Z01', message: 'refused' }, false],
    ['409 with 23505', 409, { code: '23505', message: 'dup' }, false],
    ['500 HTML', 500, { message: '<html>oops</html>' }, true],
    ['520 HTML', 520, { message: '<!DOCTYPE html>' }, true],
    ['522 HTML', 522, { message: '<!DOCTYPE html>' }, true],
    ['524 HTML', 524, { message: '<!DOCTYPE html>' }, true],
    ['502 with a class-22 code', 502, { code: '22023', message: 'x' }, true],
    ['404 PGRST202', 404, { code: 'PGRST202', message: 'not found' }, true],
    ['401 refused key', 401, { code: 'PGRST301', message: 'JWT' }, true],
    ['no answer', 0, { message: 'TypeError: fetch failed' }, true],
  ])('%s', (_label, status, error, retryable) => {
    expect(classifyPostgrest('fn', { error, status }).retryable).toBe(retryable);
  });
});

describe('ledgerPayload: whole, as jsonb when it holds it', () => {
  it.each([
    ['plain JSON: jsonb', { a: 'b' }, true],
    ['a NUL in a value: bytes', { a: 'x\u0000' }, false],
    ['a NUL in a key: bytes', { 'a\u0000': 1 }, false],
    ['a lone surrogate: bytes', { a: '\uD800' }, false],
    ['a surrogate pair: jsonb', { a: '\uD83D\uDE00' }, true],
    ['a number JSON.parse made Infinity: bytes', { a: Number.POSITIVE_INFINITY }, false],
    ['nested 300 deep: bytes', JSON.parse(`${'['.repeat(300)}${']'.repeat(300)}`), false],
  ])('%s', (_label, payload, asJsonb) => {
    const raw = JSON.stringify(payload);
    const kept = ledgerPayload(payload, raw);
    expect('payload' in kept).toBe(asJsonb);
    if ('payloadHex' in kept) expect(fromHex(kept.payloadHex)).toBe(raw);
  });

  it('hex round-trips any text, NUL and non-ASCII included', () => {
    const text = 'a\u0000é😀';
    expect(fromHex(toHex(text))).toBe(text);
  });
});
