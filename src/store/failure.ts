/**
 * @module The failure policy: what is final and what is retried, for every transport (a direct
 * connection, supabase-js) and for the CLI. An error is final only when the event's *content*
 * caused it — zod refusing the payload, Postgres classes 22 (data exception) and 23 (integrity),
 * and SQLSTATE 22Z01, which our SQL functions raise on purpose for bad content. Everything else,
 * known or not (connection errors, 55000, 57P0x, 53xxx, 25006, 58xxx, XX000, a missing function,
 * a refused login or key, any driver or network error, a gateway's HTML page), is retryable: a
 * new failure mode then costs a retry, never an event.
 */
import { MAX_JSON_DEPTH } from '../core/dispatch.ts';
import { cleanText } from '../core/map.ts';
import { type FailureReason, StoreError, type StoreErrorCode } from './port.ts';

/** The SQLSTATE our SQL functions raise for content they refuse (supabase/migrations/*_reliability.sql). */
export const SYNC_REFUSED_SQLSTATE = '22Z01';

/** The reason class of a content error's SQLSTATE, or undefined when the error is not about content. */
export function contentReason(sqlstate: string | undefined): FailureReason | undefined {
  if (sqlstate === undefined) return undefined;
  if (sqlstate === SYNC_REFUSED_SQLSTATE) return 'sync_refused';
  if (sqlstate.startsWith('22')) return 'data_exception';
  if (sqlstate.startsWith('23')) return 'integrity_violation';
  return undefined;
}

// Only to name the retryable code; what is retried does not depend on this table.
const RETRY_CODE: Record<string, StoreErrorCode> = {
  '40001': 'conflict', // serialization_failure
  '40P01': 'conflict', // deadlock_detected
  '55P03': 'conflict', // lock_not_available
  '57014': 'timeout', // query_canceled (statement_timeout)
};

const SQLSTATE = /^[0-9A-Z]{5}$/;
const TIMEOUT = /Query read timeout|timeout exceeded|timed out|ETIMEDOUT/i;

/** The first line of a database message, quoted values (which can be personal data) blanked. */
export const redactValues = (message: string): string =>
  message.replace(/"[^"]*"/g, '"…"').split('\n')[0] as string;

/**
 * Sorts a failure of a direct connection (node-postgres, PGlite) into a StoreError: `rejected` with
 * a reason class for content errors, retryable for everything else. Messages keep no quoted values.
 * @example classify({ code: '25006', message: 'cannot execute INSERT in a read-only transaction' }).retryable; // true
 */
export function classify(error: unknown): StoreError {
  const e = error as { code?: unknown; message?: unknown };
  const sqlstate = typeof e.code === 'string' && SQLSTATE.test(e.code) ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const redacted = redactValues(message);
  const reason = contentReason(sqlstate);
  const code: StoreErrorCode =
    reason !== undefined
      ? 'rejected'
      : ((sqlstate === undefined ? undefined : RETRY_CODE[sqlstate]) ??
        (sqlstate === undefined && TIMEOUT.test(message) ? 'timeout' : 'unavailable'));
  return new StoreError(code, sqlstate === undefined ? redacted : `${sqlstate}: ${redacted}`, {
    cause: error,
    sqlstate,
    reason,
  });
}

/** The shape of a supabase-js (postgrest-js) error; `status` is 0 when no HTTP answer came. */
export interface PostgrestFailure {
  error: { message?: string; code?: string; details?: string | null; hint?: string | null };
  status: number;
}

// What a refused request usually means for this service, to say what to fix.
const HINTS: Record<number, string> = {
  401: 'check SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_SECRET_KEY): it must be the service role key of this project',
  403: 'the key in SUPABASE_SERVICE_ROLE_KEY is not the service role key (only the service role may call clerk_sync_* functions)',
  404: 'the clerk_sync_* SQL functions are missing: apply the migrations (supabase db push)',
};

/**
 * Sorts a supabase-js failure: final only when PostgREST forwards a content error of Postgres (its
 * SQLSTATE in `code`, answered 400 or 409); everything else — no answer, an aborted request, a
 * gateway's 5xx page, PostgREST's own PGRST errors, a refused key — is retryable.
 * @example classifyPostgrest('clerk_sync_apply_event', { error: { message: '<html>…' }, status: 522 }).retryable; // true
 */
