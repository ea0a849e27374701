import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { parseConfig } from '../../src/core/config.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { nodeDeps } from '../../src/node/deps.ts';
import { SCHEMA_VERSION, type Store, type StoreErrorCode } from '../../src/store/port.ts';
import { serviceClient, supabaseRpc, supabaseStore } from '../../src/store/supabase.ts';
import { membershipRow, orgRow, userRow } from '../fixtures/rows.ts';
import { onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';
import { captureLogs } from '../support/logs.ts';
import { type PostgrestEndpoint, signJwt, startPostgrest } from '../support/postgrest.ts';
import { post, SECRET, signed } from '../support/webhooks.ts';

let t: TestDatabase;
let rest: PostgrestEndpoint;
let store: Store;

// Test-only functions: raise a given SQLSTATE (with a quoted value that must not reach our messages),
// and end the calling backend as an administrator would.
const TEST_FUNCTIONS = `
create function public.clerk_sync_test_raise(sqlstate text) returns text language plpgsql as $$
begin
  raise exception 'refused row for "ada@example.com"' using errcode = sqlstate;
end $$;
grant execute on function public.clerk_sync_test_raise(text) to service_role;
create function public.clerk_sync_test_terminate() returns text language sql security definer as $$
  select pg_terminate_backend(pg_backend_pid())::text
$$;
grant execute on function public.clerk_sync_test_terminate() to service_role;
`;

beforeAll(async () => {
  t = await openTestDatabase();
  await t.db.withSession((s) => s.exec(TEST_FUNCTIONS));
  rest = await startPostgrest(t.db);
  store = supabaseStore({ url: rest.url, serviceKey: rest.serviceKey });
}, 60_000);
afterAll(async () => {
  await rest?.close();
  await t?.close();
});
beforeEach(async () => {
  rest.fault({ kind: 'none' });
  rest.useDatabase(t.db);
  await t.reset();
});

const rows = async (sql: string) => (await t.db.query(sql)).rows;
const rpcVia = (s: Store) =>
  s.applyEvent({
    eventId: 'msg_x',
    type: 'user.created',
    kind: 'user',
    op: 'upsert',
    data: userRow('user_x', 1),
  });

describe('the supabase-js store, through a PostgREST-compatible endpoint on the real database', () => {
  it('applies an event in one RPC call, and answers duplicates and stale versions', async () => {
    const before = rest.calls.length;
    expect(
      await store.applyEvent({
        eventId: 'msg_1',
        type: 'user.created',
        kind: 'user',
        op: 'upsert',
        data: userRow('user_a', 2),
      }),
    ).toEqual({
      ok: true,
      value: 'applied',
    });
    expect(rest.calls.slice(before)).toEqual(['clerk_sync_apply_event']);
    expect(
      await store.applyEvent({
        eventId: 'msg_1',
        type: 'user.created',
        kind: 'user',
        op: 'upsert',
        data: userRow('user_a', 2),
      }),
    ).toEqual({
      ok: true,
      value: 'duplicate',
    });
    expect(
      await store.applyEvent({
        eventId: 'msg_2',
        type: 'user.updated',
        kind: 'user',
        op: 'upsert',
        data: userRow('user_a', 1),
      }),
    ).toEqual({
      ok: true,
      value: 'stale',
    });
    expect(await rows('select id, username from public.users_public')).toEqual([
      { id: 'user_a', username: 'user_a-v2' },
    ]);
  });

  it('stores a failed event with its payload, and lists it back (a set-returning function)', async () => {
    const payload = { type: 'user.created', data: { id: 42 } };
    expect(
      await store.applyEvent({ eventId: 'msg_bad', type: 'user.created', failure: 'bad id', payload }),
    ).toEqual({ ok: true, value: 'failed' });
    const failed = await store.failedEvents();
    expect(failed).toMatchObject({
      ok: true,
      value: [{ id: 'msg_bad', type: 'user.created', payload, error: 'bad id' }],
    });
    expect(await store.failedEvents({ ids: ['msg_other'] })).toEqual({ ok: true, value: [] });
    expect(await store.ledgerStatus()).toMatchObject({ ok: true, value: { failed: 1 } });
  });

  it('upserts and deletes a backfill page in one call each', async () => {
    const before = rest.calls.length;
    expect(await store.upsert('user', [userRow('user_a', 1), userRow('user_b', 1)])).toEqual({
      ok: true,
      value: { inserted: 2, updated: 0, unchanged: 0, stale: 0, deleted: 0 },
    });
    expect(await store.upsert('organization', [orgRow('org_a', 1)])).toMatchObject({
      ok: true,
      value: { inserted: 1 },
    });
    expect(await store.upsert('membership', [membershipRow('orgmem_a', 'org_a', 'user_a', 1)])).toMatchObject(
      {
        ok: true,
        value: { inserted: 1 },
      },
    );
    expect(await store.remove('user', ['user_b'])).toEqual({
      ok: true,
      value: { deleted: 1, tombstoned: 1 },
    });
    expect(rest.calls.slice(before)).toEqual([
      'clerk_sync_upsert',
      'clerk_sync_upsert',
      'clerk_sync_upsert',
      'clerk_sync_delete',
    ]);
  });

  it('reads the schema version', async () => {
    expect(await store.schemaVersion()).toEqual({ ok: true, value: SCHEMA_VERSION });
  });

  it('is what the Node runtime uses when SUPABASE_URL and the service role key are set', async () => {
    const config = parseConfig(
      {
        SUPABASE_URL: rest.url,
        SUPABASE_SERVICE_ROLE_KEY: rest.serviceKey,
        CLERK_WEBHOOK_SIGNING_SECRET: SECRET,
      },
      { signingSecret: true },
    );
    const deps = await nodeDeps(config);
    expect(deps.signingSecret).toBe(SECRET);
    const before = rest.calls.length;
    expect(await deps.store.schemaVersion()).toEqual({ ok: true, value: SCHEMA_VERSION });
    expect(rest.calls.slice(before)).toEqual(['clerk_sync_schema_version']);
  });

  it('serves the app: a signed delivery lands in Postgres, /healthz is ok', async () => {
    const app = createApp({ store, signingSecret: SECRET, logger: captureLogs().logger });
    const res = await app.request(
      '/webhooks/clerk',
      post(signed(sampleEvent('user.created', { id: 'user_app' }))),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ outcome: 'applied' });
    expect(await rows('select id from public.users_public')).toEqual([{ id: 'user_app' }]);
    expect((await app.request('/healthz')).status).toBe(200);
  });
});

