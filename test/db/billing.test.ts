import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { type KindName, MIRRORED_EVENT_TYPES } from '../../src/core/kinds.ts';
import type {
  PaymentAttemptRow,
  PlanRow,
  SubscriptionItemRow,
  SubscriptionRow,
} from '../../src/core/rows.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { createStore } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { example, exampleFiles } from '../fixtures/clerk-examples.ts';
import { at, membershipRow, orgRow, userRow } from '../fixtures/rows.ts';
import { onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';
import { captureLogs } from '../support/logs.ts';
import { post, SECRET, signed } from '../support/webhooks.ts';

let t: TestDatabase;
const logs = captureLogs();
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  t = await openTestDatabase();
  app = createApp({ store: createStore(sqlRpc(t.db)), signingSecret: SECRET, logger: logs.logger });
}, 60_000);
afterAll(() => t?.close());
beforeEach(() => t.reset());

type Role = 'anon' | 'authenticated' | 'service_role';
/** A timestamp as epoch ms, however the driver returns it (a Date, or Postgres' text on PGlite). */
const ms = (v: unknown): unknown =>
  v instanceof Date
    ? v.getTime()
    : typeof v === 'string' && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00$/.test(v)
      ? Date.parse(`${v.replace(' ', 'T')}:00`)
      : v;
const rows = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
  (await t.db.query<T>(sql, params)).rows.map(
    (r) => Object.fromEntries(Object.entries(r as object).map(([k, v]) => [k, ms(v)])) as T,
  );
const upsert = async (kind: KindName, batch: object[]) =>
  (
    await rows<{ r: Record<string, number> }>('select public.clerk_sync_upsert($1, $2) as r', [
      kind,
      JSON.stringify(batch),
    ])
  )[0]?.r;
const as = <T>(role: Role, claims: object | null, sql: string, params: unknown[] = []) =>
  t.as(role, claims, async (s) => (await s.query<T>(sql, params)).rows);

/** Every billing table, as a snapshot to compare between runs. */
async function billingState() {
  return {
    subscriptions: await rows('select * from public.billing_subscriptions order by id'),
    items: await rows('select * from public.billing_subscription_items order by id'),
    attempts: await rows('select * from public.billing_payment_attempts order by id'),
  };
}

// ------------------------------------------------------------------------------------------------
// Clerk's example payloads, through the receiver
// ------------------------------------------------------------------------------------------------

const BILLING_FILES = exampleFiles.filter((f) => /^(subscription|subscriptionItem|paymentAttempt)\./.test(f));

