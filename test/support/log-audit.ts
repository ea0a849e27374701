/**
 * @module Runs after every test file: no line any test logged (at debug level) may carry a secret
 * or personal data. Test inputs use these shapes throughout, so a leak anywhere shows here.
 */
import { afterAll, expect } from 'vitest';
import { capturedText } from './logs.ts';

const FORBIDDEN: [string, RegExp][] = [
  ['a signing secret', /whsec_[A-Za-z0-9+/=]{8,}/],
  ['a Clerk secret key', /sk_(test|live)_\w+/],
  ['a service key or JWT', /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/],
  ['an email address', /[\w.+-]+@[\w-]+\.[\w.]+/],
  ['a phone number', /\+1555\d{7}/],
  ['metadata values of the fixtures', /cus_user|acct_org|secret_orgmem|marmalade/],
];

afterAll(() => {
  const text = capturedText.join('');
  for (const [what, pattern] of FORBIDDEN) expect(text, `a log line carries ${what}`).not.toMatch(pattern);
});
