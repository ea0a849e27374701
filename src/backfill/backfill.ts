/**
 * @module The backfill engine: pages Clerk's Backend API and applies each page with one call of the
 * same SQL the webhooks use, resumably; optionally prunes mirror rows whose Clerk object is gone.
 * Runtime-neutral: it needs a Store and a ClerkApi, nothing else.
 */
import type { ClerkApi, Fallback, Page, PagingMode } from '../clerk/api.ts';
import { ClerkApiError } from '../clerk/errors.ts';
import { type Candidate, KINDS, type KindName, type ListedKind, type RowOf, toRow } from '../core/kinds.ts';
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
  /** How Clerk's list was walked; `fallback` says why a walk begun by cursor went on by offset, from `at`. */
  paging: { mode: PagingMode; fallback: Fallback | null; at: number | null };
  errors: string[];
}

export interface BackfillOptions {
  /** Kinds with a Clerk list (`BACKFILL_KINDS`). */
  kinds: readonly ListedKind[];
  dryRun: boolean;
  prune: boolean;
  force: boolean;
  restart: boolean;
  /** Largest share of a kind's mirror rows a prune may delete without `force`. */
  pruneGuard?: number;
  signal?: AbortSignal;
  /** A kind's pass begins: its total in Clerk, and where an interrupted pass resumes (null: from the start). */
  onStart?: (p: { kind: KindName; total: number | null; resumedAt: number | null }) => void;
  onProgress?: (p: { kind: KindName; done: number; total: number | null; summary: KindSummary }) => void;
}

const unwrap = <T>(r: Result<T>): T => {
  if (!r.ok) throw r.error;
  return r.value;
};

/**
 * Backfills each kind in turn and returns a summary per kind.
 * @example const summaries = await runBackfill(store, api, { kinds: BACKFILL_KINDS, dryRun: false, prune: false, force: false, restart: false });
 */
export async function runBackfill(
  store: Store,
  api: ClerkApi,
  options: BackfillOptions,
): Promise<KindSummary[]> {
  const summaries: KindSummary[] = [];
  const removed: Removed = { user: new Set(), organization: new Set() };
  for (const kind of options.kinds) summaries.push(await backfillKind(store, api, kind, options, removed));
  return summaries;
}

/**
 * Users and organizations a prune removed (or, in a dry run, would remove): a real run deletes their
 * memberships with them, so a dry run must leave those out of the memberships' counts and prune.
 */
type Removed = { user: Set<string>; organization: Set<string> };

/** The kinds whose rows the SQL removes with their organization or user (memberships, invitations, domains). */
const GOES_WITH_PARENT: ReadonlySet<KindName> = new Set(['membership', 'invitation', 'domain']);

/** A row whose user or organization the prune removes goes with it (real run: refused as deleted). */
const orphaned = (removed: Removed, m: { organization_id?: string | null; user_id?: string | null }) =>
  removed.organization.has(m.organization_id ?? '') || removed.user.has(m.user_id ?? '');

