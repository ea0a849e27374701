/**
 * @module The store transport over supabase-js (PostgREST `POST /rest/v1/rpc/<fn>`) with the service
 * role key: the one every runtime can use, the edge ones included. One HTTP request per store call,
 * bounded by an abort signal, and every PostgREST outcome sorted into retryable or final.
 */
import { createClient, type SupabaseClient, type SupabaseClientOptions } from '@supabase/supabase-js';
import { createStore, type Result, type Rpc, type Store, StoreError } from './port.ts';
import { classify, redactValues } from './sql.ts';

export interface SupabaseRpcOptions {
  /**
   * How long one call may take before it is aborted and answered `timeout`. Below Svix's 15 s delivery
   * timeout and the app's own 10 s deadline, so the request is cancelled rather than left running.
   */
  timeoutMs?: number;
  /** A `fetch` to send requests with (tests, or a runtime's own). */
  fetch?: typeof fetch;
}

export const DEFAULT_TIMEOUT_MS = 8_000;

/** The shape of a supabase-js (postgrest-js) error; `status` is 0 when no HTTP answer came. */
interface PostgrestFailure {
  error: { message?: string; code?: string; details?: string | null; hint?: string | null };
  status: number;
}

// HTTP answers that mean "try again later" whatever their body: PostgREST's own 503 (no database
// connection, PGRST000/001/002) and 504 (no pooled connection in time, PGRST003), and the gateways in
// front of it (502 bad gateway, 429 rate limited).
const TRANSIENT_STATUS: Record<number, StoreError['code']> = {
  429: 'unavailable',
  502: 'unavailable',
  503: 'unavailable',
  504: 'timeout',
};

// What a refused request usually means for this service, to say what to fix.
const HINTS: Record<number, string> = {
  401: 'check SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_SECRET_KEY): it must be the service role key of this project',
  403: 'the key in SUPABASE_SERVICE_ROLE_KEY is not the service role key (only the service role may call clerk_sync_* functions)',
  404: 'the clerk_sync_* SQL functions are missing: apply the migrations (supabase db push)',
};

/**
 * Sorts a supabase-js failure into a StoreError code, the way sqlRpc's `classify` does for a direct
 * connection (same SQLSTATE table), plus what only HTTP can say: no answer, an aborted request, a 5xx
 * from the gateway. Messages keep no quoted values (they can be personal data).
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
  const transient = TRANSIENT_STATUS[status];
  if (transient !== undefined)
    return new StoreError(
      transient,
      `${fn}: HTTP ${status}${code ? ` ${code}` : ''}: ${redactValues(message)}`,
      {
        cause: error,
        sqlstate: /^[0-9A-Z]{5}$/.test(code) ? code : undefined,
      },
    );
  // A SQLSTATE (PostgREST forwards Postgres errors as they are): the same table as a direct connection.
  const sorted = classify({ code, message });
  const hint = HINTS[status];
  return new StoreError(
    sorted.code,
    `${fn}: HTTP ${status}${code && sorted.sqlstate === undefined ? ` ${code}` : ''}: ${sorted.message}${
      hint && sorted.code === 'rejected' ? ` (${hint})` : ''
    }`,
    { cause: error, sqlstate: sorted.sqlstate },
  );
}

/**
 * Calls `public.<fn>` through PostgREST's `/rpc/<fn>` with named arguments.
 * @example const store = createStore(supabaseRpc(createClient(url, serviceKey)));
 */
export function supabaseRpc(client: SupabaseClient, options: SupabaseRpcOptions = {}): Rpc {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return async (fn, args, returns) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      // supabase-js does not throw: the outcome is in `error`/`status`, and every one is checked here.
      const { data, error, status } = await client.rpc(fn, args).abortSignal(controller.signal);
      if (error !== null) return { ok: false, error: classifyPostgrest(fn, { error, status }) };
      if (returns === 'rows' && !Array.isArray(data))
        return {
          ok: false,
          error: new StoreError('rejected', `${fn}: expected rows from PostgREST, got ${typeof data}`),
        };
      return { ok: true, value: data } satisfies Result<unknown>;
    } catch (error) {
      // Not expected (supabase-js reports failures as values), but a thrown fetch must not escape.
      return { ok: false, error: classifyPostgrest(fn, { error: error as Error, status: 0 }) };
    } finally {
      clearTimeout(timer);
    }
  };
}

type RealtimeTransport = NonNullable<NonNullable<SupabaseClientOptions<'public'>['realtime']>['transport']>;

class NoRealtime {
  constructor() {
    throw new Error('clerk-supabase-sync does not use Supabase Realtime');
  }
}

/**
 * A supabase-js client for a server holding the service role key.
 * @example const client = serviceClient({ url: 'https://<ref>.supabase.co', serviceKey });
 */
export function serviceClient(
  config: { url: string; serviceKey: string },
  options: Pick<SupabaseRpcOptions, 'fetch'> = {},
): SupabaseClient {
  return createClient(config.url, config.serviceKey, {
    // No session to keep, refresh or read from a URL.
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // Realtime is never used; supabase-js builds its client eagerly and, on Node 20 (no global
    // WebSocket), throws unless it is given a transport.
    realtime: { transport: NoRealtime as unknown as RealtimeTransport },
    ...(options.fetch === undefined ? {} : { global: { fetch: options.fetch } }),
  });
}

/**
 * The store over supabase-js with the service role key (`SUPABASE_URL` + `SUPABASE_SERVICE_ROLE_KEY`).
 * @example const store = supabaseStore({ url: 'https://<ref>.supabase.co', serviceKey });
 */
export function supabaseStore(
  config: { url: string; serviceKey: string },
  options: SupabaseRpcOptions = {},
): Store {
  return createStore(supabaseRpc(serviceClient(config, options), options));
}
