import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { type BackfillOptions, runBackfill } from '../../src/backfill/backfill.ts';
import { createClerkApi } from '../../src/clerk/api.ts';
import { main } from '../../src/cli/main.ts';
import { userSchema } from '../../src/core/events.ts';
import { KIND_NAMES } from '../../src/core/kinds.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { toUserRow } from '../../src/core/map.ts';
import { createStore, type Store } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { type ClerkStandin, generateClerkData, startClerkStandin } from '../support/clerk-standin.ts';
import { onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';
import { startPostgrest } from '../support/postgrest.ts';
import { post, SECRET, signed } from '../support/webhooks.ts';

const SECRET_KEY = 'sk_test_standin';
const ROOT = new URL('../../', import.meta.url).pathname;

let t: TestDatabase;
let store: Store;
let clerk: ClerkStandin;

beforeAll(async () => {
  t = await openTestDatabase();
  store = createStore(sqlRpc(t.db));
  clerk = await startClerkStandin({
    secretKey: SECRET_KEY,
    data: generateClerkData({ users: 0, organizations: 0, membersPerOrg: 0 }),
  });
}, 60_000);
afterAll(async () => {
  await clerk?.close();
  await t?.close();
});
beforeEach(async () => {
  await t.reset();
  await t.db.query('truncate clerk_sync.backfill_passes, clerk_sync.backfill_seen');
  clerk.data = generateClerkData({ users: 1_234, organizations: 24, membersPerOrg: 25 });
  clerk.stats.requests = 0;
  clerk.latencyMs = 0;
});

const api = () =>
  createClerkApi({ secretKey: SECRET_KEY, apiUrl: clerk.url, rate: { requests: 10_000, windowMs: 1_000 } });
const backfill = (o: Partial<BackfillOptions> = {}) =>
  runBackfill(store, api(), {
    kinds: KIND_NAMES,
    dryRun: false,
    prune: false,
    force: false,
    restart: false,
    ...o,
  });

const ids = async (table: string) =>
  (await t.db.query<{ id: string }>(`select id from public.${table} order by id`)).rows.map((r) => r.id);
const sorted = (items: { id: string }[]) => items.map((i) => i.id).sort();

async function expectMirrorEqualsClerk() {
  expect(await ids('users_public')).toEqual(sorted(clerk.data.users));
  expect(await ids('users_private')).toEqual(sorted(clerk.data.users));
  expect(await ids('organizations')).toEqual(sorted(clerk.data.organizations));
  expect(await ids('organization_memberships')).toEqual(sorted(clerk.data.memberships));
  const mirrored = await t.db.query<{ id: string; first_name: string; updated_at: string }>(
    'select id, first_name, extract(epoch from updated_at) * 1000 as updated_at from public.users_public',
  );
  const byId = new Map(clerk.data.users.map((u) => [u.id, u]));
  for (const row of mirrored.rows) {
    expect(row.first_name).toBe(byId.get(row.id)?.first_name);
    expect(Number(row.updated_at)).toBe(byId.get(row.id)?.updated_at);
  }
}

/** Deletes users in the stand-in as Clerk does: their memberships go with them. */
function deleteClerkUsers(gone: { id: string }[]) {
  const ids = new Set(gone.map((u) => u.id));
  clerk.data.users = clerk.data.users.filter((u) => !ids.has(u.id));
  clerk.data.memberships = clerk.data.memberships.filter(
    (m) => !ids.has((m.public_user_data as { user_id: string }).user_id),
  );
}

function changeClerk() {
  const removed = clerk.data.users.slice(100, 105);
  deleteClerkUsers(removed);
  const { users } = clerk.data;
  for (const u of users.slice(0, 3))
    Object.assign(u, { first_name: 'Renamed', updated_at: u.updated_at + 60_000 });
  const fresh = generateClerkData(
    { users: 4, organizations: 0, membersPerOrg: 0 },
    Date.UTC(2025, 6, 1),
  ).users.map((u, i) => ({
    ...u,
    id: `user_new_${i}`,
  }));
  users.push(...fresh);
  return { removed };
}

describe('backfill into the mirror', () => {
  it('copies every user, organization and membership with one call per page', async () => {
    const before = clerk.stats.requests;
    const summaries = await backfill();
    await expectMirrorEqualsClerk();
    expect(summaries.map((s) => [s.kind, s.fetched, s.inserted, s.failed])).toEqual([
      ['user', 1_234, 1_234, 0],
      ['organization', 24, 24, 0],
      ['membership', 600, 600, 0],
    ]);
    // users: count + 3 pages; organizations: count + 1; memberships: count + 2.
    expect(clerk.stats.requests - before).toBe(4 + 2 + 3);
  });

  it.each([
    ['a page count that divides evenly (the last page comes back empty)', 1_000, 0],
    ['a page in which no item is valid', 1_234, 500],
  ])('%s', async (_label, users, broken) => {
    clerk.data = generateClerkData({ users, organizations: 0, membersPerOrg: 0 });
    for (const u of clerk.data.users.slice(0, broken)) (u as Record<string, unknown>).created_at = 'long ago';
    const [summary] = await backfill({ kinds: ['user'] });
    expect(summary).toMatchObject({ fetched: users, inserted: users - broken, failed: broken });
    expect(await ids('users_public')).toHaveLength(users - broken);
  });

  it('a page is encoded when it is prepared: the objects can be let go before it is sent', async () => {
    const begun = await store.backfillBegin('user', { restart: true, trackSeen: false });
    if (!begun.ok) throw begun.error;
    const user = clerk.data.users[0] as { id: string };
    const row = toUserRow(userSchema.parse(user));
    const prepared = store.prepareRows('user', [row]);
    row.first_name = 'changed after prepareRows';
    expect(prepared.count).toBe(1);
    const applied = await store.backfillPage(
      'user',
      begun.value.pass_id,
      { nextOffset: 1, lastId: user.id },
      prepared,
    );
    expect(applied).toEqual({ ok: true, value: expect.objectContaining({ inserted: 1 }) });
    const { rows } = await t.db.query<{ first_name: string }>('select first_name from public.users_public');
    expect(rows).toEqual([{ first_name: 'First0' }]);
  });

  it('a second run changes nothing', async () => {
    await backfill();
    const again = await backfill();
    expect(again.map((s) => [s.kind, s.unchanged, s.inserted + s.updated])).toEqual([
      ['user', 1_234, 0],
      ['organization', 24, 0],
      ['membership', 600, 0],
    ]);
  });

  it('--dry-run reports what would change and writes nothing; --prune then converges', async () => {
    await backfill();
    const { removed } = changeClerk();
    const before = await t.db.query('select id, updated_at from public.users_public order by id');
    const dry = await backfill({ kinds: ['user'], dryRun: true, prune: true });
    expect(dry[0]).toMatchObject({ inserted: 4, updated: 3, unchanged: 1_226, deleted: 5 });
    expect((await t.db.query('select id, updated_at from public.users_public order by id')).rows).toEqual(
      before.rows,
    );
    expect(
      Number(
        (await t.db.query<{ n: string }>('select count(*) as n from clerk_sync.backfill_passes')).rows[0]?.n,
      ),
    ).toBe(3);

    const real = await backfill({ prune: true });
    expect(real[0]).toMatchObject({ inserted: 4, updated: 3, deleted: 5 });
    await expectMirrorEqualsClerk();
    const tombstoned = await t.db.query(
      "select id from clerk_sync.tombstones where kind = 'user' order by id",
    );
    expect(tombstoned.rows.map((r) => (r as { id: string }).id)).toEqual(sorted(removed));
  });

  it('--prune refuses to delete more than 10% without --force, and prints what would go', async () => {
    await backfill();
    deleteClerkUsers(clerk.data.users.slice(0, 400));
    const refused = await backfill({ kinds: ['user'], prune: true });
    expect(refused[0]?.pruneRefused).toHaveLength(400);
    expect(await ids('users_public')).toHaveLength(1_234);
    const forced = await backfill({ kinds: ['user'], prune: true, force: true });
    expect(forced[0]?.deleted).toBe(400);
    expect(await ids('users_public')).toEqual(sorted(clerk.data.users));
  });

  it('never prunes a row Clerk still has, even when offset paging skipped it', async () => {
    await backfill({ kinds: ['organization'] });
    // Clerk's list omits org_000003 (as when a deletion shifts the pages mid-run), but GET finds it.
    const hidden = clerk.data.organizations.splice(3, 1)[0];
    const summary = await runBackfill(store, api(), {
      kinds: ['organization'],
      dryRun: false,
      prune: true,
      force: true,
      restart: false,
    });
    clerk.data.organizations.push(hidden as (typeof clerk.data.organizations)[number]);
    expect(summary[0]?.deleted).toBe(1);
    expect(await ids('organizations')).toHaveLength(23);
  });

  it('an interrupted run resumes after its last committed page', async () => {
    const abort = new AbortController();
    let pages = 0;
    await expect(
      backfill({
        kinds: ['user'],
        signal: abort.signal,
        onProgress: () => {
          if (++pages === 2) abort.abort();
        },
      }),
    ).rejects.toThrow();
    expect(await ids('users_public')).toHaveLength(1_000);
    const resumed = await backfill({ kinds: ['user'] });
    expect(resumed[0]).toMatchObject({ resumedAt: 1_000, fetched: 234, inserted: 234 });
    expect(await ids('users_public')).toEqual(sorted(clerk.data.users));
    const restarted = await backfill({ kinds: ['user'], restart: true });
    expect(restarted[0]).toMatchObject({ resumedAt: null, fetched: 1_234, unchanged: 1_234 });
  });

  it("a backfill racing live webhooks ends in Clerk's current state", async () => {
    await backfill();
    clerk.latencyMs = 50;
    const app = createApp({ store, signingSecret: SECRET, logger: silentLogger });
    const victims = clerk.data.users.slice(10, 20);
    const renamed = clerk.data.users.slice(500, 510);
    const running = backfill({ kinds: ['user'], restart: true });
    for (const u of renamed) {
      Object.assign(u, { first_name: 'Live', updated_at: u.updated_at + 1_000 });
      await app.request(
        '/webhooks/clerk',
        post(signed({ object: 'event', type: 'user.updated', timestamp: Date.now(), data: u })),
      );
    }
    for (const u of victims) {
      deleteClerkUsers([u]);
      await app.request(
        '/webhooks/clerk',
        post(
          signed({
            object: 'event',
            type: 'user.deleted',
            timestamp: Date.now(),
            data: { object: 'user', id: u.id, deleted: true },
          }),
        ),
      );
    }
    await running;
    await expectMirrorEqualsClerk();
  });

  it('an item Clerk sends in an unexpected shape is counted failed, the rest applied', async () => {
    (clerk.data.users[5] as Record<string, unknown>).updated_at = 'yesterday';
    const [users] = await backfill({ kinds: ['user'] });
    expect(users).toMatchObject({ fetched: 1_234, inserted: 1_233, failed: 1 });
    expect(users?.errors).toEqual([expect.stringMatching(/^user_00000005: updated_at/)]);
  });
});

describe('clerk-sync backfill over supabase-js (SUPABASE_URL + service role key)', () => {
  it('pages Clerk into the mirror through PostgREST, one RPC per page', async () => {
    const rest = await startPostgrest(t.db);
    try {
      const out: string[] = [];
      const code = await main(
        ['backfill', '--json'],
        {
          SUPABASE_URL: rest.url,
          SUPABASE_SERVICE_ROLE_KEY: rest.serviceKey,
          CLERK_SECRET_KEY: SECRET_KEY,
          CLERK_API_URL: clerk.url,
        },
        { out: (l) => out.push(l), err: () => {} },
      );
      expect(code).toBe(0);
      await expectMirrorEqualsClerk();
      expect(rest.calls.filter((c) => c === 'clerk_sync_backfill_page')).toHaveLength(3 + 1 + 2);
    } finally {
      await rest.close();
    }
  });
});

describe.runIf(onServer)('clerk-sync backfill (the command, on the server)', () => {
  const env = () => ({
    ...process.env,
    DATABASE_URL: t.url as string,
    CLERK_SECRET_KEY: SECRET_KEY,
    CLERK_API_URL: clerk.url,
    NO_COLOR: '1',
  });
  const run = promisify(execFile);
  const cli = join(ROOT, 'bin/clerk-sync.mjs');

  it('prints a summary per object and exits 0', async () => {
    const { stdout } = await run(cli, ['backfill', '--json'], { env: env() });
    const { summaries } = JSON.parse(stdout);
    expect(summaries.map((s: { kind: string; fetched: number }) => [s.kind, s.fetched])).toEqual([
      ['users', 1_234],
      ['organizations', 24],
      ['memberships', 600],
    ]);
  });

  it('killed mid-run, it resumes where it stopped', async () => {
    clerk.latencyMs = 150;
    const child = spawn(cli, ['backfill', '--only', 'users'], { env: env(), stdio: 'ignore' });
    const started = Date.now();
    while ((await ids('users_public')).length < 500 && Date.now() - started < 20_000)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const landed = (await ids('users_public')).length;
    expect(landed).toBeGreaterThanOrEqual(500);
    expect(landed).toBeLessThan(1_234);
    clerk.latencyMs = 0;
    const { stdout } = await run(cli, ['backfill', '--only', 'users'], { env: env() });
    expect(stdout).toMatch(/resumed an interrupted run at (500|1000)/);
    expect(await ids('users_public')).toEqual(sorted(clerk.data.users));
  }, 30_000);

  it.each([
    ['a wrong secret key', { CLERK_SECRET_KEY: 'sk_test_wrong' }, /Clerk rejected the secret key/],
    ['no secret key', { CLERK_SECRET_KEY: '' }, /CLERK_SECRET_KEY is missing/],
    ['a bad --only', { ARGS: '--only people' }, /--only takes one of users, organizations, memberships/],
  ])('fails in one line on %s', async (_label, override, pattern) => {
    const { ARGS, ...vars } = override as Record<string, string>;
    const failure = (await run(cli, ['backfill', ...(ARGS ? ARGS.split(' ') : [])], {
      env: { ...env(), ...vars },
    }).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(failure.code).toBe(1);
    expect(failure.stderr.trim().split('\n')).toHaveLength(1);
    expect(failure.stderr).toMatch(pattern);
  });
});

describe('the Clerk stand-in frozen for benchmarks', () => {
  it.each([
    '/users?limit=500&order_by=%2Bcreated_at',
    '/users?limit=500&offset=1000',
    '/users?limit=100&starting_after=user_00000499',
    '/users?limit=500&starting_after=user_00001233',
    '/organizations?limit=1',
    '/organization_memberships?limit=500&offset=100',
  ])('answers %s byte for byte as the live one', async (query) => {
    const data = generateClerkData({ users: 1_234, organizations: 30, membersPerOrg: 7 });
    const live = await startClerkStandin({ secretKey: SECRET_KEY, data });
    const frozen = await startClerkStandin({ secretKey: SECRET_KEY, data, frozen: true });
    try {
      const [a, b] = await Promise.all(
        [live, frozen].map(async (s) => {
          const res = await fetch(`${s.url}${query}`, { headers: { Authorization: `Bearer ${SECRET_KEY}` } });
          return [res.status, await res.text()];
        }),
      );
      expect(b).toEqual(a);
    } finally {
      await live.close();
      await frozen.close();
    }
  });
});
