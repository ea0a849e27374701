import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ApiEvent, createClerkApi, type Page } from '../../src/clerk/api.ts';
import { KINDS, type ListedKind } from '../../src/core/kinds.ts';
import { type ClerkStandin, generateClerkData, startClerkStandin } from '../support/clerk-standin.ts';

const SECRET_KEY = 'sk_test_paging';
let clerk: ClerkStandin;

beforeAll(async () => {
  clerk = await startClerkStandin({
    secretKey: SECRET_KEY,
    data: generateClerkData({ users: 0, organizations: 0, membersPerOrg: 0 }),
  });
});
afterAll(() => clerk?.close());
beforeEach(() => {
  clerk.data = generateClerkData({ users: 1_234, organizations: 1_234, membersPerOrg: 1 });
  clerk.cursor = 'honour';
  clerk.beforeAnswer = null;
});

/** Runs `change` once, just before the stand-in answers the first request whose query has `param`. */
function onRequest(param: string, change: () => void) {
  clerk.beforeAnswer = (url) => {
    if (!url.search.includes(param)) return;
    clerk.beforeAnswer = null;
    change();
  };
}

async function walk(kind: ListedKind, options: { startOffset?: number; startAfter?: string } = {}) {
  const events: ApiEvent[] = [];
  const api = createClerkApi({
    secretKey: SECRET_KEY,
    apiUrl: clerk.url,
    rate: { requests: 10_000, windowMs: 1_000 },
    onEvent: (e) => events.push(e),
  });
  const pages: Page[] = [];
  for await (const page of api.pages(KINDS[kind].list, options)) {
    pages.push(page);
  }
  const requests = events.flatMap((e) =>
    e.type === 'response'
      ? [e.path.replace(/^[^?]*\?/, '').replace('limit=500&order_by=%2Bcreated_at&', '')]
      : [],
  );
  const paging = events.flatMap((e) => (e.type === 'paging' ? [[e.mode, e.reason, e.at]] : []));
  const ids = pages.flatMap((p) => p.items.map((i) => (i as { id: string }).id));
  return { pages, requests, paging, ids };
}

const idsOf = (items: { id: string }[]) => items.map((i) => i.id);

describe('paging a Clerk list', () => {
  it('walks by cursor when the server honours it, and says so once', async () => {
    const r = await walk('user');
    expect(r.ids).toEqual(idsOf(clerk.data.users));
    expect(r.requests).toEqual(['offset=0', 'starting_after=user_00000499', 'starting_after=user_00000999']);
    expect(r.paging).toEqual([['cursor', 'start', 0]]);
    expect(r.pages.map((p) => [p.offset, p.mode, p.fallback])).toEqual([
      [0, 'cursor', null],
      [500, 'cursor', null],
      [1000, 'cursor', null],
    ]);
  });

  it.each([
    ['ignores the cursor (a page repeats)', 'ignore', 'cursor_ignored'],
    ['refuses the cursor (422)', 'refuse', 'cursor_refused'],
  ] as const)('falls back to overlapping offsets when the server %s', async (_label, behaviour, reason) => {
    clerk.cursor = behaviour;
    const r = await walk('user');
    expect(r.ids).toEqual(idsOf(clerk.data.users));
    expect(r.paging).toEqual([
      ['cursor', 'start', 0],
      ['offset', reason, 500],
    ]);
    expect(r.requests).toEqual(['offset=0', 'starting_after=user_00000499', 'offset=450', 'offset=900']);
    // Each offset page repeats the last 50 of the one before, and hands out only the 450 after them.
    expect(r.pages.map((p) => [p.offset, p.items.length, p.mode, p.fallback])).toEqual([
      [0, 500, 'cursor', null],
      [500, 450, 'offset', reason],
      [950, 284, 'offset', reason],
    ]);
  });

  it('switches to offsets when the server stops honouring the cursor mid-run', async () => {
    onRequest('starting_after=user_00000999', () => {
      clerk.cursor = 'ignore';
    });
    const r = await walk('user');
    expect(r.ids).toEqual(idsOf(clerk.data.users));
    expect(r.paging).toEqual([
      ['cursor', 'start', 0],
      ['offset', 'cursor_ignored', 1000],
    ]);
    expect(r.pages.map((p) => p.mode)).toEqual(['cursor', 'cursor', 'offset']);
    expect(r.requests).toEqual([
      'offset=0',
      'starting_after=user_00000499',
      'starting_after=user_00000999',
      'offset=950',
    ]);
  });

  it.each([
    ['fewer than the overlap', 30, 'offset=450'],
    ['more than the overlap (it steps further back)', 300, 'offset=450'],
    ['more than the overlap, two pages in', 300, 'offset=900'],
  ])('skips no object when %s are deleted between two offset pages', async (_label, deleted, before) => {
    const all = idsOf(clerk.data.organizations);
    // Deleted from the first page after it was served: every later offset shifts by `deleted`.
    const gone = new Set(all.slice(100, 100 + deleted));
    onRequest(before, () => {
      clerk.data.organizations = clerk.data.organizations.filter((o) => !gone.has(o.id));
    });
    const r = await walk('organization');
    expect(r.ids).toEqual(all);
    expect(r.paging).toEqual([['offset', 'start', 0]]);
  });

  it('resumes by offset after the checkpoint, handing out nothing before it', async () => {
    // Since the interrupted run, 20 objects before its position were deleted.
    const all = idsOf(clerk.data.users);
    clerk.data.users = clerk.data.users.filter((_u, i) => i < 10 || i >= 30);
    const r = await walk('user', { startOffset: 1_000, startAfter: all[999] as string });
    expect(r.ids).toEqual(all.slice(1_000));
    expect(r.requests[0]).toBe('offset=950');
  });

  it('refuses a list that ignores the offset too, instead of looping', async () => {
    clerk.cursor = 'ignore';
    const api = createClerkApi({ secretKey: SECRET_KEY, apiUrl: clerk.url, fetch: repeatFirstPage });
    const error = await (async () => {
      for await (const _ of api.pages(KINDS.user.list));
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'unexpected_response',
      message: expect.stringMatching(/repeats itself/),
    });
  });
});

/** A server that answers every page request with the first page. */
const repeatFirstPage: typeof fetch = (input, init) => {
  const url = new URL(String(input));
  url.searchParams.delete('offset');
  url.searchParams.delete('starting_after');
  return fetch(url, init);
};
