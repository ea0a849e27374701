/**
 * @module `clerk-sync replay`: re-applies the ledger's failed events (after an upgrade fixed their
 * cause) through the same SQL the webhooks use.
 */
import { parseConfig } from '../../core/config.ts';
import { interpret } from '../../core/dispatch.ts';
import { fromHex } from '../../store/failure.ts';
import { openStore } from '../../store/open.ts';
import type { FailedEvent, FailureReason, Store } from '../../store/port.ts';
import { CliError, type Command, type Io, must } from '../command.ts';

/** What became of one failed event. */
export type ReplayOutcome = 'applied' | 'stale' | 'duplicate' | 'failed' | 'erased' | 'ignored';

export interface ReplayedEvent {
  id: string;
  type: string;
  outcome: ReplayOutcome;
  /** Why it still fails (outcome `failed`). */
  error?: string;
}

export interface ReplaySummary {
  replayed: number;
  applied: number;
  stale: number;
  duplicate: number;
  still_failed: number;
  /** The payload was erased when its user was deleted: nothing left to re-apply. */
  erased: number;
  /** A type this service does not mirror: left failed. */
  ignored: number;
  events: ReplayedEvent[];
}

export interface ReplayOptions {
  /** Only events received at or after this instant (ISO). */
  since?: string;
  /** Only these svix-ids. */
  ids?: string[];
  /** Events fetched per page. */
  pageSize?: number;
}

const COUNTER: Record<ReplayOutcome, Exclude<keyof ReplaySummary, 'replayed' | 'events'>> = {
  applied: 'applied',
  stale: 'stale',
  duplicate: 'duplicate',
  failed: 'still_failed',
  erased: 'erased',
  ignored: 'ignored',
};

/** The failed event's payload, parsed back from its bytes when the ledger keeps it that way. */
function payloadOf(event: FailedEvent): { payload: unknown; json: boolean } | null {
  if (event.payload !== null && event.payload !== undefined) return { payload: event.payload, json: true };
  if (event.payload_hex === null || event.payload_hex === undefined) return null;
  const raw = fromHex(event.payload_hex);
  try {
    return { payload: JSON.parse(raw), json: true };
  } catch {
    return { payload: { raw }, json: false };
  }
}

async function replayOne(store: Store, event: FailedEvent): Promise<ReplayedEvent> {
  const { id, type } = event;
  const kept = payloadOf(event);
  if (kept === null) return { id, type, outcome: 'erased' };
  const result = interpret(kept.payload);
  if (result.kind === 'ignored') return { id, type, outcome: 'ignored' };
  let failure: string;
  let reason: FailureReason;
  if (result.kind === 'invalid') {
    failure = result.error;
    reason = kept.json ? result.reason : 'not_json';
  } else {
    const applied = await store.applyEvent({
      eventId: id,
      type: result.type,
      kind: result.objectKind,
      op: result.op,
      data: result.data,
      occurredAt: result.occurredAt,
    });
    if (applied.ok) return { id, type, outcome: applied.value };
    // Anything but a refusal of this event's content (the one policy) stops the run: retry later.
    if (applied.error.retryable) throw applied.error;
    failure = `replay: ${applied.error.message}`;
    reason = applied.error.reason ?? 'data_exception';
  }
  // Stored again as it was kept (jsonb or bytes), with the new error.
  const outcome = must(
    await store.applyEvent({
      eventId: id,
      type,
      failure,
      reason,
      occurredAt: event.occurred_at,
      ...(event.payload_hex == null ? { payload: event.payload } : { payloadHex: event.payload_hex }),
    }),
  );
  return outcome === 'failed' ? { id, type, outcome, error: failure } : { id, type, outcome };
}

/**
 * Re-applies failed ledger events, oldest first, one transaction each, and counts the outcomes.
 * Throws the store's error when the database becomes unavailable.
 *
 * @example
 * const summary = await runReplay(createStore(sqlRpc(db)), { since: '2026-11-01T00:00:00Z' });
 * summary.still_failed; // events whose payload still cannot be applied
 */
export async function runReplay(store: Store, options: ReplayOptions = {}, io?: Io): Promise<ReplaySummary> {
  const pageSize = options.pageSize ?? 200;
  const summary: ReplaySummary = {
    replayed: 0,
    applied: 0,
    stale: 0,
    duplicate: 0,
    still_failed: 0,
    erased: 0,
    ignored: 0,
    events: [],
  };
  // An event that fails again gets a new received_at and shows up once more at the end of the
  // walk: each id is replayed once per run. Pages follow received_at; when a whole page shares
  // one received_at the cursor cannot move, so the page grows instead.
  const seen = new Set<string>();
  let since = options.since;
  let max = pageSize;
  for (;;) {
    const page = must(
      await store.failedEvents({
        ...(since === undefined ? {} : { since }),
        ...(options.ids === undefined ? {} : { ids: options.ids }),
        max,
      }),
    );
    for (const event of page) {
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      const replayed = await replayOne(store, event);
      summary.replayed++;
      summary[COUNTER[replayed.outcome]]++;
      summary.events.push(replayed);
      if (io?.tty && io.progress) io.progress(`replaying failed events… ${summary.replayed}`);
    }
    if (page.length < max) break;
    const last = (page.at(-1) as FailedEvent).received_at;
    if (last === since) max *= 2;
    else {
      since = last;
      max = pageSize;
    }
  }
  if (io?.tty && io.progress && summary.replayed > 0) io.progress('');
  return summary;
}

