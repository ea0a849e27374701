/**
 * The fault matrix, on the real server: each case delivers a history at concurrency 16 with
 * Svix-like retries of every non-2xx while a database fault comes and goes — connections refused,
 * an idle-session timeout, a read-only database, statement timeouts, a frozen network path, the
 * restart of a cluster, a gateway answering HTML 5xx in front of PostgREST. Each ends with 0
 * deliveries answered 2xx and not applied, no event stored as failed, and the mirror equal to the
 * final state.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import type { Store } from '../../src/store/port.ts';
import { sqlStore } from '../../src/store/sql.ts';
import { supabaseStore } from '../../src/store/supabase.ts';
import { adminQuery, onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';
import { versionHistory } from '../support/history.ts';
import { startPostgrest } from '../support/postgrest.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { type Delivery, post, SECRET } from '../support/webhooks.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OBJECTS = 6;
// Enough versions that the deliveries are still arriving when a fault begins (~0.1 s in): group
// commit applies a burst of them in a few transactions.
const VERSIONS = 24;

let t: TestDatabase;
let dbName: string;
beforeAll(async () => {
  if (!onServer) return;
  t = await openTestDatabase();
  dbName = new URL(t.url as string).pathname.slice(1);
}, 60_000);
afterAll(() => t?.close());

/**
 * Runs `sql` on the maintenance database, retried: on a busy server (the whole suite at once) the
 * admin connection itself can be refused for a moment, and a fault must always be lifted.
 */
async function admin(sql: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await adminQuery(sql);
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(250);
    }
  }
}
const terminate = (name: string) =>
  `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}' and pid <> pg_backend_pid()`;

const history = (objects: number, versions: number) => versionHistory(objects, versions, 'm');

interface Figures {
  deliveries: number;
  attempts: number;
  refused: number;
  /** From the fault's end to the last delivery accepted. */
  recoveryMs: number;
}

/**
 * Delivers `deliveries` 16 at a time, each retried (after 100 ms) until answered 2xx, while `fault`
 * runs; returns the ids answered 2xx and the figures.
 */
async function deliverThrough(
  app: ReturnType<typeof createApp>,
  deliveries: Delivery[],
  fault: () => Promise<void>,
): Promise<{ accepted: Set<string>; figures: Figures }> {
  const queue = [...deliveries];
  const accepted = new Set<string>();
  let attempts = 0;
  let refused = 0;
  let inFlight = 0;
  let faultOver = 0;
  let lastAccepted = 0;
  const chaos = (async () => {
    await sleep(100);
    try {
      await fault();
    } finally {
      faultOver = Date.now();
    }
  })();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (queue.length > 0 || inFlight > 0 || faultOver === 0) {
        if (Date.now() - started > 150_000) throw new Error('deliveries still refused after 150 s');
        const d = queue.shift();
        if (d === undefined) {
          await sleep(20);
          continue;
        }
        inFlight++;
        attempts++;
        const status = (await app.request('/webhooks/clerk', post(d))).status;
        inFlight--;
        if (status < 300) {
          accepted.add(d.msgId);
          lastAccepted = Date.now();
        } else {
          refused++;
          await sleep(100);
          queue.push(d);
        }
        await sleep(5); // spread the deliveries over the fault
      }
    }),
  );
  await chaos;
  return {
    accepted,
    figures: {
      deliveries: deliveries.length,
      attempts,
      refused,
      recoveryMs: Math.max(0, lastAccepted - faultOver),
    },
  };
}

async function expectApplied(db: Database, accepted: Set<string>, deliveries: Delivery[]): Promise<void> {
  const ledger = new Map(
    (await db.query<{ id: string; status: string }>('select id, status from clerk_sync.events')).rows.map(
      (r) => [r.id, r.status],
    ),
  );
  const notApplied = [...accepted].filter(
    (id) => !['applied', 'stale'].includes(ledger.get(id) ?? 'missing'),
  );
  expect(notApplied).toEqual([]);
  expect(accepted.size).toBe(deliveries.length);
  const users = await db.query<{ first_name: string; same: boolean }>(
    `select u.first_name, p.updated_at = u.updated_at as same
     from public.users_public u join public.users_private p using (id)`,
  );
  expect(users.rows).toEqual(Array(OBJECTS).fill({ first_name: `v${VERSIONS}`, same: true }));
  const orgs = await db.query<{ name: string }>('select name from public.organizations');
  expect(orgs.rows).toEqual(Array(OBJECTS).fill({ name: `v${VERSIONS}` }));
  const mems = await db.query<{ role: string }>('select role from public.organization_memberships');
  expect(mems.rows).toEqual(Array(OBJECTS).fill({ role: `org:v${VERSIONS}` }));
}

const report = (name: string, f: Figures) =>
  console.info(
    `fault matrix: ${name}: ${f.deliveries} deliveries, ${f.attempts} attempts, ${f.refused} answered 5xx, 0 answered 2xx and not applied, accepted all ${f.recoveryMs} ms after the fault ended`,
  );

/** A pool over `url` with timeouts short enough for a test (the same mechanisms as production). */
const pool = (url: string) =>
  pgDatabase(url, {
    max: 8,
    connectionTimeoutMs: 1_000,
    statementTimeoutMs: 1_000,
    applicationName: 'fault-matrix',
  });
const appOn = (store: Store) =>
  createApp({ store, signingSecret: SECRET, logger: silentLogger, timeoutMs: 3_000 });

