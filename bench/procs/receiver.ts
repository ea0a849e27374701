/**
 * @module The minimal receiver (a child process of the bench), what issue 21 compares ours with:
 * bare `node:http`, the same Svix signature check as ours on Node (`createVerifier` with
 * node:crypto's HMAC), the body mapped without validation, one call of the statement
 * `src/store/sql.ts` sends for an event — one transaction per event — over a pool of 10
 * connections like `npm start`, no logging.
 */
import { createServer, type ServerResponse } from 'node:http';
import pg from 'pg';
import { createVerifier } from '../../src/app/verify.ts';
import type { ClerkMembership, ClerkOrganization, ClerkUser } from '../../src/core/events.ts';
import type { KindName } from '../../src/core/kinds.ts';
import { toMembershipRow, toOrganizationRow, toUserRow } from '../../src/core/map.ts';
import { nodeHmac } from '../../src/node/hmac.ts';
import { childSpec } from '../lib/drive.ts';

const APPLY_SQL =
  'select public.clerk_sync_apply_event(event_id => $1, event_type => $2, kind => $3, op => $4, data => $5, occurred_at => $6, failure => $7, payload => $8) as value';

const spec = childSpec<{ databaseUrl: string; secret: string; port: number }>();
const pool = new pg.Pool({ connectionString: spec.databaseUrl, max: 10, application_name: 'bench-minimal' });
// The bench terminates idle sessions to read the server's statistics; the pool reconnects.
pool.on('error', () => {});
const verify = createVerifier(spec.secret, nodeHmac);

/** An upsert event of the workload as the registry's kind and row, the body trusted (no schema check). */
function mapTrusted(e: { type: string; data: unknown }): { kind: KindName; row: unknown } | null {
  if (e.type === 'user.created' || e.type === 'user.updated')
    return { kind: 'user', row: toUserRow(e.data as ClerkUser) };
  if (e.type === 'organization.created' || e.type === 'organization.updated')
    return { kind: 'organization', row: toOrganizationRow(e.data as ClerkOrganization) };
  if (e.type === 'organizationMembership.created' || e.type === 'organizationMembership.updated')
    return { kind: 'membership', row: toMembershipRow(e.data as ClerkMembership) };
  return null;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    const v = verify(Buffer.concat(chunks).toString(), req.headers as Record<string, string>);
    if (!v.ok) return send(res, 401, { error: 'invalid signature' });
    const envelope = v.payload as { type: string; timestamp: number; data: unknown };
    const mapped = mapTrusted(envelope);
    if (mapped === null) return send(res, 200, { outcome: 'ignored' });
    try {
      const { rows } = await pool.query<{ value: string }>(APPLY_SQL, [
        req.headers['svix-id'],
        envelope.type,
        mapped.kind,
        'upsert',
        JSON.stringify(mapped.row),
        new Date(envelope.timestamp).toISOString(),
        null,
        null,
      ]);
      return send(res, 200, { outcome: rows[0]?.value });
    } catch {
      return send(res, 503, { error: 'temporarily unavailable, retry later' });
    }
  });
});
server.keepAliveTimeout = 65_000;
server.listen(spec.port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => void pool.end().finally(() => process.exit(0)));
  server.closeAllConnections();
});
