/**
 * @module The backfill engine: pages Clerk's Backend API and applies each page with one call of the
 * same SQL the webhooks use, resumably; optionally prunes mirror rows whose Clerk object is gone.
 * Runtime-neutral: it needs a Store and a ClerkApi, nothing else.
 */
import type { ClerkApi, Page } from '../clerk/api.ts';
import { ClerkApiError } from '../clerk/errors.ts';
import { type Candidate, KINDS, type KindName, type RowOf, toRow } from '../core/kinds.ts';
import type { BatchCounts, Result, Store } from '../store/port.ts';

export interface KindSummary {
  kind: KindName;
  fetched: number;
  inserted: number;
  updated: number;
  unchanged: number;
  /** Older than the mirror, or of an object deleted meanwhile. */
  stale: number;
  /** Pruned (or, in a dry run, would be). */
  deleted: number;
  failed: number;
  /** Prune candidates held back by the guard (set with --force to go ahead). */
  pruneRefused: string[];
  resumedAt: number | null;
  errors: string[];
}

export interface BackfillOptions {
  kinds: readonly KindName[];
  dryRun: boolean;
  prune: boolean;
  force: boolean;
  restart: boolean;
  /** Largest share of a kind's mirror rows a prune may delete without `force`. */
  pruneGuard?: number;
  signal?: AbortSignal;
  onProgress?: (p: { kind: KindName; done: number; total: number | null; summary: KindSummary }) => void;
}

const unwrap = <T>(r: Result<T>): T => {
  if (!r.ok) throw r.error;
  return r.value;
};

/**
 * Backfills each kind in turn and returns a summary per kind.
 * @example const summaries = await runBackfill(store, api, { kinds: KIND_NAMES, dryRun: false, prune: false, force: false, restart: false });
 */
export async function runBackfill(
  store: Store,
  api: ClerkApi,
  options: BackfillOptions,
): Promise<KindSummary[]> {
  const summaries: KindSummary[] = [];
  for (const kind of options.kinds) summaries.push(await backfillKind(store, api, kind, options));
  return summaries;
}

async function backfillKind(
  store: Store,
  api: ClerkApi,
  kind: KindName,
  o: BackfillOptions,
): Promise<KindSummary> {
  const s: KindSummary = {
    kind,
    fetched: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    stale: 0,
    deleted: 0,
    failed: 0,
    pruneRefused: [],
    resumedAt: null,
    errors: [],
  };
  // A dry run records nothing, so it keeps the ids it saw (only when it must preview a prune).
  const seen: string[] | undefined = o.dryRun && o.prune ? [] : undefined;
  const startedAt = new Date().toISOString();
  const pass = o.dryRun
    ? null
    : unwrap(await store.backfillBegin(kind, { restart: o.restart, trackSeen: o.prune }));
  if (pass?.resumed) s.resumedAt = pass.next_offset;

  const { list } = KINDS[kind];
  const total = await api.count(list, o.signal);
  const pages = api.pages(list, {
    ...(pass ? { startOffset: pass.next_offset } : {}),
    ...(pass?.last_id && list.cursor ? { startAfter: pass.last_id } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });

  // Pipelined three ways: the API client fetches page N+2 while this loop maps and encodes page N+1
  // and the database applies page N. Pages are applied one at a time, in order, so the checkpoint
  // holds.
  let applying: Promise<void> = Promise.resolve();
  try {
    for await (const page of pages) {
      o.signal?.throwIfAborted();
      const { rows, fetched, checkpoint } = preparePage(store, kind, page, s, seen);
      await applying;
      o.signal?.throwIfAborted();
      applying = (
        pass ? store.backfillPage(kind, pass.pass_id, checkpoint, rows) : store.backfillCompare(kind, rows)
      ).then((result) => {
        add(s, fetched, unwrap(result));
        o.onProgress?.({ kind, done: checkpoint.nextOffset, total, summary: s });
      });
    }
  } finally {
    // Let the page in flight finish (it commits its own checkpoint) before returning or throwing.
    await applying.catch(() => {});
  }
  await applying;

  if (o.prune)
    await prune(store, api, kind, pass ? { passId: pass.pass_id } : { seen: seen ?? [], startedAt }, s, o);
  if (pass) unwrap(await store.backfillFinish(kind, pass.pass_id, false));
  return s;
}

/**
 * Validates and maps a page, then has the store encode the rows, while the previous page is still
 * being applied: what then waits is ~1 MB of JSON, not several MB of objects that would outlive
 * V8's young generation (measured at 100k users: a fifth less CPU, ~30 MB less peak RSS).
 */
function preparePage(store: Store, kind: KindName, page: Page, s: KindSummary, seen: string[] | undefined) {
  const rows: RowOf[KindName][] = [];
  for (const item of page.items) {
    const converted = toRow(kind, item);
    if (converted.ok) rows.push(converted.row);
    else {
      s.failed++;
      const id = (item as { id?: unknown } | null)?.id;
      if (s.errors.length < 20)
        s.errors.push(`${typeof id === 'string' ? id : '(no id)'}: ${converted.error}`);
    }
  }
  seen?.push(...rows.map((r) => r.id));
  const fetched = page.items.length;
  return {
    rows: store.prepareRows(kind, rows),
    fetched,
    checkpoint: { nextOffset: page.offset + fetched, lastId: page.lastId },
  };
}

function add(s: KindSummary, fetched: number, c: BatchCounts): void {
  s.fetched += fetched;
  s.inserted += c.inserted;
  s.updated += c.updated;
  s.unchanged += c.unchanged;
  s.stale += c.stale + c.deleted;
}

async function prune(
  store: Store,
  api: ClerkApi,
  kind: KindName,
  by: { passId: string } | { seen: string[]; startedAt: string },
  s: KindSummary,
  o: BackfillOptions,
): Promise<void> {
  const candidates = unwrap(await store.backfillUnseen(kind, by));
  if (candidates.length === 0) return;

  const guard = o.pruneGuard ?? 0.1;
  const mirrored = s.fetched + candidates.length;
  if (!o.force && candidates.length > guard * mirrored) {
    s.pruneRefused = candidates.map((c) => c.id);
    return;
  }
  const gone: string[] = [];
  for (const candidate of candidates)
    if (await goneFromClerk(api, kind, candidate, o.signal)) gone.push(candidate.id);
  if (!o.dryRun && gone.length > 0) unwrap(await store.remove(kind, gone));
  s.deleted += gone.length;
}

/** Offset paging can skip an object deleted mid-pass: ask Clerk about each candidate before pruning it. */
async function goneFromClerk(
  api: ClerkApi,
  kind: KindName,
  c: Candidate,
  signal?: AbortSignal,
): Promise<boolean> {
  const { path, query, inList } = KINDS[kind].lookup(c);
  try {
    const body = (await api.get(path, query, signal)) as { data?: { id?: string }[] } | null;
    return inList === true && !(body?.data ?? []).some((o) => o.id === c.id);
  } catch (error) {
    if (error instanceof ClerkApiError && error.code === 'not_found') return true;
    throw error;
  }
}
