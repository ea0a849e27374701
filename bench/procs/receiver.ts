/**
 * @module The two comparison receivers (a child process of the bench), on bare `node:http`:
 *
 * - `minimal`: the same Svix signature check as ours (`createVerifier`) and one call of the same SQL entry point (`clerk_sync_apply_event`), the body mapped to a
 *   row without validation, no logging — what ours would cost without its framework, validation and
 *   logging.
 * - `naive`: the tutorial receiver — the library's `Webhook.verify`, then one upsert per table the event touches,
 *   each its own autocommit statement awaited in turn (no transaction, no ledger, no ordering guard).
 *
 * Both use a pool of 10 connections, like `npm start`. Prints `listening <port>` when ready.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { createVerifier } from '../../src/app/verify.ts';
import { childSpec } from '../lib/drive.ts';
import { APPLY_SQL } from '../lib/phase.ts';
import { type Mapped, mapTrusted } from '../lib/workload.ts';

interface Spec {
  mode: 'minimal' | 'naive';
  databaseUrl: string;
  secret: string;
}

const spec = childSpec<Spec>();
const pool = new pg.Pool({
  connectionString: spec.databaseUrl,
  max: 10,
  application_name: `bench-${spec.mode}`,
});
// Idle connections may be terminated between phases (the bench does it to read statistics).
pool.on('error', () => {});
const webhook = new Webhook(spec.secret);
const verifyAsOurs = createVerifier(spec.secret);

/** The verified envelope, or null: minimal checks as ours does on Node, naive as the tutorials do. */
function verified(body: string, headers: Record<string, string>): Envelope | null {
  if (spec.mode === 'minimal') {
    const v = verifyAsOurs(body, headers);
    return v.ok ? (v.payload as Envelope) : null;
  }
  try {
    return webhook.verify(body, {
      'webhook-id': headers['svix-id'] ?? '',
      'webhook-timestamp': headers['svix-timestamp'] ?? '',
      'webhook-signature': headers['svix-signature'] ?? '',
    }) as Envelope;
  } catch {
    return null;
  }
}

interface Envelope {
  type: string;
  timestamp: number;
  data: unknown;
}

const json = (v: unknown) => JSON.stringify(v);

/** The tutorial's writes: one upsert per table, in turn, each committed on its own. */
async function naiveWrites(m: Mapped): Promise<void> {
  const r = m.row;
  if (m.kind === 'user') {
    const u = m.row;
    await pool.query(
      `insert into public.users_public (id, username, first_name, last_name, image_url, created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (id) do update set username = excluded.username, first_name = excluded.first_name,
         last_name = excluded.last_name, image_url = excluded.image_url, created_at = excluded.created_at,
         updated_at = excluded.updated_at`,
      [u.id, u.username, u.first_name, u.last_name, u.image_url, u.created_at, u.updated_at],
    );
    await pool.query(
      `insert into public.users_private (id, email, phone, external_id, public_metadata, unsafe_metadata,
         last_sign_in_at, banned, locked, created_at, updated_at, attrs)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       on conflict (id) do update set email = excluded.email, phone = excluded.phone,
         external_id = excluded.external_id, public_metadata = excluded.public_metadata,
         unsafe_metadata = excluded.unsafe_metadata, last_sign_in_at = excluded.last_sign_in_at,
         banned = excluded.banned, locked = excluded.locked, created_at = excluded.created_at,
         updated_at = excluded.updated_at, attrs = excluded.attrs`,
      [
        u.id,
        u.email,
        u.phone,
        u.external_id,
        json(u.public_metadata),
        json(u.unsafe_metadata),
        u.last_sign_in_at,
        u.banned,
        u.locked,
        u.created_at,
        u.updated_at,
        json(u.attrs),
      ],
    );
  } else if (m.kind === 'organization') {
    const o = m.row;
    await pool.query(
      `insert into public.organizations (id, name, slug, image_url, public_metadata, created_by, created_at,
         updated_at, attrs)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       on conflict (id) do update set name = excluded.name, slug = excluded.slug, image_url = excluded.image_url,
         public_metadata = excluded.public_metadata, created_by = excluded.created_by,
         created_at = excluded.created_at, updated_at = excluded.updated_at, attrs = excluded.attrs`,
      [
        o.id,
        o.name,
        o.slug,
        o.image_url,
        json(o.public_metadata),
        o.created_by,
        o.created_at,
        o.updated_at,
        json(o.attrs),
      ],
    );
  } else {
    const x = m.row;
    await pool.query(
      `insert into public.organization_memberships (id, organization_id, user_id, role, permissions,
         public_metadata, created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8)
       on conflict (id) do update set organization_id = excluded.organization_id, user_id = excluded.user_id,
         role = excluded.role, permissions = excluded.permissions, public_metadata = excluded.public_metadata,
         created_at = excluded.created_at, updated_at = excluded.updated_at`,
      [
        x.id,
        x.organization_id,
        x.user_id,
        x.role,
        x.permissions,
        json(x.public_metadata),
        x.created_at,
        x.updated_at,
      ],
    );
  }
  await pool.query(
    `insert into clerk_sync.private_metadata (kind, id, data, updated_at) values ($1, $2, $3, $4)
     on conflict (kind, id) do update set data = excluded.data, updated_at = excluded.updated_at`,
    [m.kind, r.id, json(r.private_metadata), r.updated_at],
  );
}

function send(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString();
    const envelope = verified(body, req.headers as Record<string, string>);
    if (envelope === null) return send(res, 401, { error: 'invalid signature' });
    const mapped = mapTrusted(envelope);
    if (mapped === null) return send(res, 200, { outcome: 'ignored' });
    try {
      if (spec.mode === 'naive') {
        await naiveWrites(mapped);
        return send(res, 200, { outcome: 'applied' });
      }
      const id = (req.headers as IncomingHttpHeaders)['svix-id'] as string;
      const { rows } = await pool.query<{ value: string }>(APPLY_SQL, [
        id,
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
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.close(() => void pool.end().finally(() => process.exit(0)));
  server.closeAllConnections();
});