const DURATION = /^(\d+)\s*(m|h|d|w)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * `--since`: an ISO date or a duration back from `now` (`90m`, `24h`, `7d`, `2w`).
 * @example parseSince('24h', Date.UTC(2026, 0, 2)); // '2026-01-01T00:00:00.000Z'
 */
export function parseSince(value: string, now = Date.now()): string {
  const duration = DURATION.exec(value.trim());
  if (duration) {
    const [, amount, unit] = duration as unknown as [string, string, keyof typeof UNIT_MS];
    return new Date(now - Number(amount) * UNIT_MS[unit]).toISOString();
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(value.trim()) ? Date.parse(value.trim()) : Number.NaN;
  if (Number.isNaN(at))
    throw new CliError(
      `--since ${JSON.stringify(value)} is neither an ISO date (2026-11-01, 2026-11-01T12:00:00Z) nor a duration (90m, 24h, 7d, 2w)`,
    );
  return new Date(at).toISOString();
}

/** The summary line, e.g. `Replayed 3: applied 1, stale 0, duplicate 0, still failed 1, erased 1`. */
export function summaryLine(s: ReplaySummary): string {
  const line = `Replayed ${s.replayed}: applied ${s.applied}, stale ${s.stale}, duplicate ${s.duplicate}, still failed ${s.still_failed}, erased ${s.erased}`;
  return s.ignored > 0 ? `${line}, ignored ${s.ignored} (types not mirrored)` : line;
}

export const replay: Command = {
  summary: 're-apply ledger events that failed (after an upgrade fixed their cause)',
  usage: [
    'clerk-sync replay [--since <ISO date | 24h | 7d>] [--id <svix-id>]... [--json]',
    'clerk-sync replay --discard <svix-id>... [--json]',
    '',
    '  --since    only events received since then (an ISO date, or 90m, 24h, 7d, 2w ago)',
    '  --id       only this event (svix-id); repeat for several',
    '  --discard  drop these failed events on purpose (their content can never apply): they stay',
    '             in the ledger as discarded, without payload, and doctor stops counting them',
    '  --json     print the summary and every event as JSON',
    '',
    'Events still failing keep their new error; erased ones (the user was deleted) are left alone.',
    'Exit status 0 only when every event replayed was applied (or found stale or already applied).',
  ].join('\n'),
  options: {
    since: { type: 'string' },
    id: { type: 'string', multiple: true },
    discard: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }, env, io) {
    if (Array.isArray(values.discard))
      return discard([...(values.discard as string[]), ...positionals], env, io, values.json === true);
    const since = typeof values.since === 'string' ? parseSince(values.since) : undefined;
    const ids = Array.isArray(values.id) ? (values.id as string[]) : undefined;
    const store = await openStore(parseConfig(env));
    let summary: ReplaySummary;
    try {
      summary = await runReplay(
        store,
        { ...(since === undefined ? {} : { since }), ...(ids === undefined ? {} : { ids }) },
        io,
      );
    } finally {
      await store.close();
    }
    if (values.json) {
      io.out(JSON.stringify(summary));
    } else if (summary.replayed === 0) {
      io.out(ids || since ? 'No failed events match.' : 'No failed events to replay.');
    } else {
      for (const e of summary.events)
        if (e.outcome === 'failed') io.out(`still failed: ${e.id} (${e.type}): ${e.error}`);
      io.out(summaryLine(summary));
    }
    const missing = ids?.filter((id) => !summary.events.some((e) => e.id === id)) ?? [];
    if (missing.length > 0 && !values.json)
      io.out(`Not failed in the ledger (or unknown): ${missing.join(', ')}`);
    const unresolved = summary.still_failed + summary.erased + summary.ignored;
    if (unresolved === 0) return 0;
    io.err(
      `clerk-sync replay: ${unresolved} event(s) not applied and still failed in the ledger — fix the cause (often: upgrade clerk-supabase-sync) and replay again, or drop those that can never apply with clerk-sync replay --discard <svix-id>`,
    );
    return 1;
  },
};

async function discard(
  ids: string[],
  env: Parameters<Command['run']>[1],
  io: Io,
  json: boolean,
): Promise<number> {
  if (ids.length === 0)
    throw new CliError('--discard needs the svix-id of a failed event (see clerk-sync replay --json)');
  const store = await openStore(parseConfig(env));
  let discarded: string[];
  try {
    discarded = must(await store.discardEvents(ids));
  } finally {
    await store.close();
  }
  const missing = ids.filter((id) => !discarded.includes(id));
  if (json) io.out(JSON.stringify({ discarded, not_failed: missing }));
  else {
    io.out(`Discarded ${discarded.length}${discarded.length > 0 ? `: ${discarded.join(', ')}` : ''}`);
    if (missing.length > 0) io.out(`Not failed in the ledger (or unknown): ${missing.join(', ')}`);
  }
  return missing.length === 0 ? 0 : 1;
}
