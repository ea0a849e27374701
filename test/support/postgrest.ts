/**
 * @module TEST SUPPORT ONLY: a small PostgREST-compatible RPC endpoint, because there is no PostgREST
 * binary for this machine. `POST /rest/v1/rpc/:fn` checks the `apikey` header and the Bearer JWT
 * (HS256, test secret), switches role and `request.jwt.claims` the way PostgREST does (transaction-local
 * `set_config`), calls the real SQL function with named arguments (`json_to_record`, as PostgREST does)
 * and answers with PostgREST's status codes and error body `{code, message, details, hint}`.
 * It listens on a real local port so workerd and Deno can reach it. Not for production.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Database } from '../../src/db/database.ts';

export const JWT_SECRET = 'test-only-jwt-secret-with-at-least-32-characters';

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

/** Signs an HS256 JWT, as Supabase's anon and service role keys are. */
export function signJwt(claims: Record<string, unknown>, secret = JWT_SECRET): string {
  const head = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** Verifies an HS256 JWT; returns its claims, or why it is refused (PostgREST's PGRST301 wording). */
export function verifyJwt(token: string, secret = JWT_SECRET): Record<string, unknown> | string {
  const parts = token.split('.');
  if (parts.length !== 3) return `Expected 3 parts in JWT; got ${parts.length}`;
  const [head, body, sig] = parts as [string, string, string];
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return 'JWSError JWSInvalidSignature';
  try {
    const header = JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg?: string };
    if (header.alg !== 'HS256') return 'JWSError JWSInvalidSignature';
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) return 'JWT expired';
    return claims;
  } catch {
    return 'JWSError (CompactDecodeError Invalid number of parts: Expected 3 parts; got 1)';
  }
}

const YEAR = 365 * 24 * 3600;
const now = () => Math.floor(Date.now() / 1000);
export const SERVICE_ROLE_KEY = signJwt({
  iss: 'supabase',
  role: 'service_role',
  iat: now(),
  exp: now() + YEAR,
});
export const ANON_KEY = signJwt({ iss: 'supabase', role: 'anon', iat: now(), exp: now() + YEAR });

/** What the endpoint does instead of answering normally (outage and slowness drills). */
export type Fault =
  | { kind: 'none' }
  /** Accepts the request and never answers. */
  | { kind: 'hang' }
  /** Answers this status and body verbatim (a gateway's 502/503/504). */
  | { kind: 'answer'; status: number; body: string; contentType?: string };

export interface PostgrestEndpoint {
  /** The SUPABASE_URL to use (`http://127.0.0.1:<port>`). */
  url: string;
  serviceKey: string;
  anonKey: string;
  /** RPC requests received so far (by function name). */
  calls: string[];
  fault(f: Fault): void;
  /** Swaps the database behind the endpoint (e.g. for one whose server is gone). */
  useDatabase(db: Database): void;
  close(): Promise<void>;
}

// PostgREST's SQLSTATE → HTTP status table (docs: references/errors, "HTTP Status Codes").
export function statusFor(code: string, anonymous: boolean): number {
  const exact: Record<string, number> = {
    '23503': 409,
    '23505': 409,
    '25006': 405,
    '53400': 500,
    P0001: 400,
    '42883': 404,
    '42P01': 404,
    '42P17': 500,
    '42501': anonymous ? 401 : 403,
  };
  if (exact[code] !== undefined) return exact[code];
  const byClass: Record<string, number> = {
    '08': 503,
    '09': 500,
    '0L': 403,
    '0P': 403,
    '25': 500,
    '28': 403,
    '2D': 500,
    '38': 500,
    '39': 500,
    '3B': 500,
    '40': 500,
    '53': 503,
    '54': 500,
    '55': 500,
    '57': 500,
    '58': 500,
    F0: 500,
    HV: 500,
    P0: 500,
    XX: 500,
  };
  return byClass[code.slice(0, 2)] ?? 400;
}

