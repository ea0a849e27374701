/**
 * @module Signs webhook deliveries at test time, as Svix does (no committed signatures).
 */
import { Webhook } from 'standardwebhooks';

export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const OTHER_SECRET = 'whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCEh';

let counter = 0;
export const newMsgId = (): string => `msg_${Date.now().toString(36)}_${++counter}`;

export interface Delivery {
  body: string;
  headers: Record<string, string>;
  msgId: string;
}

/** A delivery of `payload` (object or raw string) signed with `secret` at `at` (default now). */
export function signed(
  payload: unknown,
  opts: { secret?: string; msgId?: string; at?: Date; prefix?: 'svix' | 'webhook' } = {},
): Delivery {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const msgId = opts.msgId ?? newMsgId();
  const at = opts.at ?? new Date();
  const prefix = opts.prefix ?? 'svix';
  return {
    body,
    msgId,
    headers: {
      'content-type': 'application/json',
      [`${prefix}-id`]: msgId,
      [`${prefix}-timestamp`]: String(Math.floor(at.getTime() / 1000)),
      [`${prefix}-signature`]: new Webhook(opts.secret ?? SECRET).sign(msgId, at, body),
    },
  };
}

export const post = (d: Pick<Delivery, 'body' | 'headers'>): RequestInit => ({
  method: 'POST',
  headers: d.headers,
  body: d.body,
});
