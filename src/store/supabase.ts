/**
 * @module The store transport over supabase-js (PostgREST `POST /rest/v1/rpc/<fn>`) with the service
 * role key: the one every runtime can use, the edge ones included. One HTTP request per store call,
 * bounded by an abort signal; failures sorted by the one policy (./failure.ts).
 */
import { createClient, type SupabaseClient, type SupabaseClientOptions } from '@supabase/supabase-js';
import { classifyPostgrest } from './failure.ts';
import { createStore, type Result, type Rpc, type Store, StoreError } from './port.ts';

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
          // Not about the event's content: something between us and PostgREST answered oddly.
          error: new StoreError('unavailable', `${fn}: expected rows from PostgREST, got ${typeof data}`),
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
