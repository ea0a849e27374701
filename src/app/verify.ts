/**
 * @module Svix signature verification on the raw body, with the reason a delivery was refused.
 *
 * The scheme (Standard Webhooks, which Svix implements): `v1,<base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>">`, several space-separated signatures during a secret rotation, the
 * timestamp within five minutes. The expected signature comes from `standardwebhooks`' own `sign`
 * (pure JavaScript), or from a runtime's native HMAC when one is given (Node passes node:crypto's,
 * ~8× cheaper). Nothing throws on a refused delivery: each check answers with its reason.
 */
import { Webhook } from 'standardwebhooks';

/** Which check a refused delivery failed (logged; the sender only ever sees a fixed 401). */
export type VerifyFailure =
  | 'missing_headers'
  | 'bad_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'bad_signature';

/** `json`: whether the body parsed as JSON (a signed body that does not is kept as `{ raw: body }`). */
export type Verified = { ok: true; payload: unknown; json: boolean } | { ok: false; reason: VerifyFailure };

/** HMAC-SHA256 of `data` under `key`, base64 — what a runtime may supply natively. */
export type HmacSha256 = (key: Uint8Array, data: string) => string;

export const HEADER_NAMES = [
  'svix-id',
  'svix-timestamp',
  'svix-signature',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
] as const;

const TOLERANCE_S = 5 * 60;
const PREFIX = 'whsec_';

/** Equal strings, in time that depends on their length only (the signatures have a fixed length). */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Verifies `body` (the raw text) against the headers, `svix-*` or unbranded `webhook-*`; a body that
 * is signed but not JSON is still verified (`json: false`) so it can be recorded, not retried forever.
 * @example const v = createVerifier('whsec_…')(text, headers);
 */
export function createVerifier(
  secret: string,
  hmac?: HmacSha256,
  now: () => number = Date.now,
): (body: string, headers: Record<string, string>) => Verified {
  const webhook = new Webhook(secret);
  const key = Uint8Array.from(atob(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret), (c) =>
    c.charCodeAt(0),
  );
  const expected =
    hmac === undefined
      ? (id: string, at: number, body: string) => webhook.sign(id, new Date(at * 1000), body).slice(3)
      : (id: string, at: number, body: string) => hmac(key, `${id}.${at}.${body}`);
  return (body, headers) => {
    const id = headers['svix-id'] ?? headers['webhook-id'] ?? '';
    const timestamp = headers['svix-timestamp'] ?? headers['webhook-timestamp'] ?? '';
    const signatures = headers['svix-signature'] ?? headers['webhook-signature'] ?? '';
    if (!id || !timestamp || !signatures) return { ok: false, reason: 'missing_headers' };
    const at = Number.parseInt(timestamp, 10);
    if (Number.isNaN(at)) return { ok: false, reason: 'bad_timestamp' };
    const nowS = Math.floor(now() / 1000);
    if (nowS - at > TOLERANCE_S) return { ok: false, reason: 'timestamp_too_old' };
    if (at > nowS + TOLERANCE_S) return { ok: false, reason: 'timestamp_too_new' };
    const mine = expected(id, at, body);
    const matches = signatures
      .split(' ')
      .some((s) => s.startsWith('v1,') && constantTimeEqual(s.slice(3), mine));
    if (!matches) return { ok: false, reason: 'bad_signature' };
    try {
      return { ok: true, payload: JSON.parse(body), json: true };
    } catch {
      // Signed, but not JSON: kept as failed rather than retried forever.
      return { ok: true, payload: { raw: body }, json: false };
    }
  };
}
