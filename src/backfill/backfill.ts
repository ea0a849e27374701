/**
 * @module The backfill engine: pages Clerk's Backend API and applies each page with one call of the
 * same SQL the webhooks use, resumably; optionally prunes mirror rows whose Clerk object is gone.
 * Runtime-neutral: it needs a Store and a ClerkApi, nothing else.
 */
import type { ClerkApi, Fallback, Kind, Page, PagingMode } from '../clerk/api.ts';
import { ClerkApiError } from '../clerk/errors.ts';
import { membershipSchema, organizationSchema, userSchema } from '../core/events.ts';
import { toMembershipRow, toOrganizationRow, toUserRow } from '../core/map.ts';
import type { BatchCounts, ObjectKind, RowOf } from '../core/rows.ts';
import type { Result, Store, UnseenRow } from '../core/store.ts';

export const KINDS = ['users', 'organizations', 'memberships'] as const satisfies readonly Kind[];

const OBJECT_KIND = {
  users: 'user',
  organizations: 'organization',
  memberships: 'membership',
} as const satisfies Record<Kind, ObjectKind>;

/** Turns one raw Clerk object into a row, or says why it cannot be (zod paths, never values). */
const toRow: {
  [K in Kind]: (
    item: unknown,
  ) => { ok: true; row: RowOf[(typeof OBJECT_KIND)[K]] } | { ok: false; error: string };
} = {
  users: (item) => convert(userSchema.safeParse(item), toUserRow),
  organizations: (item) => convert(organizationSchema.safeParse(item), toOrganizationRow),
  memberships: (item) => convert(membershipSchema.safeParse(item), toMembershipRow),
};

