import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import type { Queryable } from '../../src/db/database.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { createStore } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { example, withData } from '../fixtures/clerk-examples.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { captureLogs } from '../support/logs.ts';
import { post, SECRET, signed } from '../support/webhooks.ts';

let t: TestDatabase;
let roundTrips = 0;
const logs = captureLogs();
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  t = await openTestDatabase();
  const counting: Queryable = {
    query: (sql, params) => {
      roundTrips++;
      return t.db.query(sql, params);
    },
  };
  app = createApp({ store: createStore(sqlRpc(counting)), signingSecret: SECRET, logger: logs.logger });
}, 60_000);
afterAll(() => t?.close());
beforeEach(() => t.reset());

const deliver = async (payload: unknown, opts: Parameters<typeof signed>[1] = {}, to = app) => {
  const res = await to.request('/webhooks/clerk', post(signed(payload, opts)));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const rows = async (sql: string, params: unknown[] = []) => (await t.db.query(sql, params)).rows;
const count = async (table: string) => Number((await rows(`select count(*) as n from ${table}`))[0]?.n);

const USER = 'user_2g7np7Hrk0SN6kj5EDMLDaKNL0S';
const ORG = 'org_2g7np7Hrk0SN6kj5EDMLDaKNL0S';
const MEMBERSHIP = 'orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S';

describe("Clerk's example payloads, end to end", () => {
  it.each<[string, string[], string, unknown[]]>([
    [
      'user.created',
      ['user.created.json'],
      `select id, first_name, last_name from public.users_public`,
      [{ id: USER, first_name: 'John', last_name: 'Doe' }],
    ],
    [
      'user.created (docs example): primary email picked by id',
      ['user.created.docs-example.json'],
      'select id, email, external_id from public.users_private',
      [{ id: 'user_29w83sxmDNGwOuEthce5gg56FcC', email: 'example@example.org', external_id: '567772' }],
    ],
    [
      'user.updated',
      ['user.created.json', 'user.updated.json'],
      'select id from public.users_public',
      [{ id: USER }],
    ],
    ['user.deleted', ['user.created.json', 'user.deleted.json'], 'select id from public.users_public', []],
    [
      'organization.created',
      ['organization.created.json'],
      'select id, name, slug from public.organizations',
      [{ id: ORG, name: 'Acme Corp', slug: 'acme-corp' }],
    ],
    [
      'organization.updated',
      ['organization.created.json', 'organization.updated.json'],
      'select id from public.organizations',
      [{ id: ORG }],
    ],
    [
      'organization.deleted',
      ['organization.created.json', 'organization.deleted.json'],
      'select id from public.organizations',
      [],
    ],
    [
      'organizationMembership.created',
      ['organizationMembership.created.json'],
      'select id, organization_id, user_id, role, permissions from public.organization_memberships',
      [
        {
          id: MEMBERSHIP,
          organization_id: ORG,
          user_id: 'user_2h8op3Isl1QR7tKu5FGNfaLKEoU',
          role: 'org:member',
          permissions: ['org:posts:read', 'org:posts:write'],
        },
      ],
    ],
    [
      'organizationMembership.updated',
      ['organizationMembership.created.json', 'organizationMembership.updated.json'],
      'select id from public.organization_memberships',
      [{ id: MEMBERSHIP }],
    ],
    [
      'organizationMembership.deleted',
      ['organizationMembership.created.json', 'organizationMembership.deleted.json'],
      'select id from public.organization_memberships',
      [],
    ],
  ])('%s', async (_label, files, query, expected) => {
    for (const file of files) {
      const res = await deliver(example(file));
      expect(res.status).toBe(200);
      expect(['applied', 'stale']).toContain(res.body.outcome);
    }
    expect(await rows(query)).toEqual(expected);
  });
});

describe('delivery semantics through the receiver', () => {
  const user = (version: number, extra: Record<string, unknown> = {}) =>
    withData('user.created.json', {
      updated_at: 1_716_883_200_000 + version,
      username: `v${version}`,
      ...extra,
    });

  it('exactly one database round trip per delivery', async () => {
    for (const payload of [
      user(1),
      user(2),
      example('organization.created.json'),
      example('user.deleted.json'),
    ]) {
      const before = roundTrips;
      expect((await deliver(payload)).status).toBe(200);
      expect(roundTrips - before).toBe(1);
    }
    const before = roundTrips;
    await deliver({ ...example('user.created.json'), type: 'session.created' });
    expect(roundTrips - before).toBe(0);
  });

  it.each<[string, [unknown, unknown], [string, string], string]>([
    ['in order', [user(1), user(2)], ['applied', 'applied'], 'v2'],
    ['out of order: the older arrives second and is stale', [user(2), user(1)], ['applied', 'stale'], 'v2'],
  ])('%s', async (_label, payloads, outcomes, username) => {
    expect((await deliver(payloads[0])).body).toEqual({ outcome: outcomes[0] });
    expect((await deliver(payloads[1])).body).toEqual({ outcome: outcomes[1] });
    expect(await rows('select username from public.users_public')).toEqual([{ username }]);
  });

  it('a redelivered svix-id is a duplicate with no second effect', async () => {
    expect((await deliver(user(1), { msgId: 'msg_once' })).body).toEqual({ outcome: 'applied' });
    expect((await deliver(user(1), { msgId: 'msg_once' })).body).toEqual({ outcome: 'duplicate' });
    expect(await count('clerk_sync.events')).toBe(1);
  });

  it('concurrent deliveries, duplicated and shuffled, end at the newest version', async () => {
    const versions = Array.from({ length: 15 }, (_, i) => i + 1);
    const deliveries = versions.flatMap((v) => [
      signed(user(v), { msgId: `msg_v${v}` }),
      signed(user(v), { msgId: `msg_v${v}` }),
    ]);
    deliveries.sort(() => Math.random() - 0.5);
    const answers = await Promise.all(deliveries.map((d) => app.request('/webhooks/clerk', post(d))));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(await rows('select username from public.users_public')).toEqual([{ username: 'v15' }]);
    expect(await count('clerk_sync.events')).toBe(15);
  });

  it('delete, then a late update: the user stays deleted', async () => {
    await deliver(user(1));
    expect((await deliver(example('user.deleted.json'))).body).toEqual({ outcome: 'applied' });
    expect((await deliver(user(9))).body).toEqual({ outcome: 'stale' });
    expect(await count('public.users_public')).toBe(0);
    expect(await count('public.users_private')).toBe(0);
  });

  it('a membership before its organization is kept, and the organization lands after it', async () => {
    expect((await deliver(example('organizationMembership.created.json'))).body).toEqual({
      outcome: 'applied',
    });
    expect((await deliver(example('organization.created.json'))).body).toEqual({ outcome: 'applied' });
    expect(
      await rows(
        'select m.id, o.name from public.organization_memberships m join public.organizations o on o.id = m.organization_id',
      ),
    ).toEqual([{ id: MEMBERSHIP, name: 'Acme Corp' }]);
  });

  it('an event type we do not mirror is acknowledged and ignored', async () => {
    expect(await deliver({ ...example('user.created.json'), type: 'session.created' })).toEqual({
      status: 200,
      body: { outcome: 'ignored' },
    });
    expect(await count('clerk_sync.events')).toBe(0);
  });

  it.each<[string, string | object]>([
    ['signed garbage (not JSON)', 'definitely { not json'],
    ['a mirrored type with a malformed id', withData('user.created.json', { id: 42 })],
    ['a user without updated_at', withData('user.created.json', { updated_at: undefined })],
    ['an envelope without a type', { data: {} }],
  ])('%s is stored as failed, answered 200, and listed for replay', async (_label, payload) => {
    const d = signed(payload);
    const res = await app.request('/webhooks/clerk', post(d));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ outcome: 'failed' });
    const failed = await rows('select id, error from public.clerk_sync_failed_events()');
    expect(failed).toEqual([{ id: d.msgId, error: expect.any(String) }]);
    expect(await count('public.users_public')).toBe(0);
  });
});

