/**
 * @module Svix signature verification on the raw body, with the reason a delivery was refused.
 */
import { Webhook, WebhookVerificationError } from 'svix/dist/webhook.js';

/** Which check a refused delivery failed (logged; the sender only ever sees a fixed 401). */
export type VerifyFailure =
  | 'missing_headers'
  | 'bad_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'bad_signature';

export type Verified = { ok: true; payload: unknown; json: boolean } | { ok: false; reason: VerifyFailure };

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

/**
 * Verifies `body` (the raw text) against the headers; a body that is signed but not JSON is
 * still verified (`json: false`) so it can be recorded rather than retried forever.
 * @example const v = createVerifier('whsec_…')(text, headers);
 */
export function createVerifier(secret: string): (body: string, headers: Record<string, string>) => Verified {
  const webhook = new Webhook(secret);
  return (body, headers) => {
    try {
      return { ok: true, payload: webhook.verify(body, headers), json: true };
    } catch (error) {
      if (error instanceof WebhookVerificationError)
        return { ok: false, reason: REASONS[error.message] ?? 'bad_signature' };
      // svix parses the body only after the signature matched: this is a signed non-JSON body.
      if (error instanceof SyntaxError) return { ok: true, payload: { raw: body }, json: false };
      throw error;
    }
  };
}
