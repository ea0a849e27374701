/**
 * @module Walks any of Clerk's list endpoints oldest first (`order_by=+created_at`), one page ahead
 * of its caller: by the `starting_after` cursor where the endpoint documents one and the server
 * honours it, otherwise by offset, with overlapping pages so that objects deleted meanwhile (which
 * shift every later offset) cannot make it skip any. Runtime-neutral.
 */
import type { ListEndpoint } from '../core/kinds.ts';
import { ClerkApiError } from './errors.ts';

export type Query = Record<string, string | number>;

/** How a page was asked for. */
export type PagingMode = 'cursor' | 'offset';
/** Why a walk that began by cursor went on by offset: the server ignored or refused the cursor. */
export type Fallback = 'cursor_ignored' | 'cursor_refused';

/** One page of a list, in the order Clerk returned it, without the objects an earlier page had. */
export interface Page {
  /** Position of `items[0]` in the whole list. */
  offset: number;
  /** Raw Clerk objects, not validated. */
  items: unknown[];
  /** Clerk's `total_count`, or null for a list without one (users: see `count`). */
  total: number | null;
  /** `id` of the last item: with `offset + items.length`, a checkpoint to resume from. */
  lastId: string | null;
  mode: PagingMode;
  /** Set on every page after the walk gave up the cursor. */
  fallback: Fallback | null;
}

export interface WalkOptions {
  /** Resume at this position (also numbers the pages). */
  startOffset?: number;
  /** The id of the last object already handled (a checkpoint's `lastId`): not handed out again. */
  startAfter?: string;
  signal?: AbortSignal;
  /** Objects per page; Clerk's maximum is 500. */
  pageSize?: number;
  /** Objects each offset page repeats of the one before, to absorb deletions between requests. */
  overlap?: number;
}

/** Said once when a walk starts, and again if it gives up the cursor. */
export interface PagingEvent {
  type: 'paging';
  path: string;
  mode: PagingMode;
  reason: 'start' | Fallback;
  /** The position the walk is at. */
  at: number;
}

export interface ListClient {
  get(path: string, query: Query, signal: AbortSignal): Promise<unknown>;
  /** Names CLERK_API_URL in errors about answers that are not Clerk's. */
  apiUrl: string;
  onEvent?: (event: PagingEvent) => void;
}

/** Clerk's maximum `limit`. */
export const PAGE_SIZE = 500;
/** A tenth of a page: up to 50 deletions between two requests cost nothing; more widen the overlap. */
export const OVERLAP = 50;

type Item = { id?: unknown; created_at?: unknown } | null;
const idOf = (item: unknown): string | null => {
  const id = (item as Item)?.id;
  return typeof id === 'string' ? id : null;
};
const createdOf = (item: unknown): number | null => {
  const at = (item as Item)?.created_at;
  return typeof at === 'number' ? at : null;
};

/** The last `capacity` ids handed out, for telling an overlap from new objects. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}
  add(id: string): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }
  has(id: string | null): boolean {
    return id !== null && this.ids.has(id);
  }
  get size(): number {
    return this.ids.size;
  }
}

/**
 * The error for an answer that is not shaped like Clerk's, naming CLERK_API_URL.
 * @example throw unexpectedAnswer('/users', 'array of objects', 'https://api.clerk.com/v1');
 */
export function unexpectedAnswer(path: string, missing: string, apiUrl: string): ClerkApiError {
  return new ClerkApiError(
    'unexpected_response',
    `Clerk's answer to GET ${path} has no ${missing}: check CLERK_API_URL (${apiUrl}).`,
    { path },
  );
}

/**
 * Pages of `endpoint`, oldest first, the next one fetched while the caller works on the current one.
 * A cursor page that repeats an object already handed out, or goes back in `created_at`, means the
 * server ignored the cursor; a 400/422 to it means it refused it: either way the walk goes on by
 * offset from where it is, and says so once through `onEvent`.
 *
 * @example
 * for await (const page of walkList(client, { path: '/users', enveloped: false, cursor: true })) {
 *   await apply(page.items);
 * }
 */
