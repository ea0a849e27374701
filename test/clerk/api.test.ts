import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiEvent,
  type ClerkApiOptions,
  createClerkApi,
  type Page,
  parseRetryAfter,
} from '../../src/clerk/api.ts';
import { ClerkApiError } from '../../src/clerk/errors.ts';
import { KINDS } from '../../src/core/kinds.ts';
import { virtualClock } from './clock.ts';

const API = 'https://api.clerk.test/v1';
const SECRET = 'sk_test_0123456789abcdef';
const T0 = 1_716_883_200_000;

const pad = (i: number) => String(i).padStart(4, '0');
const users = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    object: 'user',
    id: `user_${pad(i)}`,
    created_at: T0 + i,
    updated_at: T0 + i,
  }));
const organizations = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    object: 'organization',
    id: `org_${pad(i)}`,
    name: `Org ${i}`,
    created_at: T0 + i,
  }));
const memberships = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    object: 'organization_membership',
    id: `orgmem_${pad(i)}`,
    role: 'org:member',
    organization: { id: `org_${pad(i % 7)}` },
    public_user_data: { user_id: `user_${pad(i)}` },
    created_at: T0 + i,
  }));

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

/** Query parameters of every request that reached the fake Clerk, in order. */
let requests: Record<string, string>[] = [];
afterEach(() => {
  requests = [];
});

const unauthorized = () =>
  HttpResponse.json(
    { errors: [{ message: 'Unauthorized', code: 'authentication_invalid' }] },
    { status: 401 },
  );

/** Clerk's list endpoints over fixed data, paging like Clerk does (offset, or the users cursor). */
function fakeClerk(data: { users?: object[]; organizations?: object[]; memberships?: object[] }) {
  const list = (items: object[], enveloped: boolean) => (request: Request) => {
    if (request.headers.get('authorization') !== `Bearer ${SECRET}`) return unauthorized();
    const url = new URL(request.url);
    const q = Object.fromEntries(url.searchParams);
    requests.push(q);
    const limit = Number(q.limit ?? 10);
    const start = q.starting_after
      ? items.findIndex((u) => (u as { id: string }).id === q.starting_after) + 1
      : Number(q.offset ?? 0);
    const page = items.slice(start, start + limit);
    return HttpResponse.json(enveloped ? { data: page, total_count: items.length } : page);
  };
  return [
    http.get(`${API}/users/count`, () =>
      HttpResponse.json({ object: 'total_count', total_count: data.users?.length }),
    ),
    http.get(`${API}/users`, ({ request }) => list(data.users ?? [], false)(request)),
    http.get(`${API}/organizations`, ({ request }) => list(data.organizations ?? [], true)(request)),
    http.get(`${API}/organization_memberships`, ({ request }) => list(data.memberships ?? [], true)(request)),
  ];
}

async function collect(iterable: AsyncIterable<Page>): Promise<Page[]> {
  const pages: Page[] = [];
  for await (const page of iterable) pages.push(page);
  return pages;
}

const client = (options: Partial<ClerkApiOptions> = {}) =>
  createClerkApi({ secretKey: SECRET, apiUrl: API, ...options });