async function matrixCase(
  name: string,
  fault: () => Promise<void>,
  options: { db?: Database; url?: string; store?: (db: Database) => Store } = {},
): Promise<void> {
  const db = options.db ?? t.db;
  await db.query(
    `truncate public.users_public, public.users_private, public.organizations, public.organization_memberships,
       clerk_sync.events, clerk_sync.tombstones, clerk_sync.private_metadata`,
  );
  const own = pool(options.url ?? (t.url as string));
  try {
    const app = appOn(options.store ? options.store(own) : sqlStore(own));
    const deliveries = history(OBJECTS, VERSIONS);
    const { accepted, figures } = await deliverThrough(app, deliveries, fault);
    await expectApplied(db, accepted, deliveries);
    expect(figures.refused).toBeGreaterThan(0);
    report(name, figures);
  } finally {
    await own.close();
  }
}

describe.runIf(onServer)('fault matrix (real server, concurrency 16, Svix-like retries)', () => {
  it('connections refused: allow_connections false and backends terminated', async () => {
    await matrixCase('connections refused', async () => {
      await admin(`alter database ${dbName} with allow_connections false`);
      await admin(terminate(dbName));
      await sleep(1_500);
      await admin(`alter database ${dbName} with allow_connections true`);
    });
  }, 180_000);

  it('idle-session timeout (57P05)', async () => {
    await matrixCase('idle-session timeout', async () => {
      await admin(`alter database ${dbName} set idle_session_timeout = '50ms'`);
      // Group commit keeps few connections busy, and a busy one never idles: sessions are also
      // ended under load, every 100 ms, so that deliveries in flight meet the fault too.
      for (let i = 0; i < 15; i++) {
        await admin(terminate(dbName));
        await sleep(100);
      }
      await admin(`alter database ${dbName} reset idle_session_timeout`);
      await admin(terminate(dbName));
    });
  }, 180_000);

  it('read-only database (25006, what a full disk looks like on Supabase)', async () => {
    await matrixCase('read-only database', async () => {
      await admin(`alter database ${dbName} set default_transaction_read_only = on`);
      await admin(terminate(dbName));
      await sleep(1_500);
      await admin(`alter database ${dbName} reset default_transaction_read_only`);
      await admin(terminate(dbName));
    });
  }, 180_000);

  it('statement timeouts (57014): the objects locked longer than the timeout', async () => {
    await matrixCase('statement timeout', async () => {
      const locker = new pg.Client({ connectionString: t.url as string });
      await locker.connect();
      try {
        const keys = Array.from({ length: OBJECTS }, (_, o) => [
          `user:user_m${o}`,
          `organization:org_m${o}`,
          `membership:orgmem_m${o}`,
        ]).flat();
        // In key order, as every writer locks: deliveries in flight hold some of these keys.
        await locker.query(
          'select pg_advisory_lock(k) from (select hashtextextended(k, 0) as k from unnest($1::text[]) k order by 1) s',
          [keys],
        );
        await sleep(2_500);
      } finally {
        await locker.end();
      }
    });
  }, 180_000);

  it('a frozen network path: the database stops answering without closing', async () => {
    const url = new URL(t.url as string);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.host = `127.0.0.1:${proxy.port}`;
    try {
      await matrixCase(
        'frozen TCP path',
        async () => {
          proxy.hold();
          await sleep(3_000);
          proxy.restore();
        },
        { url: url.toString() },
      );
    } finally {
      await proxy.close();
    }
  }, 180_000);

  it('supabase-js through a gateway answering 500/520/522/524 HTML', async () => {
    const rest = await startPostgrest(t.db);
    try {
      await matrixCase(
        'gateway 5xx HTML (supabase-js)',
        async () => {
          for (const status of [500, 520, 522, 524]) {
            rest.fault({
              kind: 'answer',
              status,
              body: `<!DOCTYPE html><title>${status}</title>`,
              contentType: 'text/html',
            });
            await sleep(400);
          }
          rest.fault({ kind: 'none' });
        },
        { store: () => supabaseStore({ url: rest.url, serviceKey: rest.serviceKey }, { timeoutMs: 2_000 }) },
      );
    } finally {
      await rest.close();
    }
  }, 180_000);

  // pg_createcluster (Debian's postgresql-common) creates clusters as the postgres user: it needs root.
  const clusterSkip = !existsSync('/usr/bin/pg_createcluster')
    ? 'pg_createcluster is not installed'
    : process.getuid?.() !== 0
      ? 'pg_createcluster needs root'
      : undefined;
  it.skipIf(clusterSkip !== undefined)(
    `the restart of a cluster the test owns (pg_createcluster)${clusterSkip ? ` — skipped: ${clusterSkip}` : ''}`,
    async () => {
      const cluster = `clerk_sync_fault_${process.pid}`;
      const port = await new Promise<number>((resolve) => {
        const s = createServer().listen(0, () => {
          const p = (s.address() as { port: number }).port;
          s.close(() => resolve(p));
        });
      });
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      try {
        await run('pg_createcluster', ['15', cluster, '--port', String(port), '--', '--auth=trust']);
        await run('pg_ctlcluster', ['15', cluster, 'start']);
        const db = pgDatabase(url, { max: 2 });
        try {
          await migrate(db);
          await matrixCase(
            'cluster restart',
            async () => {
              await run('pg_ctlcluster', ['15', cluster, 'stop', '-m', 'fast']);
              await sleep(1_000);
              await run('pg_ctlcluster', ['15', cluster, 'start']);
            },
            { db, url },
          );
        } finally {
          await db.close();
        }
      } finally {
        await run('pg_dropcluster', ['--stop', '15', cluster]).catch(() => {});
      }
    },
    180_000,
  );
});
