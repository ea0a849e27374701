/**
 * @module A local HTTP stand-in of Clerk's Backend API (test and benchmark support only): Clerk's
 * shapes for the list endpoints the backfill uses, bearer auth, paging by offset and (users)
 * `starting_after` — honoured, ignored or refused, switchable mid-run — 404s, and an optional rate
 * limit answering 429 with Retry-After; the instance's JWKS (`GET /jwks`) and, for fault tests, an
 * answer status every request gets (`failWith`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleEvent } from '../../src/core/samples.ts';

type Obj = Record<string, unknown> & { id: string; created_at: number; updated_at: number };

export interface ClerkData {
  users: Obj[];
  organizations: Obj[];
  memberships: Obj[];
  /** The organizations' roles, permissions, invitations and domains (none when absent). */
  roles?: Obj[];
  permissions?: Obj[];
  invitations?: Obj[];
  domains?: Obj[];
  /** Clerk Billing: plans (which carry no timestamps) and subscription items (free ones listed only with include_free=true). */
  plans?: (Record<string, unknown> & { id: string })[];
  subscriptionItems?: Obj[];
}

/**
 * Generates `users` users and `organizations` organizations, each with `membersPerOrg` members, one
 * invitation and one domain; with any organization, three permissions and the two roles granting them.
 */
export function generateClerkData(
  counts: { users: number; organizations: number; membersPerOrg: number },
  start = Date.UTC(2025, 0, 1),
): ClerkData {
  const users = Array.from({ length: counts.users }, (_, i) => {
    const data = sampleEvent('user.created', { id: `user_${String(i).padStart(8, '0')}`, now: start + i })
      .data as Obj;
    return { ...data, first_name: `First${i}`, last_name: `Last${i}` };
  });
  const organizations = Array.from(
    { length: counts.organizations },
    (_, i) =>
      sampleEvent('organization.created', { id: `org_${String(i).padStart(6, '0')}`, now: start + i })
        .data as Obj,
  );
  const memberships = organizations.flatMap((org, o) =>
    Array.from({ length: Math.min(counts.membersPerOrg, users.length) }, (_, m) => {
      const user = users[(o * 7 + m) % users.length] as Obj;
      const data = sampleEvent('organizationMembership.created', {
        id: `orgmem_${String(o).padStart(6, '0')}_${String(m).padStart(4, '0')}`,
        orgId: org.id,
        userId: user.id,
        now: start + o * counts.membersPerOrg + m,
      }).data as Obj;
      return data;
    }),
  );
  const some = organizations.length > 0;
  const permissions = (some ? ['read', 'write', 'delete'] : []).map(
    (p, i) =>
      ({
        ...sampleEvent('permission.created', { id: `perm_${p}`, now: start + i }).data,
        key: `org:projects:${p}`,
        name: p,
      }) as Obj,
  );
  const grant = (keys: string[]) =>
    permissions
      .filter((p) => keys.includes(p.key as string))
      .map(({ id, key }) => ({ object: 'permission', id, key }));
  const roles = some
    ? [
        {
          ...sampleEvent('role.created', { id: 'role_admin', now: start }).data,
          key: 'admin',
          permissions: grant(['org:projects:read', 'org:projects:write', 'org:projects:delete']),
        },
        {
          ...sampleEvent('role.created', { id: 'role_member', now: start + 1 }).data,
          key: 'org:member',
          permissions: grant(['org:projects:read']),
        },
      ].map((r) => r as unknown as Obj)
    : [];
  const invitations = organizations.map(
    (org, o) =>
      sampleEvent('organizationInvitation.created', {
        id: `orginv_${String(o).padStart(6, '0')}`,
        orgId: org.id,
        userId: `user_invitee_${o}`,
        now: start + o,
      }).data as Obj,
  );
  const domains = organizations.map(
    (org, o) =>
      ({
        ...sampleEvent('organizationDomain.created', {
          id: `orgdmn_${String(o).padStart(6, '0')}`,
          orgId: org.id,
          now: start + o,
        }).data,
        name: `org${o}.example.com`,
      }) as Obj,
  );
  const { plans, subscriptionItems } = generateBilling(users, organizations, start);
  return {
    users,
    organizations,
    memberships,
    roles,
    permissions,
    invitations,
    domains,
    plans,
    subscriptionItems,
  };
}