describe('paging', () => {
  it('walks 1,234 users oldest first in pages of 500: offset for the first, the cursor after', async () => {
    server.use(...fakeClerk({ users: users(1234) }));
    const pages = await collect(client().pages(KINDS.user.list));
    expect(pages.map((p) => [p.offset, p.items.length, p.total, p.lastId])).toEqual([
      [0, 500, null, 'user_0499'],
      [500, 500, null, 'user_0999'],
      [1000, 234, null, 'user_1233'],
    ]);
    expect(pages.flatMap((p) => p.items)).toEqual(users(1234));
    expect(requests).toEqual([
      { limit: '500', order_by: '+created_at', offset: '0' },
      { limit: '500', order_by: '+created_at', starting_after: 'user_0499' },
      { limit: '500', order_by: '+created_at', starting_after: 'user_0999' },
    ]);
  });

  it.each([
    ['a cursor', { startOffset: 1000, startAfter: 'user_0999' }, { starting_after: 'user_0999' }],
    ['an offset only', { startOffset: 1000 }, { offset: '1000' }],
  ])('resumes users from %s', async (_label, options, position) => {
    server.use(...fakeClerk({ users: users(1234) }));
    const pages = await collect(client().pages(KINDS.user.list, options));
    expect(pages.map((p) => [p.offset, p.items.length])).toEqual([[1000, 234]]);
    expect(requests).toEqual([{ limit: '500', order_by: '+created_at', ...position }]);
  });

  it.each([
    ['organizations', KINDS.organization.list, organizations(600)],
    ['memberships', KINDS.membership.list, memberships(600)],
  ] as const)('walks %s by offset, with total_count', async (kind, list, items) => {
    server.use(...fakeClerk({ [kind]: items }));
    const pages = await collect(client().pages(list));
    expect(pages.map((p) => [p.offset, p.items.length, p.total])).toEqual([
      [0, 500, 600],
      [500, 100, 600],
    ]);
    expect(pages.flatMap((p) => p.items)).toEqual(items);
    expect(requests.map((q) => q.offset)).toEqual(['0', '500']);
    expect(requests.every((q) => q.order_by === '+created_at' && q.limit === '500')).toBe(true);
  });

  it('refuses a server that ignores the users cursor instead of looping', async () => {
    server.use(http.get(`${API}/users`, () => HttpResponse.json(users(500))));
    await expect(collect(client().pages(KINDS.user.list))).rejects.toMatchObject({
      code: 'unexpected_response',
    });
  });

  it('stops after an empty page when the total is a multiple of 500', async () => {
    server.use(...fakeClerk({ organizations: organizations(500) }));
    const pages = await collect(client().pages(KINDS.organization.list));
    expect(pages.map((p) => p.items.length)).toEqual([500, 0]);
  });

  it.each([
    ['users', KINDS.user.list, { users: users(3) }, 3, {}],
    ['organizations', KINDS.organization.list, { organizations: organizations(4) }, 4, { limit: '1' }],
    ['memberships', KINDS.membership.list, { memberships: memberships(5) }, 5, { limit: '1' }],
  ] as const)('counts %s', async (kind, list, data, total, query) => {
    server.use(...fakeClerk(data));
    expect(await client().count(list)).toBe(total);
    expect(requests).toEqual(kind === 'users' ? [] : [query]);
  });

  it('fetches the next page while the caller works on the current one, and no further', async () => {
    server.use(...fakeClerk({ organizations: organizations(1200) }));
    let secondRequested = () => {};
    const second = new Promise<void>((resolve) => {
      secondRequested = resolve;
    });
    server.use(
      http.get(`${API}/organizations`, ({ request }) => {
        if (new URL(request.url).searchParams.get('offset') === '500') secondRequested();
        return undefined; // falls through to fakeClerk
      }),
    );
    const seenWhileOnFirst: string[][] = [];
    for await (const page of client().pages(KINDS.organization.list)) {
      if (page.offset === 0) {
        await Promise.race([
          second,
          new Promise((_, reject) => setTimeout(reject, 2000, new Error('not prefetched'))),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 50));
        seenWhileOnFirst.push(requests.map((q) => q.offset ?? ''));
      }
    }
    expect(seenWhileOnFirst).toEqual([['0', '500']]);
    expect(requests.map((q) => q.offset)).toEqual(['0', '500', '1000']);
  });

  it('sends nothing more when the caller stops early', async () => {
    server.use(...fakeClerk({ organizations: organizations(1200) }));
    for await (const page of client().pages(KINDS.organization.list)) {
      if (page.offset === 0) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(requests.length).toBeLessThanOrEqual(2);
  });
});

describe('failures that stop at once', () => {
  const clerkSays = (message: string, long: string) => ({
    errors: [{ message, long_message: long, code: 'x' }],
  });
  it.each([
    [
      '401',
      401,
      clerkSays('Unauthorized', `Key ${SECRET} is invalid`),
      'unauthorized',
      /^Clerk rejected the secret key \(401\) for GET \/users\?limit=500&order_by=%2Bcreated_at&offset=0: check CLERK_SECRET_KEY — it must be the sk_test_… or sk_live_…/,
    ],
    [
      '403',
      403,
      clerkSays('Forbidden', 'Organizations are disabled'),
      'forbidden',
      /\(403\).*Organizations are disabled/,
    ],
    ['404', 404, {}, 'not_found', /404.*check CLERK_API_URL/],
    [
      '422',
      422,
      clerkSays('is invalid', 'order_by is invalid'),
      'bad_request',
      /^Bug: Clerk refused GET \/users\?limit=500.* \(422\).*Clerk says: order_by is invalid \[x\]/,
    ],
    ['400', 400, clerkSays('bad', 'Malformed request'), 'bad_request', /^Bug: .*\(400\).*Malformed request/],
  ])('%s', async (_label, status, body, code, message) => {
    server.use(
      http.get(`${API}/users`, () => {
        requests.push({});
        return HttpResponse.json(body, { status });
      }),
    );
    const error = await collect(client().pages(KINDS.user.list)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClerkApiError);
    expect(error).toMatchObject({ code, status, message: expect.stringMatching(message) });
    expect((error as Error).message).not.toContain(SECRET);
    expect(requests).toHaveLength(1);
  });

  it('names a non-JSON answer as a wrong CLERK_API_URL', async () => {
    server.use(http.get(`${API}/users/count`, () => HttpResponse.text('<html>')));
    await expect(client().count(KINDS.user.list)).rejects.toMatchObject({ code: 'unexpected_response' });
  });
});

describe('retries', () => {
  type Step = number | 'network';
  /** Answers /users/count with `steps` in turn, then 200 forever. */
  function scripted(steps: Step[], retryAfter?: string) {
    let i = 0;
    server.use(
      http.get(`${API}/users/count`, () => {
        const step = steps[i++];
        if (step === undefined) return HttpResponse.json({ object: 'total_count', total_count: 7 });
        if (step === 'network') return HttpResponse.error();
        return new HttpResponse(null, {
          status: step,
          headers: retryAfter ? { 'Retry-After': retryAfter } : {},
        });
      }),
    );
  }

  it.each([
    ['503, then 200', [503], [['server', 250]]],
    [
      '500 and 502, then 200',
      [500, 502],
      [
        ['server', 250],
        ['server', 500],
      ],
    ],
    ['a network error, then 200', ['network'], [['network', 250]]],
    ['429 without Retry-After, then 200', [429], [['rate_limited', 1000]]],
  ] as [string, Step[], [string, number][]][])('%s', async (_label, steps, retries) => {
    scripted(steps);
    const clock = virtualClock();
    const events: ApiEvent[] = [];
    const api = client({ ...clock, random: () => 0, onEvent: (e) => events.push(e) });
    expect(await api.count(KINDS.user.list)).toBe(7);
    expect(clock.sends).toHaveLength(steps.length + 1);
    expect(events.flatMap((e) => (e.type === 'retry' ? [[e.reason, e.delayMs]] : []))).toEqual(retries);
  });

  it.each([
    ['503', 503, 'server', /answered 503 to GET \/users\/count 3 times/],
    [
      'network errors',
      'network',
      'network',
      /Could not reach Clerk at https:\/\/api\.clerk\.test\/v1 .*check CLERK_API_URL/,
    ],
    ['429', 429, 'rate_limited', /kept answering 429/],
  ] as [string, Step, string, RegExp][])(
    'gives up after maxRetries of %s',
    async (_label, step, code, message) => {
      scripted([step, step, step, step]);
      const clock = virtualClock();
      const error = await client({ ...clock, maxRetries: 2 })
        .count(KINDS.user.list)
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
      expect(clock.sends).toHaveLength(3);
    },
  );

  it.each([
    ['Retry-After: 2', '2', 0, 2000],
    ['with jitter', '2', 0.5, 2250],
    ['capped', '3600', 0, 60_000],
  ])('pauses on 429, %s', async (_label, retryAfter, random, delayMs) => {
    scripted([429], retryAfter);
    const clock = virtualClock();
    const events: ApiEvent[] = [];
    await client({ ...clock, random: () => random, onEvent: (e) => events.push(e) }).count(KINDS.user.list);
    expect(events.filter((e) => e.type === 'pause')).toEqual([
      { type: 'pause', path: '/users/count', delayMs },
    ]);
    expect(clock.sends).toEqual([0, delayMs]);
  });

  it('holds every request of the client, in flight or queued, until a 429 pause ends', async () => {
    const clock = virtualClock();
    let paused = () => {};
    const pause = new Promise<void>((resolve) => {
      paused = resolve;
    });
    let n = 0;
    server.use(
      http.get(`${API}/users/count`, async () => {
        n++;
        if (n === 1) return new HttpResponse(null, { status: 429, headers: { 'Retry-After': '2' } });
        if (n <= 3) {
          // Still in flight when the first 429 lands; Clerk also refuses them, asking for less.
          await pause;
          return new HttpResponse(null, { status: 429, headers: { 'Retry-After': '1' } });
        }
        return HttpResponse.json({ object: 'total_count', total_count: 1 });
      }),
    );
    const queued: Promise<number>[] = [];
    const api = client({
      ...clock,
      random: () => 0,
      onEvent: (e) => {
        if (e.type !== 'pause' || queued.length > 0) return;
        queued.push(api.count(KINDS.user.list));
        paused();
      },
    });
    const counts = await Promise.all([
      api.count(KINDS.user.list),
      api.count(KINDS.user.list),
      api.count(KINDS.user.list),
    ]);
    expect([...counts, ...(await Promise.all(queued))]).toEqual([1, 1, 1, 1]);
    expect(clock.sends).toEqual([0, 0, 0, 2000, 2000, 2000, 2000]);
  });

  it('keeps to the request budget', async () => {
    server.use(...fakeClerk({ users: [] }));
    const clock = virtualClock();
    const api = client({ ...clock, rate: { requests: 5, windowMs: 200 } });
    await Promise.all(Array.from({ length: 11 }, () => api.count(KINDS.user.list)));
    expect(clock.sends).toEqual([0, 0, 0, 0, 0, 200, 200, 200, 200, 200, 400]);
  });

  it('stops waiting when the signal aborts', async () => {
    scripted([429], '30');
    const controller = new AbortController();
    const api = client({ onEvent: (e) => e.type === 'pause' && controller.abort(new Error('interrupted')) });
    await expect(api.count(KINDS.user.list, controller.signal)).rejects.toThrow('interrupted');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-05-12T10:00:00Z');
  it.each([
    ['seconds', '2', 2000],
    ['zero', '0', 0],
    ['fractional seconds', '1.5', 1500],
    ['an HTTP date', 'Tue, 12 May 2026 10:00:03 GMT', 3000],
    ['a past HTTP date', 'Tue, 12 May 2026 09:00:00 GMT', 0],
    ['garbage', 'soon', null],
    ['a negative number', '-1', null],
    ['absent', null, null],
  ])('%s', (_label, header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });
});
