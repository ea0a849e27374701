/**
 * Content Postgres cannot hold, through the receiver: it is sanitized and applied (a later update
 * still applies), or — when it cannot apply at all — stored whole as failed with its reason class.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { fromHex } from '../../src/store/failure.ts';
import { createStore } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import fullUser from '../fixtures/clerk-user-full.json' with { type: 'json' };
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { captureLogs } from '../support/logs.ts';
import { post, signed } from '../support/webhooks.ts';

let t: TestDatabase;
const logs = captureLogs();
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  t = await openTestDatabase();
  app = createApp({
    store: createStore(sqlRpc(t.db)),
    signingSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    logger: logs.logger,
  });
}, 60_000);
afterAll(() => t?.close());
beforeEach(() => t.reset());

const deliver = async (body: unknown) => {
  const d = signed(body);
  const res = await app.request('/webhooks/clerk', post(d));
  return { id: d.msgId, status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const one = async (sql: string) => (await t.db.query<Record<string, unknown>>(sql)).rows[0];
const user = (patch: Record<string, unknown>, now = Date.UTC(2026, 0, 1)) => {
  const e = sampleEvent('user.updated', { id: 'user_c', now });
  return { ...e, data: { ...e.data, ...patch } };
};

describe('content Postgres cannot hold is sanitized and applied', () => {
  it('NUL and lone surrogates in names and metadata (keys too); the next update still applies', async () => {
    const r = await deliver(
      user({
        first_name: 'A\u0000da',
        last_name: 'x\uD800y',
        unsafe_metadata: { 'k\u0000': ['\uDC00', { n: 'a\u0000' }] },
      }),
    );
    expect(r).toMatchObject({ status: 200, body: { outcome: 'applied' } });
    expect(
      await one(
        'select u.first_name, u.last_name, p.unsafe_metadata from public.users_public u join public.users_private p using (id)',
      ),
    ).toEqual({
      first_name: 'Ada',
      last_name: 'x\uFFFDy',
      unsafe_metadata: { k: ['\uFFFD', { n: 'a' }] },
    });
    expect((await deliver(user({ first_name: 'Bea' }, Date.UTC(2026, 0, 2)))).body).toEqual({
      outcome: 'applied',
    });
    expect(await one('select first_name from public.users_public')).toEqual({ first_name: 'Bea' });
  });

  it.each([
    ['a far-future last_sign_in_at is null', { last_sign_in_at: 8.64e15 }, 'last_sign_in_at', null],
    ['past what a Date holds: null', { last_sign_in_at: 9e15 }, 'last_sign_in_at', null],
    [
      'a far-future updated_at is clamped to 9999-12-31',
      { updated_at: 253_402_400_000_000 },
      'updated_at',
      '9999-12-31 23:59:59.999+00',
    ],
  ])('%s', async (_label, patch, column, expected) => {
    expect((await deliver(user(patch))).body).toEqual({ outcome: 'applied' });
    const row = await one(`select ${column}::text as v from public.users_private`);
    expect(row?.v).toBe(expected);
  });

  it('an envelope timestamp that is missing, a string or impossible never fails the event', async () => {
    for (const timestamp of [undefined, 'yesterday', 1e300, -5])
      expect((await deliver({ ...user({}), timestamp })).body).toEqual({
        outcome: expect.stringMatching(/applied|stale/),
      });
    expect(await one('select count(*)::int as n from clerk_sync.events where status = $$failed$$')).toEqual({
      n: 0,
    });
  });

  it("no private_metadata at any depth in attrs: the spec's full User, with organization_memberships", async () => {
    const body = { object: 'event', type: 'user.created', timestamp: Date.now(), data: fullUser };
    expect((await deliver(body)).body).toEqual({ outcome: 'applied' });
    const attrs = (await one('select attrs from public.users_private'))?.attrs as Record<string, unknown>;
    expect(JSON.stringify(attrs)).not.toMatch(/private_metadata|-private/);
    expect(attrs.organization_memberships).toEqual([
      expect.objectContaining({
        role: expect.any(String),
        organization: expect.objectContaining({ id: expect.any(String) }),
      }),
    ]);
    expect(await one("select data from clerk_sync.private_metadata where kind = 'user'")).toEqual({
      data: { secret: 'top-private' },
    });
  });

  it('a membership delete without public_user_data deletes the membership', async () => {
    const created = sampleEvent('organizationMembership.created', {
      id: 'orgmem_c',
      orgId: 'org_c',
      userId: 'user_c',
    });
    await deliver(created);
    const deleted = {
      ...created,
      type: 'organizationMembership.deleted',
      data: { object: 'organization_membership', id: 'orgmem_c' },
    };
    expect((await deliver(deleted)).body).toEqual({ outcome: 'applied' });
    expect(await one('select count(*)::int as n from public.organization_memberships')).toEqual({ n: 0 });
  });
});

describe('content that can never apply is stored whole, with its reason class', () => {
  it.each([
    ['not JSON (with a NUL byte)', 'not json \u0000', 'not_json'],
    ['an invalid event carrying \\u0000', { ...user({ created_at: 'a\u0000b' }) }, 'invalid_event'],
    [
      'nested deeper than jsonb parses',
      { ...user({ created_at: 'x' }), deep: JSON.parse(`${'['.repeat(3_000)}${']'.repeat(3_000)}`) },
      'invalid_event',
    ],
  ])('%s', async (_label, payload, reason) => {
    const r = await deliver(payload);
    expect(r).toMatchObject({ status: 200, body: { outcome: 'failed' } });
    const [failed] = (
      await t.db.query<{ reason: string; payload: unknown; payload_hex: string | null }>(
        'select reason, payload, payload_hex from public.clerk_sync_failed_events()',
      )
    ).rows;
    expect(failed?.reason).toBe(reason);
    const kept = failed?.payload_hex == null ? JSON.stringify(failed?.payload) : fromHex(failed.payload_hex);
    expect(kept).toBe(typeof payload === 'string' ? payload : JSON.stringify(payload));
    expect(
      logs
        .lines()
        .filter((l) => l.msg === `webhook stored as failed (${reason})`)
        .at(-1),
    ).toMatchObject({ reason, svix_id: r.id });
  });
});