async function backfillKind(
  store: Store,
  api: ClerkApi,
  kind: ListedKind,
  o: BackfillOptions,
  removed: Removed,
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
    paging: { mode: 'offset', fallback: null, at: null },
    errors: [],
  };
  // In a dry run nothing was removed, so a row of a would-be-pruned parent is dropped here.
  const dropOrphans = o.dryRun && GOES_WITH_PARENT.has(kind);
  // A dry run records nothing, so it keeps the ids it saw (only when it must preview a prune).
  const seen: string[] | undefined = o.dryRun && o.prune ? [] : undefined;
  const startedAt = new Date().toISOString();
  const pass = o.dryRun
    ? null
    : unwrap(await store.backfillBegin(kind, { restart: o.restart, trackSeen: o.prune }));
  if (pass?.resumed) s.resumedAt = pass.next_offset;

  const { list } = KINDS[kind];
  const total = await api.count(list, o.signal);
  o.onStart?.({ kind, total, resumedAt: s.resumedAt });
  const pages = api.pages(list, {
    ...(pass ? { startOffset: pass.next_offset } : {}),
    ...(pass?.last_id ? { startAfter: pass.last_id } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });

  // Pipelined three ways: the API client fetches page N+2 while this loop maps and encodes page N+1
  // and the database applies page N. Pages are applied one at a time, in order, so the checkpoint
  // holds. The mapping yields to the event loop between slices (see preparePage), or page N's
  // request would go out only after page N+1 is mapped.
  let applying: Promise<void> = Promise.resolve();
  try {
    for await (const page of pages) {
      o.signal?.throwIfAborted();
      s.paging = {
        mode: page.mode,
        fallback: page.fallback,
        at: page.fallback === null ? null : (s.paging.at ?? page.offset),
      };
      const { rows, fetched, checkpoint } = await preparePage(
        store,
        kind,
        page,
        s,
        seen,
        dropOrphans ? removed : undefined,
      );
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

  if (o.prune) {
    const by = pass ? { passId: pass.pass_id } : { seen: seen ?? [], startedAt };
    const gone = await prune(store, api, kind, by, s, o, dropOrphans ? removed : undefined);
    if (kind === 'user' || kind === 'organization') for (const id of gone) removed[kind].add(id);
  }
  if (pass) unwrap(await store.backfillFinish(kind, pass.pass_id, false));
  return s;
}

/** Items mapped between two turns of the event loop: ~4 ms of work for realistic users. */
const SLICE = 100;
/** The next turn of the event loop, after pending I/O (setImmediate where the runtime has it). */
const nextTurn = () => new Promise<void>((resolve) => (globalThis.setImmediate ?? setTimeout)(resolve));

/**
 * Validates and maps a page, then has the store encode the rows, while the previous page is still
 * being applied: what then waits is ~1 MB of JSON, not several MB of objects that would outlive
 * V8's young generation (measured at 100k users: a fifth less CPU, ~30 MB less peak RSS).
 *
 * It yields to the event loop every {@link SLICE} items. The previous page's request (~1.3 MB) is
 * more than a socket takes at once; the rest goes out only when the loop turns, and Postgres can
 * start on the page only once it has all of it. Mapped in one go, the page held that request back
 * for the whole mapping (measured: a page applied in ~95 ms instead of ~65 ms).
 */
async function preparePage(
  store: Store,
  kind: KindName,
  page: Page,
  s: KindSummary,
  seen: string[] | undefined,
  removed: Removed | undefined,
) {
  const rows: RowOf[KindName][] = [];
  for (const [i, item] of page.items.entries()) {
    if (i % SLICE === 0) await nextTurn();
    const converted = toRow(kind, item);
    if (converted.ok) {
      if (removed && orphaned(removed, converted.row as RowOf['membership'])) s.stale++;
      else rows.push(converted.row);
    } else {
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
  removed: Removed | undefined,
): Promise<string[]> {
  const unseen = unwrap(await store.backfillUnseen(kind, by));
  const candidates = removed ? unseen.filter((c) => !orphaned(removed, c)) : unseen;
  if (candidates.length === 0) return [];

  const guard = o.pruneGuard ?? 0.1;
  const mirrored = s.fetched + candidates.length;
  if (!o.force && candidates.length > guard * mirrored) {
    s.pruneRefused = candidates.map((c) => c.id);
    return [];
  }
  const gone: string[] = [];
  for (const candidate of candidates)
    if (await goneFromClerk(api, kind, candidate, o.signal)) gone.push(candidate.id);
  if (!o.dryRun && gone.length > 0) unwrap(await store.remove(kind, gone));
  s.deleted += gone.length;
  return gone;
}

/** Offset paging can skip an object deleted mid-pass: ask Clerk about each candidate before pruning it. */
async function goneFromClerk(
  api: ClerkApi,
  kind: KindName,
  c: Candidate,
  signal?: AbortSignal,
): Promise<boolean> {
  const lookup = KINDS[kind].lookup;
  if (lookup === null) throw new TypeError(`goneFromClerk: Clerk has no lookup of ${kind}`);
  const { path, query, inList } = lookup(c);
  try {
    const body = (await api.get(path, query, signal)) as Record<string, unknown> | null;
    if (inList === undefined) return false;
    const list = body?.[inList === true ? 'data' : inList];
    return !(Array.isArray(list) ? (list as { id?: unknown }[]) : []).some((o) => o?.id === c.id);
  } catch (error) {
    if (error instanceof ClerkApiError && error.code === 'not_found') return true;
    throw error;
  }
}
