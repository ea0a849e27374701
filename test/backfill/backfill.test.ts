import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { type BackfillOptions, runBackfill } from '../../src/backfill/backfill.ts';
import { createClerkApi } from '../../src/clerk/api.ts';
import { main } from '../../src/cli/main.ts';
import { userSchema } from '../../src/core/events.ts';
import { BACKFILL_KINDS } from '../../src/core/kinds.ts';
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
  clerk.cursor = 'honour';
  clerk.beforeAnswer = null;
  clerk.failWith = null;
});

const api = () =>
  createClerkApi({ secretKey: SECRET_KEY, apiUrl: clerk.url, rate: { requests: 10_000, windowMs: 1_000 } });
const backfill = (o: Partial<BackfillOptions> = {}) =>
  runBackfill(store, api(), {
    kinds: BACKFILL_KINDS,
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
      ['role', 2, 2, 0],
      ['permission', 3, 3, 0],
      ['invitation', 24, 24, 0],
      ['domain', 24, 24, 0],
      ['plan', 2, 2, 0],
      ['subscriptionItem', 13, 13, 0],
    ]);
    // users: count + 3 pages; organizations: count + 1; memberships: count + 2; the six others: count + 1.
    expect(clerk.stats.requests - before).toBe(4 + 2 + 3 + 6 * 2);
  });

  it('billing: plans with their features, and every subscription item (free ones too), then pruned', async () => {
    const rows = async (sql: string) => (await t.db.query(sql)).rows;
    await backfill({ kinds: ['user', 'organization', 'plan', 'subscriptionItem'] });
    expect(
      await rows(
        'select id, slug, payer_type, is_default, features, amount, currency from public.billing_plans order by id',
      ),
    ).toEqual([
      {
        id: 'cplan_free_user',
        slug: 'free_user',
        payer_type: 'user',
        is_default: true,
        features: ['basic'],
        amount: expect.anything(),
        currency: 'USD',
      },
      {
        id: 'cplan_pro',
        slug: 'pro',
        payer_type: 'org',
        is_default: false,
        features: ['basic', 'exports', 'sso'],
        amount: expect.anything(),
        currency: 'USD',
      },
    ]);
    const items = clerk.data.subscriptionItems ?? [];
    expect(await ids('billing_subscription_items')).toEqual(sorted(items));
    expect(
      await rows(
        "select user_id, organization_id, plan_slug from public.billing_subscription_items where id in ('csub_item_000000', 'csub_item_000100') order by id",
      ),
    ).toEqual([
      { user_id: 'user_00000000', organization_id: null, plan_slug: 'free_user' },
      { user_id: null, organization_id: 'org_000000', plan_slug: 'pro' },
    ]);
    // The mirror answers entitlements from what was copied.
    expect(
      await rows(
        `select public.has_feature('org_000000', 'sso', to_timestamp(${(items[0]?.period_start as number) / 1000 + 60})) as org,
                public.has_feature('user_00000000', 'sso', to_timestamp(${(items[0]?.period_start as number) / 1000 + 60})) as usr,
                public.active_plan('user_00000000', to_timestamp(${(items[0]?.period_start as number) / 1000 + 60})) as plan`,
      ),
    ).toEqual([{ org: true, usr: false, plan: 'free_user' }]);

    // A second run: the items are unchanged; the plans, without a timestamp, are dated anew.
    const again = await backfill({ kinds: ['plan', 'subscriptionItem'] });
    expect(again.map((s) => [s.kind, s.inserted, s.updated, s.unchanged])).toEqual([
      ['plan', 0, 2, 0],
      ['subscriptionItem', 0, 0, 13],
    ]);

    // Clerk drops the Pro plan and one item, and cancels another.
    clerk.data.plans = (clerk.data.plans ?? []).filter((p) => p.id !== 'cplan_pro');
    const [gone, canceled] = items.splice(10, 2);
    Object.assign(canceled as object, {
      status: 'canceled',
      updated_at: (canceled?.updated_at as number) + 1,
    });
    items.push(canceled as (typeof items)[number]);
    const pruned = await backfill({ kinds: ['plan', 'subscriptionItem'], prune: true, force: true });
    expect(pruned.map((s) => [s.kind, s.updated, s.deleted])).toEqual([
      ['plan', 1, 1],
      ['subscriptionItem', 1, 1],
    ]);
    expect(await ids('billing_plans')).toEqual(['cplan_free_user']);
    expect(await ids('billing_subscription_items')).not.toContain(gone?.id);
    expect(
      await rows(`select status from public.billing_subscription_items where id = '${canceled?.id}'`),
    ).toEqual([{ status: 'canceled' }]);
  });

  it("asks Clerk for the free plans' subscription items too (include_free=true)", async () => {
    const paths: string[] = [];
    clerk.beforeAnswer = (url) => {
      if (url.pathname.endsWith('/billing/subscription_items')) paths.push(url.search);
    };
    await backfill({ kinds: ['subscriptionItem'] });
    expect(paths.length).toBeGreaterThan(0);
    for (const search of paths) expect(new URLSearchParams(search).get('include_free')).toBe('true');
    expect(await ids('billing_subscription_items')).toHaveLength(13);
  });

  it('roles (keys org:-prefixed, with their grants), permissions, invitations and domains, then pruned', async () => {
    const kinds = ['role', 'permission', 'invitation', 'domain'] as const;
    await backfill();
    expect(
      (await t.db.query('select key from public.organization_roles order by key')).rows.map((r) => r.key),
    ).toEqual(['org:admin', 'org:member']);
    const grants = await t.db.query<{ role_id: string; n: number }>(
      'select role_id, count(*)::int as n from public.organization_role_permissions group by 1 order by 1',
    );
    expect(grants.rows).toEqual([
      { role_id: 'role_admin', n: 3 },
      { role_id: 'role_member', n: 1 },
    ]);
    expect(
      (await t.db.query('select id from clerk_sync.organization_invitations order by id')).rows.map(
        (r) => r.id,
      ),
    ).toEqual(sorted(clerk.data.invitations ?? []));
    expect(await ids('organization_domains')).toEqual(sorted(clerk.data.domains ?? []));
    // Clerk loses one of each; an invitation accepted meanwhile is a newer version.
    (clerk.data.roles ?? []).pop();
    (clerk.data.permissions ?? []).pop();
    (clerk.data.invitations ?? []).splice(0, 1);
    (clerk.data.domains ?? []).splice(0, 1);
    const accepted = (clerk.data.invitations ?? [])[0] as Record<string, unknown> & { updated_at: number };
    Object.assign(accepted, {
      status: 'accepted',
      user_id: 'user_00000001',
      updated_at: accepted.updated_at + 1,
    });
    const pruned = await backfill({ kinds: [...kinds], prune: true, force: true });
    expect(pruned.map((s) => [s.kind, s.updated, s.deleted])).toEqual([
      ['role', 0, 1],
      ['permission', 0, 1],
      ['invitation', 1, 1],
      ['domain', 0, 1],
    ]);
    expect(
      (await t.db.query('select id from public.organization_roles order by id')).rows.map((r) => r.id),
    ).toEqual(sorted(clerk.data.roles ?? []));
    expect(await ids('organization_permissions')).toEqual(sorted(clerk.data.permissions ?? []));
    expect(
      (await t.db.query('select id from clerk_sync.organization_invitations order by id')).rows.map(
        (r) => r.id,
      ),
    ).toEqual(sorted(clerk.data.invitations ?? []));
    expect(await ids('organization_domains')).toEqual(sorted(clerk.data.domains ?? []));
    expect(
      (await t.db.query('select status from public.organization_invitations where id = $1', [accepted.id]))
        .rows,
    ).toEqual([{ status: 'accepted' }]);
    // The deleted permission's grants went with it.
    expect(
      (
        await t.db.query(
          "select count(*)::int as n from public.organization_role_permissions where permission_id = 'perm_delete'",
        )
      ).rows,
    ).toEqual([{ n: 0 }]);
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
      ['role', 2, 0],
      ['permission', 3, 0],
      ['invitation', 24, 0],
      ['domain', 24, 0],
      // Clerk's plans carry no timestamp: each run dates them anew.
      ['plan', 0, 2],
      ['subscriptionItem', 13, 0],
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
    ).toBe(BACKFILL_KINDS.length);

    const real = await backfill({ prune: true });
    expect(real[0]).toMatchObject({ inserted: 4, updated: 3, deleted: 5 });
    await expectMirrorEqualsClerk();
    const tombstoned = await t.db.query(
      "select id from clerk_sync.tombstones where kind = 'user' order by id",
    );
    expect(tombstoned.rows.map((r) => (r as { id: string }).id)).toEqual(sorted(removed));
  });

  it('--prune --dry-run predicts the real run: every count, and the guard decision', async () => {
    clerk.data = generateClerkData({ users: 300, organizations: 12, membersPerOrg: 25 });
    await backfill();
    // 20 users and 1 organization deleted in Clerk (their memberships with them), no webhook seen.
    deleteClerkUsers(clerk.data.users.slice(10, 30));
    const org = clerk.data.organizations.splice(11, 1)[0] as { id: string };
    clerk.data.memberships = clerk.data.memberships.filter(
      (m) => (m.organization as { id: string }).id !== org.id,
    );
    // Its invitations and domains go with it, in Clerk as in the mirror.
    clerk.data.invitations = (clerk.data.invitations ?? []).filter((i) => i.organization_id !== org.id);
    clerk.data.domains = (clerk.data.domains ?? []).filter((d) => d.organization_id !== org.id);
    const orphans = (await ids('organization_memberships')).length - clerk.data.memberships.length;
    expect(orphans).toBeGreaterThan(30); // over 10 % of the memberships: a naive preview refuses

    const counts = (summaries: Awaited<ReturnType<typeof backfill>>) =>
      summaries.map(({ resumedAt: _r, ...rest }) => rest);
    const dry = await backfill({ prune: true, dryRun: true });
    const real = await backfill({ prune: true });
    expect(counts(dry)).toEqual(counts(real));
    expect(real.map((s) => [s.kind, s.deleted, s.pruneRefused.length])).toEqual([
      ['user', 20, 0],
      ['organization', 1, 0],
      ['membership', 0, 0],
      ['role', 0, 0],
      ['permission', 0, 0],
      ['invitation', 0, 0],
      ['domain', 0, 0],
      ['plan', 0, 0],
      ['subscriptionItem', 0, 0],
    ]);
    await expectMirrorEqualsClerk();
  });

  it.each([
    ['ignores', 'ignore', 'cursor_ignored'],
    ['refuses', 'refuse', 'cursor_refused'],
  ] as const)(
    'converges when Clerk %s the users cursor, and says how it paged',
    async (_l, cursor, fallback) => {
      clerk.cursor = cursor;
      const [users] = await backfill({ kinds: ['user'] });
      expect(users).toMatchObject({
        fetched: 1_234,
        inserted: 1_234,
        paging: { mode: 'offset', fallback, at: 500 },
      });
      await expect(ids('users_public')).resolves.toEqual(sorted(clerk.data.users));
    },
  );

  it('converges when Clerk stops honouring the cursor mid-run, deleting users meanwhile', async () => {
    clerk.beforeAnswer = (url) => {
      if (!url.search.includes('starting_after=user_00000999')) return;
      clerk.beforeAnswer = null;
      clerk.cursor = 'ignore';
      deleteClerkUsers(clerk.data.users.slice(0, 80)); // shifts every offset by more than the overlap
    };
    const [users] = await backfill({ kinds: ['user'] });
    expect(users?.paging).toEqual({ mode: 'offset', fallback: 'cursor_ignored', at: 1_000 });
    const mirrored = new Set(await ids('users_public'));
    expect(clerk.data.users.filter((u) => !mirrored.has(u.id))).toEqual([]);
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
  }, 20_000); // three passes and 400 confirmations: past 5 s on a loaded machine, and then the next test races it

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

  it('a failed fetch of the next page, while a page is applied, ends the run after that page commits', async () => {
    // Page 2 is fetched while page 1 is applied (paging runs a page ahead); Clerk refuses it.
    let usersPages = 0;
    clerk.latencyMs = 20;
    clerk.beforeAnswer = (url) => {
      if (url.pathname.endsWith('/users') && ++usersPages === 2) clerk.failWith = 401;
    };
    let applied = 0;
    await expect(
      backfill({
        kinds: ['user'],
        onProgress: () => {
          applied++;
        },
      }),
    ).rejects.toThrow(/401/);
    expect(applied).toBe(1);
    expect(await ids('users_public')).toEqual(sorted(clerk.data.users).slice(0, 500));
    const checkpoint = await t.db.query(
      "select next_offset from clerk_sync.backfill_passes where kind = 'user'",
    );
    expect(checkpoint.rows).toEqual([{ next_offset: 500 }]);
    clerk.failWith = null;
    clerk.beforeAnswer = null;
    const resumed = await backfill({ kinds: ['user'] });
    expect(resumed[0]).toMatchObject({ resumedAt: 500, fetched: 734, inserted: 734, unchanged: 0 });
    expect(await ids('users_public')).toEqual(sorted(clerk.data.users));
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
      expect(rest.calls.filter((c) => c === 'clerk_sync_backfill_page')).toHaveLength(3 + 1 + 2 + 6);
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
      ['roles', 2],
      ['permissions', 3],
      ['invitations', 24],
      ['domains', 24],
      ['plans', 2],
      ['subscription_items', 13],
    ]);
  }, 20_000); // a spawned CLI: ~2 s to start on an idle machine

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

  it('Ctrl-C (SIGINT) on the real process: exit 130, and where it stopped', async () => {
    clerk.latencyMs = 150;
    const child = spawn(cli, ['backfill', '--only', 'users'], {
      env: env(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (b) => (stderr += b));
    const started = Date.now();
    while ((await ids('users_public')).length < 500 && Date.now() - started < 20_000)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(130);
    const saved = (await ids('users_public')).length;
    expect(stderr.trim().split('\n').at(-1)).toBe(
      `clerk-sync backfill: interrupted at users ${saved}/1234; every page up to there is saved. Run the same command again to resume from there (--restart starts over).`,
    );
  }, 30_000);

  /** Runs the command in-process; `onLine` sees each stderr line and may press Ctrl-C. */
  async function inProcess(argv: string[], onLine: (line: string, interrupt: () => void) => void = () => {}) {
    const out: string[] = [];
    const err: string[] = [];
    let interrupt = () => {};
    const code = await main(
      ['backfill', ...argv],
      { DATABASE_URL: t.url as string, CLERK_SECRET_KEY: SECRET_KEY, CLERK_API_URL: clerk.url },
      {
        out: (l) => out.push(l),
        err: (l) => {
          err.push(l);
          onLine(l, interrupt);
        },
        tty: false,
        onInterrupt: (handler) => {
          interrupt = handler;
          return () => {
            interrupt = () => {};
          };
        },
      },
    );
    return { code, out, err };
  }

  it('Ctrl-C stops after the page in hand, says where, and the next run resumes there', async () => {
    const stopped = await inProcess(['--only', 'users'], (line, interrupt) => {
      if (line.startsWith('progress: 500/1234 users')) interrupt();
    });
    expect(stopped.code).toBe(130);
    expect(stopped.err.at(-1)).toBe(
      'clerk-sync backfill: interrupted at users 500/1234; every page up to there is saved. Run the same command again to resume from there (--restart starts over).',
    );
    expect(await ids('users_public')).toHaveLength(500);

    const resumed = await inProcess(['--only', 'users']);
    expect(resumed.code).toBe(0);
    expect(resumed.err[0]).toBe('users: resumed an interrupted run at 500 (use --restart to start over)');
    expect(resumed.out[0]).toBe('users: resumed an interrupted run at 500 (use --restart to start over)');
    expect(resumed.out[1]).toMatch(/^ +fetched +inserted/);
    expect(await ids('users_public')).toEqual(sorted(clerk.data.users));
  });

  it('says once, after the table, how each list was paged', async () => {
    clerk.cursor = 'ignore';
    const r = await inProcess([]);
    expect(r.code).toBe(0);
    expect(r.out.filter((l) => l.startsWith('Paged'))).toEqual([
      'Paged users by cursor, then by offset from 500 (Clerk ignored the starting_after cursor); organizations by offset; memberships by offset; roles by offset; permissions by offset; invitations by offset; domains by offset; plans by offset; subscription_items by offset.',
    ]);
  });

  it("off a terminal: plain progress lines, no made-up first rate, and Clerk's rate-limit waits", async () => {
    const limited = await startClerkStandin({
      secretKey: SECRET_KEY,
      data: clerk.data,
      rate: { requests: 3, windowMs: 1_000 },
    });
    try {
      const err: string[] = [];
      const code = await main(
        ['backfill', '--only', 'users', '--rate', '1000'],
        { DATABASE_URL: t.url as string, CLERK_SECRET_KEY: SECRET_KEY, CLERK_API_URL: limited.url },
        { out: () => {}, err: (l) => err.push(l), tty: false },
      );
      expect(code).toBe(0);
      const counts = err.filter((l) => /^progress: \d/.test(l));
      // No rate before there is a second to measure it over (a wait may already be on).
      expect(counts[0]).toMatch(/^progress: 500\/1234 users( {2}waiting \d s for Clerk's rate limit)?$/);
      expect(counts.at(-1)).toMatch(/^progress: 1234\/1234 users/);
      // Retry-After: 1, plus up to 0.5 s of jitter.
      expect(err).toContainEqual(expect.stringMatching(/^progress: waiting [12] s for Clerk's rate limit$/));
    } finally {
      await limited.close();
    }
  });

  it.each([
    ['a wrong secret key', { CLERK_SECRET_KEY: 'sk_test_wrong' }, /Clerk rejected the secret key/],
    ['no secret key', { CLERK_SECRET_KEY: '' }, /CLERK_SECRET_KEY is missing/],
    ['a bad --only', { ARGS: '--only people' }, /--only takes one of users, organizations, memberships/],
  ])(
    'fails in one line on %s',
    async (_label, override, pattern) => {
      const { ARGS, ...vars } = override as Record<string, string>;
      const failure = (await run(cli, ['backfill', ...(ARGS ? ARGS.split(' ') : [])], {
        env: { ...env(), ...vars },
      }).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(failure.code).toBe(1);
      expect(failure.stderr.trim().split('\n')).toHaveLength(1);
      expect(failure.stderr).toMatch(pattern);
    },
    20_000,
  );
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