/** A small seeded generator, so that a failing order can be replayed. */
function shuffled<T>(items: T[], seed: number): T[] {
  let s = seed;
  const random = () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe("Clerk's billing example payloads, end to end", () => {
  it('covers every billing example', () => {
    expect(BILLING_FILES).toHaveLength(15);
  });

  it('converges on the newest version whatever the order, duplicates included', async () => {
    // Each file is one delivery (its own svix-id); some are delivered twice.
    const deliveries = BILLING_FILES.map((file, i) => ({ file, msgId: `msg_billing_${i}` }));
    const states: unknown[] = [];
    for (const seed of [1, 7, 42, 1234, 99_999]) {
      await t.reset();
      const order = shuffled([...deliveries, ...deliveries.filter((_, i) => (i + seed) % 3 === 0)], seed);
      const outcomes = new Set<unknown>();
      for (const d of order) {
        const res = await app.request('/webhooks/clerk', post(signed(example(d.file), { msgId: d.msgId })));
        expect(res.status, d.file).toBe(200);
        outcomes.add(((await res.json()) as { outcome: unknown }).outcome);
      }
      expect(outcomes).toContain('duplicate');
      states.push(await billingState());
    }
    for (const state of states.slice(1)) expect(state).toEqual(states[0]);

    const { subscriptions, items, attempts } = await billingState();
    // subscription.pastDue is the newest subscription; subscriptionItem.ended the newest item.
    expect(subscriptions).toEqual([
      {
        id: 'csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        payer_id: 'cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        user_id: 'user_34D368EufHwugfYh4yyGNEheM0S',
        organization_id: null,
        status: 'past_due',
        active_at: 1716883200000,
        past_due_at: 1716969600000,
        canceled_at: null,
        ended_at: null,
        created_at: 1716883200000,
        updated_at: 1716969600000,
      },
    ]);
    expect(items).toEqual([
      expect.objectContaining({
        id: 'csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        subscription_id: 'csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        payer_id: 'cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        user_id: 'user_34D368EufHwugfYh4yyGNEheM0S',
        organization_id: null,
        plan_id: 'cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        status: 'ended',
        period_start: 1716883200000,
        period_end: null,
        updated_at: 1719561600000,
      }),
    ]);
    expect(attempts).toEqual([
      {
        id: 'pa_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        payer_id: 'cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        user_id: 'user_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        organization_id: null,
        status: 'paid',
        amount: expect.anything(),
        currency: 'USD',
        paid_at: 1716883500000,
        failed_at: null,
        created_at: 1716883200000,
        updated_at: 1716883500000,
      },
    ]);
    expect(Number(attempts[0]?.amount)).toBe(2200);
  });

  it("a subscription event writes its items; an item's own newer event is not undone by it", async () => {
    const deliver = (file: string) => app.request('/webhooks/clerk', post(signed(example(file))));
    await deliver('subscription.created.json');
    expect(
      await rows('select id, subscription_id, user_id, status from public.billing_subscription_items'),
    ).toEqual([
      {
        id: 'csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        subscription_id: 'csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S',
        user_id: 'user_34D368EufHwugfYh4yyGNEheM0S',
        status: 'active',
      },
    ]);
    await deliver('subscriptionItem.canceled.json');
    // subscription.updated is newer than subscription.created but its item is older than the cancel.
    await deliver('subscription.updated.json');
    expect(await rows('select status from public.billing_subscription_items')).toEqual([
      { status: 'canceled' },
    ]);
    expect(await rows('select updated_at from public.billing_subscriptions')).toEqual([
      { updated_at: 1716883500000 },
    ]);
  });

  it('keeps no card, gateway or payer contact details, in the tables or the logs', async () => {
    for (const file of BILLING_FILES) await app.request('/webhooks/clerk', post(signed(example(file))));
    const stored = JSON.stringify(await billingState());
    for (const secret of ['@', '4242', 'pm_1A2B', 'pi_1A2B', 'acct_1A2B', 'stripe', 'visa', 'John', 'Test'])
      expect(stored).not.toContain(secret);
    for (const secret of ['4242', 'pm_1A2B', 'pi_1A2B', 'acct_1A2B', 'john.doe', 'test@example.com'])
      expect(logs.text()).not.toContain(secret);
  });
});

describe('every kind, through the per-kind dispatch this migration re-creates', () => {
  it.each(MIRRORED_EVENT_TYPES.map((type) => [type]))('%s applies', async (type) => {
    const res = await app.request('/webhooks/clerk', post(signed(sampleEvent(type))));
    expect(await res.json()).toEqual({ outcome: 'applied' });
  });
});

// ------------------------------------------------------------------------------------------------
// Payers, deletes and row-level security
// ------------------------------------------------------------------------------------------------

const payer = (p: { user?: string; org?: string }) => ({
  payer_id: `cpayer_${p.user ?? p.org}`,
  user_id: p.user ?? null,
  organization_id: p.org ?? null,
});
const item = (
  id: string,
  p: { user?: string; org?: string },
  overrides: Partial<SubscriptionItemRow> = {},
): SubscriptionItemRow => ({
  id,
  subscription_id: null,
  ...payer(p),
  plan_id: 'cplan_pro',
  plan_slug: 'pro',
  status: 'active',
  is_free_trial: false,
  period_start: at(0),
  period_end: at(30 * 86_400_000),
  canceled_at: null,
  ended_at: null,
  created_at: at(0),
  updated_at: at(1),
  ...overrides,
});
const subscription = (id: string, p: { user?: string; org?: string }, items: SubscriptionItemRow[] = []) =>
  ({
    id,
    ...payer(p),
    status: 'active',
    active_at: at(0),
    past_due_at: null,
    canceled_at: null,
    ended_at: null,
    created_at: at(0),
    updated_at: at(1),
    items: items.map((i) => ({ ...i, subscription_id: id })),
  }) satisfies SubscriptionRow;
const attempt = (id: string, p: { user?: string; org?: string }): PaymentAttemptRow => ({
  id,
  ...payer(p),
  status: 'paid',
  amount: 2000,
  currency: 'USD',
  paid_at: at(1),
  failed_at: null,
  created_at: at(0),
  updated_at: at(1),
});
const plan = (id: string, slug: string, features: string[], overrides: Partial<PlanRow> = {}): PlanRow => ({
  id,
  slug,
  name: slug,
  payer_type: 'user',
  is_default: false,
  features,
  amount: 2000,
  currency: 'USD',
  updated_at: at(1),
  ...overrides,
});

describe('payers and row-level security', () => {
  beforeEach(async () => {
    await upsert('user', [userRow('user_payer', 1), userRow('user_member', 1), userRow('user_stranger', 1)]);
    await upsert('organization', [orgRow('org_paying', 1)]);
    await upsert('membership', [membershipRow('orgmem_1', 'org_paying', 'user_member', 1)]);
    await upsert('plan', [plan('cplan_pro', 'pro', ['exports'])]);
    await upsert('subscription', [
      subscription('csub_user', { user: 'user_payer' }, [item('item_user', { user: 'user_payer' })]),
      subscription('csub_org', { org: 'org_paying' }, [item('item_org', { org: 'org_paying' })]),
    ]);
    await upsert('paymentAttempt', [
      attempt('pa_user', { user: 'user_payer' }),
      attempt('pa_org', { org: 'org_paying' }),
    ]);
  });

  const TABLES = ['billing_subscriptions', 'billing_subscription_items', 'billing_payment_attempts'] as const;
  const readAll = (role: Role, claims: object | null) =>
    Promise.all(
      TABLES.map(async (table) =>
        (await as<{ id: string }>(role, claims, `select id from public.${table} order by id`)).map(
          (r) => r.id,
        ),
      ),
    );

  it.each<[string, object, string[][]]>([
    ['the paying user reads their own', { sub: 'user_payer' }, [['csub_user'], ['item_user'], ['pa_user']]],
    [
      'a member of the paying organization reads its',
      { sub: 'user_member' },
      [['csub_org'], ['item_org'], ['pa_org']],
    ],
    ['a stranger reads nothing', { sub: 'user_stranger' }, [[], [], []]],
  ])('%s', async (_label, claims, expected) => {
    expect(await readAll('authenticated', claims)).toEqual(expected);
  });

  it('anon reads nothing and cannot ask the entitlement helpers', async () => {
    for (const table of [...TABLES, 'billing_plans'])
      await expect(as('anon', null, `select id from public.${table}`)).rejects.toThrow(/permission denied/);
    await expect(as('anon', null, "select public.has_feature('user_payer', 'exports')")).rejects.toThrow(
      /permission denied/,
    );
  });

  it('any signed-in user reads the plans; nobody but the service role writes', async () => {
    expect(
      await as('authenticated', { sub: 'user_stranger' }, 'select slug, features from public.billing_plans'),
    ).toEqual([{ slug: 'pro', features: ['exports'] }]);
    await expect(
      as('authenticated', { sub: 'user_payer' }, "update public.billing_subscriptions set status = 'active'"),
    ).rejects.toThrow(/permission denied/);
    await expect(
      as('authenticated', { sub: 'user_payer' }, "select public.clerk_sync_upsert('plan', '[]')"),
    ).rejects.toThrow(/permission denied/);
  });

  it('has_feature answers for the payers a user can see: theirs and their organizations', async () => {
    const q = "select public.has_feature($1, 'exports', $2) as f";
    const when = at(86_400_000);
    expect(await as('authenticated', { sub: 'user_payer' }, q, ['user_payer', when])).toEqual([{ f: true }]);
    expect(await as('authenticated', { sub: 'user_member' }, q, ['org_paying', when])).toEqual([{ f: true }]);
    expect(await as('authenticated', { sub: 'user_stranger' }, q, ['org_paying', when])).toEqual([
      { f: false },
    ]);
    expect(await as('authenticated', { sub: 'user_member' }, q, ['user_payer', when])).toEqual([
      { f: false },
    ]);
    expect(await as('service_role', null, q, ['user_payer', when])).toEqual([{ f: true }]);
  });

  it("a user's and an organization's deletion removes their billing, and later events stay out", async () => {
    await rows("select public.clerk_sync_delete('user', array['user_payer'])");
    await rows("select public.clerk_sync_delete('organization', array['org_paying'])");
    expect(await billingState()).toEqual({ subscriptions: [], items: [], attempts: [] });
    // Their versions go too: the mirror keeps none of an object it no longer has.
    expect(
      await rows(
        `select kind, id from clerk_sync.private_metadata
         where kind in ('subscription', 'subscriptionItem', 'paymentAttempt') order by kind, id`,
      ),
    ).toEqual([]);
    expect(await upsert('subscription', [subscription('csub_user', { user: 'user_payer' })])).toMatchObject({
      inserted: 0,
      deleted: 1,
    });
    expect(
      await upsert('subscriptionItem', [item('item_org', { org: 'org_paying' }, { updated_at: at(9) })]),
    ).toMatchObject({
      inserted: 0,
      deleted: 1,
    });
  });

  it('an item listed with only its payer id takes the payer from a mirrored subscription; its subscription is kept', async () => {
    await upsert('subscriptionItem', [
      {
        ...item('item_user', {}, { updated_at: at(5), status: 'canceled' }),
        payer_id: 'cpayer_user_payer',
        subscription_id: null,
      },
      {
        ...item('item_new', {}, { updated_at: at(5) }),
        payer_id: 'cpayer_org_paying',
        subscription_id: null,
      },
    ]);
    expect(
      await rows(
        'select id, subscription_id, user_id, organization_id, status from public.billing_subscription_items order by id',
      ),
    ).toEqual([
      {
        id: 'item_new',
        subscription_id: null,
        user_id: null,
        organization_id: 'org_paying',
        status: 'active',
      },
      {
        id: 'item_org',
        subscription_id: 'csub_org',
        user_id: null,
        organization_id: 'org_paying',
        status: 'active',
      },
      {
        id: 'item_user',
        subscription_id: 'csub_user',
        user_id: 'user_payer',
        organization_id: null,
        status: 'canceled',
      },
    ]);
  });
});

// ------------------------------------------------------------------------------------------------
// Entitlements: the truth table, on a fixed clock
// ------------------------------------------------------------------------------------------------

describe('has_feature and active_plan', () => {
  const DAY = 86_400_000;
  const NOW = at(10 * DAY);
  const period = { period_start: at(0), period_end: at(30 * DAY) };
  const past = { period_start: at(-30 * DAY), period_end: at(5 * DAY) };
  const future = { period_start: at(30 * DAY), period_end: at(60 * DAY) };

  it.each<[string, Partial<SubscriptionItemRow>, boolean]>([
    ['active, inside its period', { status: 'active', ...period }, true],
    ['active, past its period', { status: 'active', ...past }, false],
    ['active, not started yet', { status: 'active', ...future }, false],
    ['active with no end (a free plan)', { status: 'active', period_start: at(0), period_end: null }, true],
    ['in a free trial', { status: 'active', is_free_trial: true, ...period }, true],
    ['in a free trial that is over', { status: 'active', is_free_trial: true, ...past }, false],
    ['canceled, inside its paid period', { status: 'canceled', canceled_at: at(DAY), ...period }, true],
    ['canceled, past its paid period', { status: 'canceled', canceled_at: at(DAY), ...past }, false],
    ['canceled with no period end', { status: 'canceled', period_start: at(0), period_end: null }, false],
    ['ended', { status: 'ended', ...period, ended_at: at(5 * DAY) }, false],
    ['active but with an end already past', { status: 'active', ...period, ended_at: at(5 * DAY) }, false],
    ['past due', { status: 'past_due', ...period }, false],
    ['upcoming', { status: 'upcoming', ...future }, false],
    ['incomplete', { status: 'incomplete', ...period }, false],
    ['abandoned', { status: 'abandoned', ...period }, false],
    ['expired', { status: 'expired', ...past }, false],
  ])('%s', async (_label, state, entitled) => {
    await upsert('plan', [plan('cplan_pro', 'pro', ['exports', 'sso'])]);
    await upsert('subscriptionItem', [item('item_1', { user: 'user_a' }, state)]);
    const [r] = await rows<{ f: boolean; other: boolean; plan: string | null }>(
      `select public.has_feature('user_a', 'exports', $1) as f, public.has_feature('user_a', 'billing', $1) as other,
              public.active_plan('user_a', $1) as plan`,
      [NOW],
    );
    expect(r).toEqual({ f: entitled, other: false, plan: entitled ? 'pro' : null });
  });

  it('takes the time from now() by default, and answers for organizations the same way', async () => {
    await upsert('plan', [plan('cplan_pro', 'pro', ['exports'])]);
    const now = Date.now();
    await upsert('subscriptionItem', [
      item(
        'item_now',
        { org: 'org_a' },
        { period_start: new Date(now - DAY).toISOString(), period_end: new Date(now + DAY).toISOString() },
      ),
      item(
        'item_then',
        { user: 'user_b' },
        {
          period_start: new Date(now - 2 * DAY).toISOString(),
          period_end: new Date(now - DAY).toISOString(),
        },
      ),
    ]);
    expect(
      await rows(
        "select public.has_feature('org_a', 'exports') as org, public.has_feature('user_b', 'exports') as usr",
      ),
    ).toEqual([{ org: true, usr: false }]);
  });

  it('active_plan prefers a paid plan over the default one; the plan slug comes from the plans when known', async () => {
    await upsert('plan', [
      plan('cplan_free', 'free_user', [], { is_default: true, amount: 0 }),
      plan('cplan_pro', 'pro', ['exports']),
    ]);
    await upsert('subscriptionItem', [
      item(
        'item_free',
        { user: 'user_a' },
        { plan_id: 'cplan_free', plan_slug: 'free_user', period_start: at(0), period_end: null },
      ),
      item(
        'item_pro',
        { user: 'user_a' },
        { plan_id: 'cplan_pro', plan_slug: 'old-slug', period_start: at(-DAY), period_end: at(30 * DAY) },
      ),
      item('item_unknown', { user: 'user_c' }, { plan_id: 'cplan_gone', plan_slug: 'legacy' }),
    ]);
    expect(
      await rows(
        "select public.active_plan('user_a', $1) as a, public.active_plan('user_c', $1) as c, public.has_feature('user_c', 'exports', $1) as f",
        [at(DAY)],
      ),
    ).toEqual([{ a: 'pro', c: 'legacy', f: false }]);
  });

  it('a plan: the latest read wins (Clerk sends no timestamp: the backfill dates it)', async () => {
    expect(
      await upsert('plan', [plan('cplan_pro', 'pro', ['exports'], { updated_at: at(3) })]),
    ).toMatchObject({
      inserted: 1,
    });
    expect(
      await upsert('plan', [plan('cplan_pro', 'pro', ['exports', 'sso'], { updated_at: at(2) })]),
    ).toMatchObject({
      stale: 1,
    });
    expect(await upsert('plan', [plan('cplan_pro', 'pro', ['sso'], { updated_at: at(4) })])).toMatchObject({
      updated: 1,
    });
    expect(await rows('select features, updated_at from public.billing_plans')).toEqual([
      { features: ['sso'], updated_at: Date.parse(at(4)) },
    ]);
  });
});

describe('requesting_plan and requesting_has_feature (session token v2)', () => {
  it.each<[string, object | null, string | null, Record<string, boolean>]>([
    [
      'a user plan and features',
      { sub: 'u', v: 2, pla: 'u:free_user', fea: 'u:exports,u:sso' },
      'free_user',
      { exports: true, 'u:exports': true, 'o:exports': false, dashboard: false },
    ],
    [
      "the active organization's plan wins",
      { sub: 'u', v: 2, pla: 'u:free_user,o:pro', fea: 'o:dashboard, u:exports', o: { id: 'org_1' } },
      'pro',
      { dashboard: true, 'o:dashboard': true, 'u:dashboard': false, exports: true },
    ],
    [
      'both scopes (uo)',
      { sub: 'u', pla: 'uo:team', fea: ['uo:reports'] },
      'team',
      { 'u:reports': true, 'o:reports': true },
    ],
    ['no claims', { sub: 'u' }, null, { exports: false }],
    ['no token', null, null, { exports: false }],
    [
      'malformed entries are ignored',
      { sub: 'u', pla: 'pro', fea: 'exports,:x,u:' },
      null,
      { exports: false, x: false },
    ],
  ])('%s', async (_label, claims, expectedPlan, features) => {
    const role: Role = claims === null ? 'anon' : 'authenticated';
    const [r] = await as<{ plan: string | null }>(role, claims, 'select public.requesting_plan() as plan');
    expect(r?.plan).toBe(expectedPlan);
    for (const [feature, expected] of Object.entries(features)) {
      const [f] = await as<{ f: boolean }>(role, claims, 'select public.requesting_has_feature($1) as f', [
        feature,
      ]);
      expect(f?.f, feature).toBe(expected);
    }
  });
});

describe('group commit with subscriptions', () => {
  // A subscription event writes its items: a batch locks them with it, up front and in key order, so
  // a batch applying an item's own event and another applying the item's subscription never deadlock.
  it.runIf(onServer)('batches crossing subscriptions and their items never deadlock', async () => {
    const store = createStore(sqlRpc(t.db));
    const u = { user: 'user_a' };
    const event = (id: string, kind: 'subscription' | 'subscriptionItem', data: object, n: number) =>
      ({
        eventId: `msg_${id}_${n}`,
        type: `${kind}.updated`,
        kind,
        op: 'upsert',
        data,
        occurredAt: null,
      }) as const;
    const version = (n: number) => ({ updated_at: at(n) });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        store.applyEvents(
          n % 2 === 0
            ? [
                event('x', 'subscriptionItem', item('csub_item_x', u, version(n)), n),
                event(
                  's2',
                  'subscription',
                  { ...subscription('csub_2', u, [item('csub_item_y', u, version(n))]), ...version(n) },
                  n,
                ),
              ]
            : [
                event(
                  's1',
                  'subscription',
                  { ...subscription('csub_1', u, [item('csub_item_x', u, version(n))]), ...version(n) },
                  n,
                ),
                event('y', 'subscriptionItem', item('csub_item_y', u, version(n)), n),
              ],
        ),
      ),
    );
    expect(results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.error.sqlstate))).toEqual([]);
    expect(await rows('select id from public.billing_subscription_items order by id')).toEqual([
      { id: 'csub_item_x' },
      { id: 'csub_item_y' },
    ]);
  });
});
