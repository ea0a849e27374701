/**
 * Faults on the real Postgres server: connections killed mid-stream, the database going away and
 * coming back, statement timeouts, serialization failures, the receiver killed between commit and
 * response. Every delivery must be answered 2xx and committed, or 5xx (and then retried until it
 * is): never 2xx and lost, never half-applied.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import type { Database } from '../../src/db/database.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { sqlStore } from '../../src/store/sql.ts';
import { onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';
import { versionHistory } from '../support/history.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { type Delivery, post, SECRET, signed } from '../support/webhooks.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

let t: TestDatabase;
let proxy: TcpProxy;
let viaProxy: string;

beforeAll(async () => {
  if (!onServer) return;
  t = await openTestDatabase();
  const url = new URL(t.url as string);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = `127.0.0.1:${proxy.port}`;
  viaProxy = url.toString();
}, 60_000);
afterAll(async () => {
  await proxy?.close();
  await t?.close();
});
beforeEach(async () => {
  if (onServer) await t.reset();
});

const appOn = (db: Database, timeoutMs = 3_000) =>
  createApp({ store: sqlStore(db), signingSecret: SECRET, logger: silentLogger, timeoutMs });

const history = (objects: number, versions: number) => versionHistory(objects, versions, 'f');

async function deliverAll(app: ReturnType<typeof appOn>, deliveries: Delivery[], concurrency = 16) {
  const statuses = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < deliveries.length) {
        const d = deliveries[next++] as Delivery;
        statuses.set(d.msgId, (await app.request('/webhooks/clerk', post(d))).status);
      }
    }),
  );
  return statuses;
}

async function ledger(): Promise<Set<string>> {
  return new Set(
    (await t.db.query<{ id: string }>('select id from clerk_sync.events')).rows.map((r) => r.id),
  );
}

/** Retries every delivery not yet answered 2xx until it is, as Svix does. */
async function retryUntilAccepted(
  app: ReturnType<typeof appOn>,
  deliveries: Delivery[],
  statuses: Map<string, number>,
) {
  for (let round = 0; round < 20; round++) {
    const pending = deliveries.filter((d) => (statuses.get(d.msgId) ?? 0) >= 300);
    if (pending.length === 0) return round;
    for (const [id, status] of await deliverAll(app, pending, 4)) statuses.set(id, status);
  }
  throw new Error('deliveries still refused after 20 rounds');
}

async function expectConverged(objects: number, versions: number) {
  const users = await t.db.query<{ id: string; first_name: string; priv: string | null }>(
    `select u.id, u.first_name, p.updated_at = u.updated_at as priv
     from public.users_public u left join public.users_private p using (id) order by u.id`,
  );
  expect(users.rows).toHaveLength(objects);
  expect(users.rows.every((r) => r.first_name === `v${versions}` && r.priv)).toBe(true);
  const orgs = await t.db.query<{ name: string }>('select name from public.organizations');
  expect(orgs.rows.every((r) => r.name === `v${versions}`)).toBe(true);
  const mems = await t.db.query<{ role: string }>('select role from public.organization_memberships');
  expect(mems.rows.map((r) => r.role)).toEqual(Array(objects).fill(`org:v${versions}`));
}

