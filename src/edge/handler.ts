/**
 * @module What the edge entries share (Cloudflare Workers, Supabase Edge Functions): env → parseConfig
 * → the supabase-js store and a console logger → createApp. Built on the first request, because a
 * Worker only sees its env there; a configuration error answers 500 and logs what to set.
 */
import { createApp } from '../app/app.ts';
import { ConfigError, type Env, parseConfig } from '../core/config.ts';
import { ensureDeps } from '../ensure/deps.ts';
import { supabaseStore } from '../store/supabase.ts';
import { consoleLogger } from './logger.ts';

export interface EdgeOptions {
  /** A path prefix the platform puts before the app's routes (Supabase: `/<function-name>`). */
  basePath?: string;
  /** A `fetch` for the store (benchmarks). */
  fetch?: typeof fetch;
}

type Handler = (request: Request) => Promise<Response>;

/** Builds the app for `env`; throws a ConfigError naming every missing variable. */
export function edgeApp(env: Env, options: EdgeOptions = {}): Handler {
  const config = parseConfig(env, { signingSecret: true });
  if (config.database.kind !== 'supabase' || config.signingSecret === undefined)
    throw new ConfigError([
      ...(config.database.kind === 'supabase'
        ? []
        : [
            'SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (or SUPABASE_SECRET_KEY) are missing: the edge runtimes write through supabase-js' +
              (config.database.kind === 'postgres' ? ' (DATABASE_URL is for the Node runtime)' : ''),
          ]),
      ...(config.signingSecret === undefined
        ? [
            'CLERK_WEBHOOK_SIGNING_SECRET is missing: set it to the whsec_… signing secret of your Clerk webhook endpoint',
          ]
        : []),
    ]);
  const logger = consoleLogger(config.logLevel);
  const store = supabaseStore(config.database, options.fetch === undefined ? {} : { fetch: options.fetch });
  const app = createApp({
    store,
    signingSecret: config.signingSecret,
    logger,
    ensure: ensureDeps(config, store),
  });
  const base = options.basePath?.replace(/\/+$/, '');
  return async (request) => {
    if (base === undefined || base === '') return app.fetch(request);
    const url = new URL(request.url);
    if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return app.fetch(request);
    url.pathname = url.pathname.slice(base.length) || '/';
    // Not `new Request(url, request)`: that reads request.signal, which Deno warns about.
    const init: RequestInit & { duplex?: 'half' } = { method: request.method, headers: request.headers };
    if (request.body !== null) Object.assign(init, { body: request.body, duplex: 'half' });
    return app.fetch(new Request(url, init));
  };
}

/**
 * The handler an edge entry exports: builds the app once, on the first request.
 * @example export default { fetch: (req: Request, env: Env) => (handler ??= edgeHandler(env))(req) };
 */
export function edgeHandler(env: Env, options: EdgeOptions = {}): Handler {
  let app: Handler | undefined;
  return async (request) => {
    try {
      app ??= edgeApp(env, options);
    } catch (error) {
      const message =
        error instanceof ConfigError ? error.message : `start-up failed: ${(error as Error).message}`;
      console.error(JSON.stringify({ level: 60, service: 'clerk-supabase-sync', msg: message }));
      return Response.json({ error: 'misconfigured: see the logs' }, { status: 500 });
    }
    return app(request);
  };
}