interface Fn {
  retset: boolean;
  /** Input parameters, in order, with their types and whether they have a default. */
  params: { name: string; type: string; hasDefault: boolean }[];
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

async function lookup(db: Database, name: string): Promise<Fn[]> {
  const { rows } = await db.query<{
    retset: boolean;
    nargs: number;
    ndefaults: number;
    names: string[] | null;
    modes: string[] | null;
    types: string[];
  }>(
    `select p.proretset as retset, p.pronargs as nargs, p.pronargdefaults as ndefaults,
            p.proargnames as names, p.proargmodes::text[] as modes,
            array(select pg_catalog.format_type(t, null) from unnest(p.proargtypes) t) as types
     from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'public' and p.proname = $1`,
    [name],
  );
  return rows.map((r) => {
    const names = r.names ?? [];
    const inNames =
      r.modes === null
        ? names.slice(0, r.nargs)
        : names.filter((_, i) => 'ibv'.includes(r.modes?.[i] as string));
    return {
      retset: r.retset,
      params: inNames.map((n, i) => ({
        name: n,
        type: r.types[i] as string,
        hasDefault: i >= r.nargs - r.ndefaults,
      })),
    };
  });
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'application/json; charset=utf-8',
) {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
const error = (
  res: ServerResponse,
  status: number,
  e: { code: string; message: string; details?: string | null; hint?: string | null },
) =>
  send(
    res,
    status,
    JSON.stringify({ code: e.code, details: e.details ?? null, hint: e.hint ?? null, message: e.message }),
  );

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Starts the endpoint on 127.0.0.1 (a free port unless given).
 * @example const rest = await startPostgrest(t.db); const store = supabaseStore({ url: rest.url, serviceKey: rest.serviceKey });
 */
export async function startPostgrest(
  db: Database,
  options: { port?: number } = {},
): Promise<PostgrestEndpoint> {
  let current = db;
  let fault: Fault = { kind: 'none' };
  const calls: string[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) error(res, 500, { code: 'PGRST000', message: String(e) });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/rest\/v1\/rpc\/([^/?]+)/.exec(req.url ?? '');
    const body = await readBody(req);
    if (fault.kind === 'hang') return; // the socket stays open until close()
    if (fault.kind === 'answer') return send(res, fault.status, fault.body, fault.contentType);
    if (match === null || req.method !== 'POST')
      return error(res, 404, { code: 'PGRST125', message: `Invalid path specified in request URL` });

    // The API gateway: an apikey must be present and be one of the project's keys.
    const apikey = req.headers.apikey;
    if (typeof apikey !== 'string' || apikey === '')
      return send(
        res,
        401,
        JSON.stringify({
          message: 'No API key found in request',
          hint: 'No `apikey` request header or url param was found.',
        }),
      );
    if (apikey !== SERVICE_ROLE_KEY && apikey !== ANON_KEY)
      return send(
        res,
        401,
        JSON.stringify({
          message: 'Invalid API key',
          hint: 'Double check your Supabase `anon` or `service_role` API key.',
        }),
      );

    // PostgREST: the role comes from the Bearer JWT's `role` claim; no JWT means the anon role.
    let claims: Record<string, unknown> = { role: 'anon' };
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const token = /^Bearer (.+)$/i.exec(auth)?.[1];
      const verified = token === undefined ? 'Missing bearer token' : verifyJwt(token);
      if (typeof verified === 'string') return error(res, 401, { code: 'PGRST301', message: verified });
      claims = verified;
    }
    const role = typeof claims.role === 'string' ? claims.role : 'anon';

    const fn = decodeURIComponent(match[1] as string);
    let args: Record<string, unknown>;
    try {
      const parsed: unknown = body === '' ? {} : JSON.parse(body);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('not an object');
      args = parsed as Record<string, unknown>;
    } catch {
      return error(res, 400, { code: 'PGRST102', message: 'Empty or invalid json' });
    }
    const keys = Object.keys(args);

    try {
      const candidates = IDENT.test(fn) ? await lookup(current, fn) : [];
      const target = candidates.find(
        (c) =>
          keys.every((k) => c.params.some((p) => p.name === k)) &&
          c.params.every((p) => p.hasDefault || keys.includes(p.name)),
      );
      if (target === undefined || !keys.every((k) => IDENT.test(k)))
        return error(res, 404, {
          code: 'PGRST202',
          message: `Could not find the function public.${fn}(${keys.sort().join(', ')}) in the schema cache`,
          details: `Searched for the function public.${fn} with parameters ${keys.join(', ') || 'none'}, but no matches were found in the schema cache.`,
          hint: null,
        });
      const params = target.params.filter((p) => keys.includes(p.name));
      const named = params.map((p) => `${p.name} := _a.${p.name}`).join(', ');
      const from =
        params.length === 0
          ? ''
          : ` from json_to_record($1::json) as _a(${params.map((p) => `${p.name} ${p.type}`).join(', ')})`;
      const call = `public.${fn}(${named})`;
      const sql = target.retset
        ? `select coalesce(json_agg(_r), '[]')::text as body from (select _c.* ${from === '' ? `from ${call} _c` : `${from}, lateral ${call} _c`}) _r`
        : `select to_json(${call})::text as body${from}`;

      const result = await current.transaction(async (tx) => {
        // Exactly what PostgREST runs first in each request's transaction.
        await tx.query(`select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, [
          role,
          JSON.stringify(claims),
        ]);
        return tx.query<{ body: string }>(sql, params.length === 0 ? [] : [JSON.stringify(args)]);
      });
      calls.push(fn);
      return send(res, 200, result.rows[0]?.body ?? 'null');
    } catch (e) {
      const pgError = e as { code?: unknown; message?: string; detail?: string; hint?: string };
      if (typeof pgError.code === 'string' && /^[0-9A-Z]{5}$/.test(pgError.code))
        return error(res, statusFor(pgError.code, role === 'anon'), {
          code: pgError.code,
          message: pgError.message ?? '',
          details: pgError.detail ?? null,
          hint: pgError.hint ?? null,
        });
      // No SQLSTATE: the connection itself failed (server gone, pool closed).
      return error(res, 503, {
        code: 'PGRST001',
        message: 'Database client error. Retrying the connection.',
        details: (e as Error).message ?? String(e),
      });
    }
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    serviceKey: SERVICE_ROLE_KEY,
    anonKey: ANON_KEY,
    calls,
    fault: (f) => {
      fault = f;
    },
    useDatabase: (next) => {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