function convert<T, R>(
  parsed:
    | { success: true; data: T }
    | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } },
  map: (value: T) => R,
): { ok: true; row: R } | { ok: false; error: string } {
  if (parsed.success) return { ok: true, row: map(parsed.data) };
  return { ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
}

export interface KindSummary {
  kind: Kind;
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
  kinds: readonly Kind[];
  dryRun: boolean;
  prune: boolean;
  force: boolean;
  restart: boolean;
  /** Largest share of a kind's mirror rows a prune may delete without `force`. */
  pruneGuard?: number;
  signal?: AbortSignal;
  /** A kind's pass begins: its total in Clerk, and where an interrupted pass resumes (null: from the start). */
  onStart?: (p: { kind: Kind; total: number | null; resumedAt: number | null }) => void;
  onProgress?: (p: { kind: Kind; done: number; total: number | null; summary: KindSummary }) => void;
}

export class BackfillError extends Error {
  override name = 'BackfillError';
}

const unwrap = <T>(r: Result<T>): T => {
  if (!r.ok) throw r.error;
  return r.value;
};

/**
 * Backfills each kind in turn and returns a summary per kind.
 * @example const summaries = await runBackfill(store, api, { kinds: KINDS, dryRun: false, prune: false, force: false, restart: false });
 */
export async function runBackfill(
  store: Store,
  api: ClerkApi,
  options: BackfillOptions,
): Promise<KindSummary[]> {
  const summaries: KindSummary[] = [];
  const removed: Removed = { users: new Set(), organizations: new Set() };
  for (const kind of options.kinds) summaries.push(await backfillKind(store, api, kind, options, removed));
  return summaries;
}

/**
 * Users and organizations a prune removed (or, in a dry run, would remove): a real run deletes their
 * memberships with them, so a dry run must leave those out of the memberships' counts and prune.
 */
type Removed = { users: Set<string>; organizations: Set<string> };

/** A membership whose user or organization the prune removes goes with it (real run: refused as deleted). */
const orphaned = (removed: Removed, m: { organization_id?: string | null; user_id?: string | null }) =>
  removed.organizations.has(m.organization_id ?? '') || removed.users.has(m.user_id ?? '');

async function backfillKind(
  store: Store,
  api: ClerkApi,
  kind: Kind,
  o: BackfillOptions,
  removed: Removed,
): Promise<KindSummary> {
  const objectKind = OBJECT_KIND[kind];
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
  // In a dry run nothing was removed, so a membership of a would-be-pruned parent is dropped here.
  const dropOrphans = o.dryRun && kind === 'memberships';
  // A dry run records nothing, so it keeps the ids it saw (only when it must preview a prune).
  const seen: string[] | undefined = o.dryRun && o.prune ? [] : undefined;
  const startedAt = new Date().toISOString();
  const pass = o.dryRun
    ? null
    : unwrap(await store.backfillBegin(objectKind, { restart: o.restart, trackSeen: o.prune }));
  if (pass?.resumed) s.resumedAt = pass.next_offset;

  const total = await api.count(kind, o.signal);
  o.onStart?.({ kind, total, resumedAt: s.resumedAt });
  const pages = api.pages(kind, {
    ...(pass ? { startOffset: pass.next_offset } : {}),
    ...(pass?.last_id ? { startAfter: pass.last_id } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });

  // Pipelined three ways: the API client fetches page N+2 while this loop maps and encodes page N+1
  // and the database applies page N. Pages are applied one at a time, in order, so the checkpoint
  // holds.
  let applying: Promise<void> = Promise.resolve();
  try {
    for await (const page of pages) {
      o.signal?.throwIfAborted();
      s.paging = {
        mode: page.mode,
        fallback: page.fallback,
        at: page.fallback === null ? null : (s.paging.at ?? page.offset),
      };
      const { rows, fetched, checkpoint } = preparePage(
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
        pass
          ? store.backfillPage(objectKind, pass.pass_id, checkpoint, rows)
          : store.backfillCompare(objectKind, rows)
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
    if (kind === 'users' || kind === 'organizations') for (const id of gone) removed[kind].add(id);
  }
  if (pass) unwrap(await store.backfillFinish(objectKind, pass.pass_id, false));
  return s;
}

/**
 * Validates and maps a page, then has the store encode the rows, while the previous page is still
 * being applied: what then waits is ~1 MB of JSON, not several MB of objects that would outlive
 * V8's young generation (measured at 100k users: a fifth less CPU, ~30 MB less peak RSS).
 */
function preparePage(
  store: Store,
  kind: Kind,
  page: Page,
  s: KindSummary,
  seen: string[] | undefined,
  removed: Removed | undefined,
) {
  const rows: RowOf[ObjectKind][] = [];
  for (const item of page.items) {
    const converted = toRow[kind](item);
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
    rows: store.prepareRows(OBJECT_KIND[kind], rows),
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
  kind: Kind,
  by: { passId: string } | { seen: string[]; startedAt: string },
  s: KindSummary,
  o: BackfillOptions,
  removed: Removed | undefined,
): Promise<string[]> {
  const objectKind = OBJECT_KIND[kind];
  const unseen = unwrap(await store.backfillUnseen(objectKind, by));
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
  if (!o.dryRun && gone.length > 0) unwrap(await store.remove(objectKind, gone));
  s.deleted += gone.length;
  return gone;
}

/** Offset paging can skip an object deleted mid-pass: ask Clerk about each candidate before pruning it. */
async function goneFromClerk(
  api: ClerkApi,
  kind: Kind,
  c: UnseenRow,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    if (kind === 'memberships') {
      const body = (await api.get(
        `/organizations/${encodeURIComponent(c.organization_id ?? '')}/memberships`,
        { user_id: c.user_id ?? '', limit: 100 },
        signal,
      )) as {
        data?: { id?: string }[];
      };
      return !(body.data ?? []).some((m) => m.id === c.id);
    }
    await api.get(`/${kind}/${encodeURIComponent(c.id)}`, undefined, signal);
    return false;
  } catch (error) {
    if (error instanceof ClerkApiError && error.code === 'not_found') return true;
    throw error;
  }
}