export function classifyPostgrest(fn: string, failure: PostgrestFailure): StoreError {
  const { error, status } = failure;
  const code = typeof error.code === 'string' ? error.code : '';
  const message = typeof error.message === 'string' ? error.message : 'no message';
  if (status === 0) {
    // No HTTP answer: fetch threw. postgrest-js folds it into `{ message: '<name>: <message>' }`.
    const aborted = /^(AbortError|TimeoutError)\b/.test(message);
    return new StoreError(
      aborted ? 'timeout' : 'unavailable',
      aborted
        ? `${fn}: no answer from Supabase in time (request aborted)`
        : `${fn}: Supabase unreachable: ${redactValues(message)}`,
      { cause: error },
    );
  }
  const sqlstate = SQLSTATE.test(code) ? code : undefined;
  // A content error comes from Postgres through PostgREST as 400 or 409 with its SQLSTATE; the same
  // code in any other answer (a gateway's page, a 5xx) is not trusted to be about the content.
  const reason = status === 400 || status === 409 ? contentReason(sqlstate) : undefined;
  const sorted = classify({ code: sqlstate, message });
  const head = message.trimStart().startsWith('<') ? 'an HTML page (a gateway in front of PostgREST)' : null;
  const hint = HINTS[status];
  return new StoreError(
    reason !== undefined
      ? 'rejected'
      : status === 504
        ? 'timeout'
        : sorted.code === 'rejected'
          ? 'unavailable'
          : sorted.code,
    `${fn}: HTTP ${status}${code && sqlstate === undefined ? ` ${code}` : ''}: ${head ?? sorted.message}${
      hint && reason === undefined ? ` (${hint})` : ''
    }`,
    { cause: error, sqlstate, reason },
  );
}

/** Whether Postgres text holds `s` as it is (no NUL, no lone surrogate). */
const textFits = (s: string) => cleanText(s) === s;

/** Whether jsonb holds `value` as it is: no NUL or lone surrogate in a string or key, no
 * non-finite number (JSON.parse makes 1e999 Infinity), nesting Postgres parses on any stack. */
function fitsJsonb(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return textFits(value);
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return true;
  if (depth >= MAX_JSON_DEPTH) return false;
  if (Array.isArray(value)) return value.every((v) => fitsJsonb(v, depth + 1));
  for (const [k, v] of Object.entries(value)) if (!textFits(k) || !fitsJsonb(v, depth + 1)) return false;
  return true;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const UTF8 = new TextEncoder();

/** The UTF-8 bytes of `text`, in hex. */
export function toHex(text: string): string {
  const bytes = UTF8.encode(text);
  const out: string[] = new Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = HEX[bytes[i] as number] as string;
  return out.join('');
}

/** The text whose UTF-8 bytes `hex` holds. */
export function fromHex(hex: string): string {
  const bytes = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return new TextDecoder().decode(bytes);
}

/**
 * What the ledger keeps of a failed event: its payload as jsonb when jsonb holds it as it is,
 * otherwise the delivered text whole (as hex, for the bytes jsonb and text cannot hold). Never nothing.
 * @example ledgerPayload({ data: { name: 'a\u0000' } }, body); // { payloadHex: '7b…' }
 */
export function ledgerPayload(payload: unknown, raw: string): { payload: unknown } | { payloadHex: string } {
  return fitsJsonb(payload) ? { payload } : { payloadHex: toHex(raw) };
}

/**
 * The object and user a payload is about, for the ledger's erasure when it is kept as bytes.
 * @example payloadIds({ type: 'user.updated', data: { id: 'user_1' } }); // { id: 'user_1' }
 */
export function payloadIds(payload: unknown): { id?: string; user_id?: string } {
  const data = (payload as { data?: unknown } | null)?.data as Record<string, unknown> | undefined;
  if (typeof data !== 'object' || data === null) return {};
  const text = (v: unknown) => (typeof v === 'string' && textFits(v) ? v : undefined);
  const id = text(data.id);
  const user = text((data.public_user_data as { user_id?: unknown } | undefined)?.user_id);
  return { ...(id === undefined ? {} : { id }), ...(user === undefined ? {} : { user_id: user }) };
}