/** A Backend API plan (`GET /billing/plans`): no timestamps, its features with their slugs. */
function billingPlan(
  id: string,
  slug: string,
  o: { fee: number; isDefault: boolean; payer: 'user' | 'org'; features: string[] },
) {
  const money = (amount: number) => ({
    amount,
    amount_formatted: `$${amount / 100}`,
    currency: 'USD',
    currency_symbol: '$',
  });
  return {
    object: 'commerce_plan',
    id,
    name: slug,
    slug,
    fee: money(o.fee),
    annual_monthly_fee: money(o.fee),
    annual_fee: money(o.fee * 12),
    description: null,
    product_id: 'cprod_standin',
    is_default: o.isDefault,
    is_recurring: o.fee > 0,
    publicly_visible: true,
    has_base_fee: o.fee > 0,
    for_payer_type: o.payer,
    avatar_url: null,
    free_trial_enabled: false,
    free_trial_days: null,
    features: o.features.map((f) => ({
      object: 'feature',
      id: `feat_${f}`,
      name: f,
      description: null,
      slug: f,
      avatar_url: null,
    })),
  };
}

/**
 * Billing for the first ten users (the free default plan) and the first three organizations (Pro):
 * two plans and their subscription items, in the Backend API's shapes (the payer's other id null).
 */
function generateBilling(users: Obj[], organizations: Obj[], start: number) {
  if (users.length === 0 && organizations.length === 0) return { plans: [], subscriptionItems: [] };
  const free = billingPlan('cplan_free_user', 'free_user', {
    fee: 0,
    isDefault: true,
    payer: 'user',
    features: ['basic'],
  });
  const pro = billingPlan('cplan_pro', 'pro', {
    fee: 2000,
    isDefault: false,
    payer: 'org',
    features: ['basic', 'exports', 'sso'],
  });
  const item = (
    n: number,
    plan: ReturnType<typeof billingPlan>,
    payer: { user_id: string | null; organization_id: string | null },
  ) => ({
    object: 'commerce_subscription_item',
    id: `csub_item_${String(n).padStart(6, '0')}`,
    instance_id: 'ins_standin',
    status: 'active',
    plan_id: plan.id,
    plan,
    plan_period: 'month',
    payer_id: `cpayer_${payer.user_id ?? payer.organization_id}`,
    payer: {
      object: 'commerce_payer',
      id: `cpayer_${payer.user_id ?? payer.organization_id}`,
      instance_id: 'ins_standin',
      ...payer,
      first_name: null,
      last_name: null,
      email: 'payer@example.com',
      image_url: 'https://img.clerk.com/x',
    },
    is_free_trial: false,
    period_start: start,
    period_end: plan.is_default ? null : start + 30 * 86_400_000,
    canceled_at: null,
    past_due_at: null,
    ended_at: null,
    created_at: start + n,
    updated_at: start + n,
  });
  const subscriptionItems = [
    ...users.slice(0, 10).map((u, i) => item(i, free, { user_id: u.id, organization_id: null })),
    ...organizations.slice(0, 3).map((o, i) => item(100 + i, pro, { user_id: null, organization_id: o.id })),
  ];
  return { plans: [free, pro], subscriptionItems };
}

export interface ClerkStandin {
  /** e.g. http://127.0.0.1:PORT/v1 — set CLERK_API_URL to it. */
  url: string;
  data: ClerkData;
  stats: { requests: number; rateLimited: number; byPath: Record<string, number> };
  /** Delay every answer by this many ms (to let tests race the backfill). */
  latencyMs: number;
  /**
   * What `starting_after` does: `honour` it (Clerk's spec), `ignore` it (answer from `offset`, as a
   * server that does not know it would), or `refuse` it (422). Tests may switch it mid-run.
   */
  cursor: CursorBehaviour;
  /** Runs before each request is answered (tests change `data` or `cursor` at an exact request). */
  beforeAnswer: ((url: URL) => void) | null;
  /** When set, every request is answered with this status (e.g. 503) and a Clerk error body. */
  failWith: number | null;
  /** What `GET /jwks` serves. */
  jwks: { keys: object[] };
  close(): Promise<void>;
}

export type CursorBehaviour = 'honour' | 'ignore' | 'refuse';

const byCreated = (a: Obj, b: Obj) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
/** Sends `prefix`, `body` and `suffix` as one JSON answer, without copying `body`. */
function sendJson(res: ServerResponse, prefix: string, body: Uint8Array, suffix: string) {
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(prefix) + body.length + Buffer.byteLength(suffix)),
  });
  res.write(prefix);
  res.write(body);
  res.end(suffix);
}

interface FrozenList {
  count: number;
  /** The objects' JSON in list order (created_at, then id), separated by commas. */
  bytes: Buffer;
  /** Where object i starts and ends in `bytes`. */
  starts: number[];
  ends: number[];
  /** Where each id is in that order. */
  position: Map<string, number>;
}

