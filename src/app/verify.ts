/**
 * @module Svix signature verification on the raw body, with the reason a delivery was refused.
 *
 * svix's `Webhook` is a thin wrapper that renames `svix-*` headers to `webhook-*` and delegates to
 * `standardwebhooks` (Svix's own implementation of the scheme: tolerance, signature list, constant-time
 * compare). We call that directly so a runtime can plug in a native HMAC-SHA256: the default one is
 * pure JavaScript, ~0.1 ms per check, which is most of the cost of refusing a forged delivery.
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/** Which check a refused delivery failed (logged; the sender only ever sees a fixed 401). */
export type VerifyFailure =
  | 'missing_headers'
  | 'bad_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'bad_signature';

export type Verified = { ok: true; payload: unknown; json: boolean } | { ok: false; reason: VerifyFailure };

/** HMAC-SHA256 of `data` under `key`, base64 — what a runtime may supply natively. */
export type HmacSha256 = (key: Uint8Array, data: string) => string;

const REASONS: Record<string, VerifyFailure> = {
  'Missing required headers': 'missing_headers',
  'Invalid Signature Headers': 'bad_timestamp',
  'Message timestamp too old': 'timestamp_too_old',
  'Message timestamp too new': 'timestamp_too_new',
  'No matching signature found': 'bad_signature',
};

export const HEADER_NAMES = [
  'svix-id',
  'svix-timestamp',
  'svix-signature',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
] as const;

const PREFIX = 'whsec_';
const base64Key = (secret: string) =>
  Uint8Array.from(atob(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret), (c) =>
    c.charCodeAt(0),
  );

/** standardwebhooks' Webhook with its signing step swapped for `hmac`; everything else is the library's. */
class NativeHmacWebhook extends Webhook {
  readonly #key: Uint8Array;
  constructor(
    secret: string,
    private readonly hmac: HmacSha256,
  ) {
    super(secret);
    this.#key = base64Key(secret);
  }
  override sign(msgId: string, timestamp: Date, payload: string): string {
    return `v1,${this.hmac(this.#key, `${msgId}.${Math.floor(timestamp.getTime() / 1000)}.${payload}`)}`;
  }
}

/**
 * Verifies `body` (the raw text) against the headers, `svix-*` or unbranded `webhook-*`; a body that
 * is signed but not JSON is still verified (`json: false`) so it can be recorded, not retried forever.
 * @example const v = createVerifier('whsec_…')(text, headers);
 */
export function createVerifier(
  secret: string,
  hmac?: HmacSha256,
): (body: string, headers: Record<string, string>) => Verified {
  const webhook = hmac === undefined ? new Webhook(secret) : new NativeHmacWebhook(secret, hmac);
  return (body, headers) => {
    // A refused delivery is an exception inside the library; its stack traces (two per error) cost
    // more than the HMAC. Nothing reads them, so none are captured while verifying.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      const payload = webhook.verify(body, {
        'webhook-id': headers['svix-id'] ?? headers['webhook-id'] ?? '',
        'webhook-timestamp': headers['svix-timestamp'] ?? headers['webhook-timestamp'] ?? '',
        'webhook-signature': headers['svix-signature'] ?? headers['webhook-signature'] ?? '',
      });
      return { ok: true, payload, json: true };
    } catch (error) {
      if (error instanceof WebhookVerificationError)
        return { ok: false, reason: REASONS[error.message] ?? 'bad_signature' };
      // The body is parsed only after the signature matched: this is a signed body that is not
      // JSON (SyntaxError) or too deeply nested to parse (RangeError).
      if (error instanceof SyntaxError || error instanceof RangeError)
        return { ok: true, payload: { raw: body }, json: false };
      throw error;
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  };
}
