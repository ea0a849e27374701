/**
 * @module `createClerkSyncHandler`: the webhook receiver (createApp) as one Web-standard handler, for
 * any route of any framework. A POST is a delivery whatever the path, a GET the health check. The store
 * comes from the env as for `npm start` — `DATABASE_URL` (one pool per process, shared by every handler
 * and invocation) or `SUPABASE_URL` + service role key — but never the embedded database. The package
 * entries give it the Postgres opener or not (src/index.ts; src/lib/web.ts, for bundles without
 * Node's sockets).
 */
import { type AppDeps, createApp } from '../app/app.ts';
import type { HmacSha256 } from '../app/verify.ts';
import { ConfigError, type Env, parseConfig } from '../core/config.ts';
import type { Logger } from '../core/logger.ts';
import { consoleLogger } from '../edge/logger.ts';
import type { Store } from '../store/port.ts';

export interface ClerkSyncHandlerOptions {
  /** The variables to read (README, "Environment"). Default: `process.env` where there is one. */
  env?: Env;
  /** Default: JSON lines on the console at `LOG_LEVEL`. */
  logger?: Logger;
}

/** `(request) => response`, plus `close()`, which ends the handler's database pool (tests, shutdown). */
export type ClerkSyncHandler = ((request: Request) => Promise<Response>) & { close(): Promise<void> };

type DatabaseTarget =
  | { kind: 'postgres'; url: string }
  | { kind: 'supabase'; url: string; serviceKey: string };

/** Opens the store on a direct Postgres connection (`DATABASE_URL`). */
export type PostgresOpener = (url: string) => Promise<Store>;

// One store per database per process, kept on globalThis so that a module loaded twice (a dev server's
// hot reload, two bundles of one app) still shares one pool.
const STORES = Symbol.for('clerk-supabase-sync.stores');
const holder = globalThis as { [STORES]?: Map<string, Promise<Store>> };
holder[STORES] ??= new Map();
const stores = holder[STORES];

async function openStore(database: DatabaseTarget, postgres: PostgresOpener | undefined): Promise<Store> {
  if (database.kind === 'supabase') {
    const { supabaseStore } = await import('../store/supabase.ts');
    return supabaseStore(database);
  }
  if (postgres === undefined)
    throw new ConfigError([
      "DATABASE_URL cannot be used in this runtime (no Node sockets): set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY instead, or enable Node compatibility (Workers: compatibility_flags = ['nodejs_compat'])",
    ]);
  return postgres(database.url);
}

/** The process's store for `database` (ensureUser shares it with the handler: one pool). */
export function sharedStore(
  database: DatabaseTarget,
  postgres: PostgresOpener | undefined,
): { key: string; store: Promise<Store> } {
  const key = database.kind === 'postgres' ? database.url : `${database.url}\n${database.serviceKey}`;
  let store = stores.get(key);
  if (store === undefined) {
    store = openStore(database, postgres);
    stores.set(key, store);
    store.catch(() => stores.delete(key));
  }
  return { key, store };
}

// Node's native HMAC where the runtime has one (Node, Bun, Deno): ≈15× cheaper than the pure-JS default.
function nativeHmac(): HmacSha256 | undefined {
  const process = (globalThis as { process?: NodeJS.Process }).process;
  const crypto = process?.getBuiltinModule?.('node:crypto');
  if (crypto === undefined) return undefined;
  return (key, data) => crypto.createHmac('sha256', key).update(data).digest('base64');
}

/**
 * Builds the handler; the configuration is read on the first request (a build step that loads the
 * route has no secrets), and a misconfiguration answers 500 with a log line naming what to set.
 * @example export const POST = clerkSyncHandler({}, openPostgres);
 */
export function clerkSyncHandler(
  options: ClerkSyncHandlerOptions,
  postgres?: PostgresOpener,
): ClerkSyncHandler {
  type App = { fetch: (request: Request) => Response | Promise<Response> };
  let app: App | undefined;
  let storeKey: string | undefined;
  let logger = options.logger;

  async function build(): Promise<App> {
    const env = options.env ?? (globalThis as { process?: { env: Env } }).process?.env ?? {};
    const config = parseConfig(env, { signingSecret: true, noEmbedded: true });
    logger ??= consoleLogger(config.logLevel);
    if (config.database.kind === 'embedded' || config.signingSecret === undefined)
      throw new Error('unreachable: parseConfig requires a database and a signing secret here');
    const shared = sharedStore(config.database, postgres);
    const deps: AppDeps = {
      store: await shared.store,
      signingSecret: config.signingSecret,
      logger,
      routes: { webhook: '*', health: '*' },
    };
    const hmac = nativeHmac();
    if (hmac !== undefined) deps.hmac = hmac;
    storeKey = shared.key;
    return createApp(deps);
  }

  let building: Promise<App> | undefined;
  const handler = async (request: Request): Promise<Response> => {
    if (app === undefined) {
      try {
        // One build for a burst of first requests; a failed one is tried again by the next request.
        building ??= build().finally(() => {
          building = undefined;
        });
        app = await building;
      } catch (error) {
        const message =
          error instanceof ConfigError ? error.message : `start-up failed: ${(error as Error).message}`;
        (logger ?? consoleLogger('error')).error({}, `clerk-supabase-sync: ${message}`);
        return Response.json({ error: 'misconfigured: see the logs' }, { status: 500 });
      }
    }
    if (request.method !== 'POST' && request.method !== 'GET' && request.method !== 'HEAD')
      return Response.json({ error: 'method not allowed' }, { status: 405, headers: { allow: 'GET, POST' } });
    return app.fetch(request);
  };
  return Object.assign(handler, {
    async close() {
      if (storeKey === undefined) return;
      const store = stores.get(storeKey);
      stores.delete(storeKey);
      app = undefined;
      storeKey = undefined;
      await (await store)?.close();
    },
  });
}