describe('PostgREST outcomes → store errors', () => {
  const raise = (sqlstate: string) => supabaseStoreRaw('clerk_sync_test_raise', { sqlstate });

  // Calls any function through the same transport the store uses.
  const supabaseStoreRaw = (fn: string, args: Record<string, unknown>) =>
    supabaseRpc(serviceClient({ url: rest.url, serviceKey: rest.serviceKey }))(fn, args, 'scalar');

  it.each<[string, string, StoreErrorCode]>([
    ['serialization failure (500)', '40001', 'conflict'],
    ['deadlock (500)', '40P01', 'conflict'],
    ['statement timeout (500)', '57014', 'timeout'],
    ['connection failure (503)', '08006', 'unavailable'],
    ['read-only database (500)', '25006', 'unavailable'],
    ['disk full (500)', '53100', 'unavailable'],
    ['idle-session timeout (503)', '57P05', 'unavailable'],
    ['internal error (500)', 'XX000', 'unavailable'],
    ['a raise without our SQLSTATE (400): not a content error', 'P0001', 'unavailable'],
    ['unique violation (409)', '23505', 'rejected'],
    ['invalid parameter (400)', '22023', 'rejected'],
    ['our own refusal of bad content (400)', '22Z01', 'rejected'],
  ])('%s → %s', async (_label, sqlstate, code) => {
    const result = await raise(sqlstate);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(code);
    expect(result.error.sqlstate).toBe(sqlstate);
    expect(result.error.message).toContain(sqlstate);
    expect(result.error.message).not.toContain('ada@example.com');
  });

  it.each<[string, number, string, StoreErrorCode]>([
    [
      '503 no database connection',
      503,
      '{"code":"PGRST001","message":"Database client error. Retrying the connection.","details":null,"hint":null}',
      'unavailable',
    ],
    [
      '504 no pooled connection in time',
      504,
      '{"code":"PGRST003","message":"Timed out acquiring connection from connection pool.","details":null,"hint":null}',
      'timeout',
    ],
    ['502 from the gateway (HTML body)', 502, '<html>bad gateway</html>', 'unavailable'],
    ['500 from the gateway (HTML body)', 500, '<html>internal error</html>', 'unavailable'],
    ['520 from the gateway (HTML body)', 520, '<!DOCTYPE html><title>520</title>', 'unavailable'],
    ['522 from the gateway (HTML body)', 522, '<!DOCTYPE html><title>522</title>', 'unavailable'],
    ['524 from the gateway (HTML body)', 524, '<!DOCTYPE html><title>524</title>', 'unavailable'],
    ['500 without a code', 500, '{"message":"internal"}', 'unavailable'],
    [
      '500 carrying a class-22 code: not trusted as content',
      500,
      '{"code":"22023","message":"x"}',
      'unavailable',
    ],
  ])('HTTP %s → %s', async (_label, status, body, code) => {
    rest.fault({ kind: 'answer', status, body });
    const result = await rpcVia(store);
    expect(result).toMatchObject({ ok: false, error: { code } });
  });

  it('an endpoint that never answers is aborted below Svix’s 15 s → timeout', async () => {
    rest.fault({ kind: 'hang' });
    const quick = supabaseStore({ url: rest.url, serviceKey: rest.serviceKey }, { timeoutMs: 200 });
    const started = Date.now();
    const result = await rpcVia(quick);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result).toMatchObject({ ok: false, error: { code: 'timeout' } });
  });

  it('nothing listening (fetch fails) → unavailable', async () => {
    const gone = supabaseStore({ url: 'http://127.0.0.1:9', serviceKey: rest.serviceKey });
    expect(await rpcVia(gone)).toMatchObject({ ok: false, error: { code: 'unavailable' } });
  });

  it('the database behind the endpoint is unreachable → 503 → unavailable', async () => {
    const unreachable = pgDatabase('postgres://postgres@127.0.0.1:9/none', { connectionTimeoutMs: 1_000 });
    rest.useDatabase(unreachable);
    try {
      expect(await rpcVia(store)).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    } finally {
      await unreachable.close();
    }
  });

  it.runIf(onServer)('the backend is terminated mid-call (pg_terminate_backend) → unavailable', async () => {
    // The endpoint needs its own pool here: the terminated connection is thrown away with it.
    const own = pgDatabase(t.url as string, { max: 2 });
    rest.useDatabase(own);
    try {
      const result = await supabaseStoreRaw('clerk_sync_test_terminate', {});
      expect(result).toMatchObject({ ok: false, error: { code: 'unavailable' } });
      // and the next call goes through again
      expect(await store.schemaVersion()).toEqual({ ok: true, value: SCHEMA_VERSION });
    } finally {
      await own.close();
    }
  });

  it.each<[string, string, RegExp]>([
    ['an unknown key', 'not-a-key', /401.*SUPABASE_SERVICE_ROLE_KEY/],
    ['the anon key (no execute grant)', 'anon', /401.*42501/],
    [
      'a JWT signed with another secret',
      signJwt({ role: 'service_role' }, 'another-secret-another-secret-another-secret'),
      /401/,
    ],
  ])(
    '%s → retried (a misconfiguration, not the content), saying what to fix',
    async (_label, key, message) => {
      const other = supabaseStore({ url: rest.url, serviceKey: key === 'anon' ? rest.anonKey : key });
      const result = await other.schemaVersion();
      expect(result).toMatchObject({ ok: false, error: { code: 'unavailable', retryable: true } });
      if (!result.ok) expect(result.error.message).toMatch(message);
    },
  );

  it('a function that does not exist → 404 → retried, pointing at the migrations', async () => {
    const result = await supabaseStoreRaw('clerk_sync_not_there', {});
    expect(result).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    if (!result.ok) expect(result.error.message).toMatch(/404 PGRST202.*supabase db push/);
  });

  it('the app answers 503 (Svix retries) when the database is down, and 200 once it is back', async () => {
    const app = createApp({ store, signingSecret: SECRET, logger: captureLogs().logger });
    const delivery = signed(sampleEvent('user.created', { id: 'user_retry' }));
    rest.fault({ kind: 'answer', status: 503, body: '{"code":"PGRST001","message":"down"}' });
    expect((await app.request('/webhooks/clerk', post(delivery))).status).toBe(503);
    rest.fault({ kind: 'none' });
    expect((await app.request('/webhooks/clerk', post(delivery))).status).toBe(200);
    expect(await rows('select id from public.users_public')).toEqual([{ id: 'user_retry' }]);
  });
});