describe('body size', () => {
  const padded = (bytes: number) => {
    const base = JSON.stringify(withData('user.created.json', { pad: '' }));
    return base.replace('"pad":""', `"pad":"${'x'.repeat(bytes - base.length)}"`);
  };

  it('a signed body of exactly 1 MiB is applied', async () => {
    const body = padded(1024 * 1024);
    expect(Buffer.byteLength(body)).toBe(1024 * 1024);
    expect((await app.request('/webhooks/clerk', post(signed(body)))).status).toBe(200);
  });

  it.each([
    ['with Content-Length', false],
    ['chunked, without Content-Length', true],
  ])('one byte more is refused with 413 before verification (%s)', async (_label, chunked) => {
    const d = signed(padded(1024 * 1024 + 1));
    const bytes = new TextEncoder().encode(d.body);
    const body = chunked
      ? new ReadableStream({
          start(controller) {
            for (let i = 0; i < bytes.length; i += 64 * 1024)
              controller.enqueue(bytes.slice(i, i + 64 * 1024));
            controller.close();
          },
        })
      : d.body;
    const headers = chunked ? d.headers : { ...d.headers, 'content-length': String(bytes.length) };
    const res = await app.request('/webhooks/clerk', {
      method: 'POST',
      headers,
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await count('clerk_sync.events')).toBe(0);
  });
});

describe('database trouble', () => {
  it('an unreachable database answers 503; the retry on a healthy one applies once', async () => {
    const dead = pgDatabase('postgres://nobody@127.0.0.1:9/none', { connectionTimeoutMs: 1_000 });
    const down = createApp({ store: createStore(sqlRpc(dead)), signingSecret: SECRET, logger: logs.logger });
    const d = signed(example('user.created.json'));
    const refused = await down.request('/webhooks/clerk', post(d));
    expect(refused.status).toBe(503);
    expect((await down.request('/healthz')).status).toBe(503);
    await dead.close();
    expect(await (await app.request('/webhooks/clerk', post(d))).json()).toEqual({ outcome: 'applied' });
    expect(await (await app.request('/webhooks/clerk', post(d))).json()).toEqual({ outcome: 'duplicate' });
  });

  it('a delivery stuck behind a lock past the deadline answers 503; it commits later and the retry is a no-op', async () => {
    const quick = createApp({
      store: createStore(sqlRpc(t.db)),
      signingSecret: SECRET,
      logger: logs.logger,
      timeoutMs: 300,
    });
    const d = signed(example('user.created.json'));
    let answer: Response | undefined;
    await t.db.transaction(async (tx) => {
      await tx.query("select pg_advisory_xact_lock(hashtextextended('user:' || $1, 0))", [USER]);
      answer = await quick.request('/webhooks/clerk', post(d));
    });
    expect(answer?.status).toBe(503);
    await expect.poll(() => count('public.users_public'), { timeout: 5_000 }).toBe(1);
    expect(await (await app.request('/webhooks/clerk', post(d))).json()).toEqual({ outcome: 'duplicate' });
  });
});

describe('GET /healthz', () => {
  it('200 when the schema is current, 503 naming the fix when it is not', async () => {
    expect(await (await app.request('/healthz')).json()).toEqual({
      status: 'ok',
      schema: expect.any(String),
    });
    const original = (await rows('select public.clerk_sync_schema_version() as v'))[0]?.v as string;
    await t.db.query(
      "create or replace function public.clerk_sync_schema_version() returns text language sql as $$ select '19990101000000' $$",
    );
    try {
      const res = await app.request('/healthz');
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ status: 'schema_outdated', fix: 'run clerk-sync migrate' });
    } finally {
      await t.db.query(
        `create or replace function public.clerk_sync_schema_version() returns text language sql as $$ select '${original}' $$`,
      );
    }
  });
});

describe('logs', () => {
  it('one line per delivery with id, type, object, outcome and ms — and no personal data', async () => {
    const d = signed(example('user.created.docs-example.json'));
    await app.request('/webhooks/clerk', post(d));
    expect(logs.lines().find((l) => l.svix_id === d.msgId)).toMatchObject({
      type: 'user.created',
      object_id: 'user_29w83sxmDNGwOuEthce5gg56FcC',
      outcome: 'applied',
      ms: expect.any(Number),
    });
    expect(logs.text()).not.toMatch(/example@example\.org|\+1555|John|Doe|whsec_/);
  });

  it('sample events carry no personal data into the logs either', async () => {
    await deliver(sampleEvent('user.created'));
    expect(logs.text()).not.toMatch(/@example\.com/);
  });
});