type ListPath = '/users' | '/organizations' | '/organization_memberships';

function freeze(data: ClerkData): Record<ListPath, FrozenList> {
  const list = (items: Obj[]): FrozenList => {
    const sorted = [...items].sort(byCreated);
    const json = sorted.map((o) => JSON.stringify(o));
    const starts: number[] = [];
    const ends: number[] = [];
    let at = 0;
    for (const text of json) {
      starts.push(at);
      at += Buffer.byteLength(text);
      ends.push(at);
      at += 1; // the comma
    }
    return {
      count: sorted.length,
      bytes: Buffer.from(json.join(',')),
      starts,
      ends,
      position: new Map(sorted.map((o, i) => [o.id, i])),
    };
  };
  return {
    '/users': list(data.users),
    '/organizations': list(data.organizations),
    '/organization_memberships': list(data.memberships),
  };
}

const clerkError = (code: string, message: string) => ({
  errors: [{ code, message, long_message: message }],
});

export async function startClerkStandin(options: {
  secretKey: string;
  data: ClerkData;
  rate?: { requests: number; windowMs: number };
  latencyMs?: number;
  /** The instance's public keys as JWKs, served at `GET /jwks`. */
  jwks?: { keys: object[] };
  /**
   * The data will not change (benchmarks): sort each list and serialize each object once, up front,
   * so that serving a page costs the stand-in — which stands for Clerk's servers, not the machine
   * under test — as little CPU as possible. Tests that edit `data` must leave it off.
   */
  frozen?: boolean;
  cursor?: CursorBehaviour;
}): Promise<ClerkStandin> {
  const sent: number[] = [];
  const frozen = options.frozen ? freeze(options.data) : null;
  const standin: ClerkStandin = {
    url: '',
    data: options.data,
    stats: { requests: 0, rateLimited: 0, byPath: {} },
    latencyMs: options.latencyMs ?? 0,
    cursor: options.cursor ?? 'honour',
    beforeAnswer: null,
    failWith: null,
    jwks: options.jwks ?? { keys: [] },
    close: async () => {},
  };

  function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://standin');
    const path = url.pathname.replace(/^\/v1/, '');
    standin.beforeAnswer?.(url);
    standin.stats.requests++;
    const route = path.replace(/\/(user|org|orgmem|role|perm|orginv|orgdmn)_[^/]+/g, '/:id');
    standin.stats.byPath[route] = (standin.stats.byPath[route] ?? 0) + 1;
    if (req.headers.authorization !== `Bearer ${options.secretKey}`)
      return send(res, 401, clerkError('authentication_invalid', 'Invalid authentication'));
    if (standin.failWith !== null)
      return send(res, standin.failWith, clerkError('unavailable', 'failing on purpose'));
    if (options.rate) {
      const now = Date.now();
      while (sent.length > 0 && (sent[0] as number) <= now - options.rate.windowMs) sent.shift();
      if (sent.length >= options.rate.requests) {
        standin.stats.rateLimited++;
        const retryAfter = Math.max(1, Math.ceil(((sent[0] as number) + options.rate.windowMs - now) / 1000));
        return send(res, 429, clerkError('too_many_requests', 'Too many requests'), {
          'retry-after': String(retryAfter),
        });
      }
      sent.push(now);
    }
    const limit = Number(url.searchParams.get('limit') ?? 10);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500 || !Number.isInteger(offset) || offset < 0)
      return send(res, 422, clerkError('form_param_value_invalid', 'limit must be 1..500'));
    const cursor = url.searchParams.get('starting_after');
    if (cursor !== null && standin.cursor === 'refuse')
      return send(res, 422, clerkError('form_param_unknown', 'starting_after is not a valid parameter'));
    const after = standin.cursor === 'honour' ? cursor : null;
    const page = (items: Obj[]) => {
      const sorted = [...items].sort(byCreated);
      const from = after ? sorted.findIndex((u) => u.id === after) + 1 : offset;
      return sorted.slice(from, from + limit);
    };
    // The same page, as the JSON of its objects, from the lists sorted and serialized up front.
    const frozenPage = (list: FrozenList): Uint8Array => {
      const from = after ? (list.position.get(after) ?? -1) + 1 : offset;
      const to = Math.min(from + limit, list.count);
      return to > from ? list.bytes.subarray(list.starts[from], list.ends[to - 1]) : new Uint8Array(0);
    };
    const one = (items: Obj[], id: string) => {
      const found = items.find((o) => o.id === decodeURIComponent(id));
      return found ? send(res, 200, found) : send(res, 404, clerkError('resource_not_found', 'not found'));
    };
    const { users, organizations, memberships } = standin.data;
    const match = (re: RegExp) => re.exec(path)?.[1];
    if (frozen && (path === '/users' || path === '/organizations' || path === '/organization_memberships')) {
      const list = frozen[path];
      const items = frozenPage(list);
      return path === '/users'
        ? sendJson(res, '[', items, ']')
        : sendJson(res, '{"data":[', items, `],"total_count":${list.count}}`);
    }
    if (path === '/jwks') return send(res, 200, standin.jwks);
    if (path === '/users') return send(res, 200, page(users));
    if (path === '/users/count') return send(res, 200, { object: 'total_count', total_count: users.length });
    const userId = match(/^\/users\/([^/]+)$/);
    if (userId) return one(users, userId);
    if (path === '/organizations')
      return send(res, 200, { data: page(organizations), total_count: organizations.length });
    if (path === '/organization_memberships')
      return send(res, 200, { data: page(memberships), total_count: memberships.length });
    const membersOf = match(/^\/organizations\/([^/]+)\/memberships$/);
    if (membersOf) {
      const orgId = decodeURIComponent(membersOf);
      if (!organizations.some((o) => o.id === orgId))
        return send(res, 404, clerkError('resource_not_found', 'not found'));
      const member = url.searchParams.get('user_id');
      const of = memberships.filter(
        (x) =>
          (x.organization as Obj).id === orgId &&
          (!member || (x.public_user_data as { user_id: string }).user_id === member),
      );
      return send(res, 200, { data: page(of), total_count: of.length });
    }
    const orgId = match(/^\/organizations\/([^/]+)$/);
    if (orgId) return one(organizations, orgId);
    const { roles = [], permissions = [], invitations = [], domains = [] } = standin.data;
    const lists: Record<string, Obj[]> = {
      '/organization_roles': roles,
      '/organization_permissions': permissions,
      '/organization_invitations': invitations,
      '/organization_domains': domains,
    };
    const { plans = [], subscriptionItems = [] } = standin.data;
    if (path === '/billing/plans')
      return send(res, 200, { data: page(plans as Obj[]), total_count: plans.length });
    if (path === '/billing/subscription_items') {
      // Clerk leaves the free plans' items out unless asked (include_free=true).
      const free = url.searchParams.get('include_free') === 'true';
      const of = subscriptionItems.filter((i) => free || !(i.plan as { is_default?: boolean }).is_default);
      return send(res, 200, { data: page(of), total_count: of.length });
    }
    // A payer's subscription, with its items (404 when it has none).
    const payerOf = /^\/(users|organizations)\/([^/]+)\/billing\/subscription$/.exec(path);
    if (payerOf) {
      const id = decodeURIComponent(payerOf[2] as string);
      const field = payerOf[1] === 'users' ? 'user_id' : 'organization_id';
      const of = subscriptionItems.filter((i) => (i.payer as Record<string, unknown>)[field] === id);
      return of.length === 0
        ? send(res, 404, clerkError('resource_not_found', 'not found'))
        : send(res, 200, {
            object: 'commerce_subscription',
            id: `csub_${id}`,
            payer_id: of[0]?.payer_id,
            subscription_items: of,
          });
    }
    const listed = lists[path];
    if (listed) return send(res, 200, { data: page(listed), total_count: listed.length });
    const roleId = match(/^\/organization_roles\/([^/]+)$/);
    if (roleId) return one(roles, roleId);
    const permissionId = match(/^\/organization_permissions\/([^/]+)$/);
    if (permissionId) return one(permissions, permissionId);
    const invitation = /^\/organizations\/([^/]+)\/invitations\/([^/]+)$/.exec(path);
    if (invitation)
      return one(
        invitations.filter((i) => i.organization_id === decodeURIComponent(invitation[1] as string)),
        invitation[2] as string,
      );
    const domainsOf = match(/^\/organizations\/([^/]+)\/domains$/);
    if (domainsOf) {
      const of = domains.filter((d) => d.organization_id === decodeURIComponent(domainsOf));
      return send(res, 200, { data: page(of), total_count: of.length });
    }
    return send(res, 404, clerkError('resource_not_found', `no route ${path}`));
  }

  const server = createServer((req, res) => {
    if (standin.latencyMs > 0) setTimeout(() => handle(req, res), standin.latencyMs);
    else handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  standin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  standin.close = () => new Promise((resolve) => server.close(() => resolve()));
  return standin;
}