export async function* walkList(
  client: ListClient,
  endpoint: ListEndpoint,
  options: WalkOptions = {},
): AsyncGenerator<Page, void, undefined> {
  const { startOffset = 0, startAfter, signal, pageSize = PAGE_SIZE } = options;
  const baseOverlap = Math.min(options.overlap ?? OVERLAP, pageSize - 1);
  const { path, enveloped } = endpoint;
  const recent = new RecentIds(2 * pageSize);
  if (startAfter !== undefined) recent.add(startAfter);

  let mode: PagingMode = endpoint.cursor ? 'cursor' : 'offset';
  let fallback: Fallback | null = null;
  let position = startOffset;
  /** Where the next object not yet handed out sits in the server's list, as far as is known. */
  let serverAt = startOffset;
  /** The last page handed out: a cursor needs it, and checking the cursor was honoured too. */
  let previous: { ids: Set<string>; lastId: string | null; lastCreated: number | null } | null = null;

  const say = (reason: PagingEvent['reason']) =>
    client.onEvent?.({ type: 'paging', path, mode, reason, at: position });

  async function request(position: Query, signal: AbortSignal) {
    const query = { ...endpoint.query, limit: pageSize, order_by: '+created_at', ...position };
    const body = await client.get(path, query, signal);
    const envelope = body as { data?: unknown; total_count?: unknown } | null;
    const items = enveloped ? envelope?.data : body;
    if (!Array.isArray(items))
      throw unexpectedAnswer(path, enveloped ? 'data array' : 'array of objects', client.apiUrl);
    const total = enveloped && typeof envelope?.total_count === 'number' ? envelope.total_count : null;
    return { items: items as unknown[], total };
  }

  /** Whether a page asked for after `previous` by cursor is really what follows it. */
  function followsPrevious(items: unknown[]): boolean {
    if (previous === null) return true;
    const first = createdOf(items[0]);
    if (first !== null && previous.lastCreated !== null && first < previous.lastCreated) return false;
    return !items.some((item) => {
      const id = idOf(item);
      return id !== null && (previous?.ids.has(id) ?? false);
    });
  }

  /** The next page by cursor, or null once the server showed it does not honour one. */
  async function byCursor(after: string, signal: AbortSignal) {
    try {
      const page = await request({ starting_after: after }, signal);
      if (followsPrevious(page.items)) {
        serverAt += page.items.length;
        return { ...page, fresh: page.items };
      }
      fallback = 'cursor_ignored';
    } catch (error) {
      if (!(error instanceof ClerkApiError && error.code === 'bad_request')) throw error;
      fallback = 'cursor_refused';
    }
    mode = 'offset';
    say(fallback);
    return null;
  }

  /**
   * The next page by offset, starting `overlap` objects back and dropping those already handed
   * out. When none of the overlap is there, more objects were deleted meanwhile than it covers:
   * step further back (as far as the remembered ids reach) rather than skip some.
   */
  async function byOffset(signal: AbortSignal) {
    const resuming = previous === null && startAfter !== undefined;
    const reach = Math.min(serverAt, resuming ? pageSize : recent.size);
    let overlap = Math.min(baseOverlap, reach);
    for (;;) {
      const from = serverAt - overlap;
      const page = await request({ offset: from }, signal);
      const anchored = overlap === 0 || page.items.some((item) => recent.has(idOf(item)));
      if (!anchored && overlap < reach && page.items.length > 0) {
        // More than `overlap` were deleted: step back further, but less than a page beyond the last
        // step, so that the page still reaches past what was handed out.
        overlap = Math.min(reach, overlap * 4, overlap + pageSize - 1);
        continue;
      }
      // Resuming: objects up to the checkpoint's last id were handled by the interrupted run.
      const at = resuming ? page.items.findIndex((item) => idOf(item) === startAfter) : -1;
      const fresh = page.items.slice(at + 1).filter((item) => !recent.has(idOf(item)));
      serverAt = from + page.items.length;
      return { ...page, fresh };
    }
  }

  async function load(signal: AbortSignal): Promise<{ page: Page; more: boolean }> {
    const after = previous?.lastId ?? null;
    let got = mode === 'cursor' && after !== null ? await byCursor(after, signal) : null;
    got ??= await byOffset(signal);
    const { items, total, fresh } = got;
    if (items.length >= pageSize && fresh.length === 0)
      throw unexpectedAnswer(path, 'new objects on a full page (the list repeats itself)', client.apiUrl);
    const page: Page = {
      offset: position,
      items: fresh,
      total,
      lastId: idOf(fresh.at(-1)) ?? previous?.lastId ?? startAfter ?? null,
      mode,
      fallback,
    };
    for (const item of fresh) {
      const id = idOf(item);
      if (id !== null) recent.add(id);
    }
    position += fresh.length;
    previous = {
      ids: new Set(fresh.map(idOf).filter((id): id is string => id !== null)),
      lastId: page.lastId,
      lastCreated: createdOf(fresh.at(-1)) ?? previous?.lastCreated ?? null,
    };
    return { page, more: items.length >= pageSize };
  }

  // Our own signal, so a consumer that stops early also cancels the prefetched request.
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const prefetch = () => {
    const next = load(controller.signal);
    next.catch(() => {}); // surfaced when awaited; this only prevents an unhandled rejection meanwhile
    return next;
  };
  try {
    say('start');
    let next = prefetch();
    for (;;) {
      const { page, more } = await next;
      if (more) next = prefetch();
      yield page;
      if (!more) return;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    controller.abort();
  }
}