describe.runIf(onServer)('faults on the real server', () => {
  it('connections killed and the database cut mid-stream: nothing answered 2xx is lost', async () => {
    const db = pgDatabase(viaProxy, { max: 8, connectionTimeoutMs: 500, statementTimeoutMs: 2_000 });
    const app = appOn(db);
    const deliveries = history(12, 12);
    const faults = { terminated: 0, cuts: 0 };
    let chaos = true;
    const monkey = (async () => {
      while (chaos) {
        await new Promise((r) => setTimeout(r, 40 + Math.random() * 80));
        if (Math.random() < 0.5) {
          const { rows } = await t.db.query<{ n: string }>(
            `select count(pg_terminate_backend(pid)) as n from pg_stat_activity
             where datname = current_database() and application_name = 'clerk-supabase-sync' and pid <> pg_backend_pid()`,
          );
          faults.terminated += Number(rows[0]?.n);
        } else {
          proxy.cut();
          faults.cuts++;
          await new Promise((r) => setTimeout(r, 40));
          proxy.restore();
        }
      }
    })();
    const statuses = await deliverAll(app, deliveries);
    chaos = false;
    await monkey;
    proxy.restore();

    const committed = await ledger();
    const acceptedButLost = [...statuses].filter(([id, s]) => s === 200 && !committed.has(id));
    const refused = [...statuses].filter(([, s]) => s >= 500).length;
    expect(acceptedButLost).toEqual([]);
    expect([...statuses.values()].every((s) => s === 200 || s === 503)).toBe(true);
    expect(faults.terminated + faults.cuts).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    await retryUntilAccepted(app, deliveries, statuses);
    await expectConverged(12, 12);
    console.info(
      `faults: ${deliveries.length} deliveries, ${faults.terminated} backends terminated, ${faults.cuts} cuts, ${refused} answered 503, 0 lost`,
    );
    await db.close();
  }, 60_000);

  it('a statement timeout answers 503 and commits nothing; the retry applies', async () => {
    const db = pgDatabase(t.url as string, { max: 2, statementTimeoutMs: 300 });
    const app = appOn(db);
    const d = signed(sampleEvent('user.created', { id: 'user_timeout' }));
    let status = 0;
    await t.db.transaction(async (tx) => {
      await tx.query("select pg_advisory_xact_lock(hashtextextended('user:user_timeout', 0))");
      status = (await app.request('/webhooks/clerk', post(d))).status;
    });
    expect(status).toBe(503);
    expect((await ledger()).has(d.msgId)).toBe(false);
    expect(await (await app.request('/webhooks/clerk', post(d))).json()).toEqual({ outcome: 'applied' });
    await db.close();
  });

  it('serialization failures (a serializable database) answer 503 and converge on retry', async () => {
    const name = new URL(t.url as string).pathname.slice(1);
    await t.db.query(`alter database ${name} set default_transaction_isolation = 'serializable'`);
    const db = pgDatabase(t.url as string, { max: 16 });
    try {
      const app = appOn(db);
      const deliveries = history(3, 30);
      const statuses = await deliverAll(app, deliveries);
      const refused = [...statuses.values()].filter((s) => s === 503).length;
      const committed = await ledger();
      expect([...statuses].filter(([id, s]) => s === 200 && !committed.has(id))).toEqual([]);
      expect(refused).toBeGreaterThan(0);
      await retryUntilAccepted(app, deliveries, statuses);
      await expectConverged(3, 30);
    } finally {
      await db.close();
      await t.db.query(`alter database ${name} reset default_transaction_isolation`);
    }
  }, 60_000);

  it('the receiver killed between commit and response: the retry is a no-op', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const start = (): ChildProcess =>
      // One process (not the tsx wrapper, which would outlive a SIGKILL in its child).
      spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/node/server.ts')], {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: viaProxy,
          CLERK_WEBHOOK_SIGNING_SECRET: SECRET,
          PORT: String(port),
          LOG_LEVEL: 'warn',
        },
        stdio: 'ignore',
      });
    const ready = async () => {
      for (let i = 0; i < 100; i++) {
        if (
          await fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.ok,
            () => false,
          )
        )
          return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error('receiver did not start');
    };
    let receiver = start();
    await ready();
    const d = signed(sampleEvent('user.created', { id: 'user_killed' }));
    proxy.hold();
    const answer = fetch(`http://127.0.0.1:${port}/webhooks/clerk`, post(d)).then(
      (r) => r.status,
      () => 'no answer',
    );
    const started = Date.now();
    while (!(await ledger()).has(d.msgId) && Date.now() - started < 10_000)
      await new Promise((r) => setTimeout(r, 20));
    expect((await ledger()).has(d.msgId)).toBe(true);
    receiver.kill('SIGKILL');
    expect(await answer).toBe('no answer');
    proxy.restore();

    receiver = start();
    await ready();
    const retry = await fetch(`http://127.0.0.1:${port}/webhooks/clerk`, post(d));
    expect(await retry.json()).toEqual({ outcome: 'duplicate' });
    expect(
      (await t.db.query("select count(*)::int as n from public.users_public where id = 'user_killed'")).rows,
    ).toEqual([{ n: 1 }]);
    receiver.kill('SIGTERM');
  }, 60_000);
});
