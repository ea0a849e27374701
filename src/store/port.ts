/**
 * @module The store: the one small interface every runtime writes through. Each operation is one
 * call of a SQL function (one database round trip); transports differ only in how they reach it —
 * a direct Postgres connection (node-postgres, PGlite) or PostgREST (supabase-js).
 */
import type { Candidate, KindName, Operation, RowOf } from '../core/kinds.ts';

/** The schema version this code expects (the newest migration's timestamp). */
export const SCHEMA_VERSION = '20261203400000';

/** What one batch call did, per object. */
export interface BatchCounts {
  inserted: number;
  updated: number;
  unchanged: number;
  stale: number;
  /** Rows refused because the object (or, for memberships, its user or organization) was deleted. */
  deleted: number;
}

export interface DeleteCounts {
  deleted: number;
  tombstoned: number;
}

export type Outcome = 'applied' | 'duplicate' | 'stale' | 'failed';

/**
 * Why a store call failed. `rejected` is final: the event's content caused it (see
 * src/store/failure.ts, the one policy). Everything else — `unavailable`, `timeout`, `conflict`
 * (serialization failure, deadlock) — is retryable: the receiver answers 503 so Svix retries.
 */
export type StoreErrorCode = 'unavailable' | 'timeout' | 'conflict' | 'rejected';

/**
 * Why a failed event can never apply, as stored in the ledger and logged: a class, never data.
 * `not_json`, `invalid_event` (zod refused it), `too_deep` (nested past what can be validated) are
 * decided before the database; `sync_refused` (our SQL's SQLSTATE 22Z01), `data_exception` (class
 * 22) and `integrity_violation` (class 23) by the database.
 */
export type FailureReason =
  | 'not_json'
  | 'invalid_event'
  | 'too_deep'
  | 'sync_refused'
  | 'data_exception'
  | 'integrity_violation';

export const RETRYABLE: ReadonlySet<StoreErrorCode> = new Set(['unavailable', 'timeout', 'conflict']);

export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown; sqlstate?: string | undefined; reason?: FailureReason | undefined },
  ) {
    super(message, options);
    this.sqlstate = options?.sqlstate;
    this.reason = options?.reason;
  }
  readonly sqlstate: string | undefined;
  /** For `rejected`: the content error's class. */
  readonly reason: FailureReason | undefined;
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: StoreError };

export interface ApplyEventInput {
  /** The `svix-id`: the idempotency key. */
  eventId: string;
  type: string;
  /** What the event does (from the registry of kinds); absent when `failure` is set. */
  kind?: KindName;
  op?: Operation;
  /**
   * The mapped row (upserts) or delete key; with `failure`, the object and user ids read from the
   * payload (so that a user's deletion erases a payload kept as bytes).
   */
  data?: object;
  occurredAt?: string | null;
  /** Why a verified payload could not be applied: it is stored as failed, for replay. */
  failure?: string;
  /** The reason class of `failure`. */
  reason?: FailureReason;
  /** The payload as jsonb… */
  payload?: unknown;
  /** …or, when jsonb cannot hold it, the delivered text's UTF-8 bytes in hex. */
  payloadHex?: string;
}

export interface FailedEvent {
  id: string;
  type: string;
  payload: unknown;
  /** The delivered bytes (hex) when the payload is kept as bytes rather than jsonb. */
  payload_hex: string | null;
  error: string | null;
  reason: string | null;
  occurred_at: string | null;
  received_at: string;
}

export interface LedgerStatus {
  failed: number;
  /** Failed events by reason class (`unclassified` for those stored before classes existed). */
  failed_by_reason: Record<string, number>;
  discarded: number;
  last_applied_at: string | null;
}

/** A backfill pass of one object kind, as the database keeps it (resumable). */
export interface BackfillPass {
  kind: KindName;
  pass_id: string;
  started_at: string;
  next_offset: number;
  last_id: string | null;
  track_seen: boolean;
  completed_at: string | null;
  resumed: boolean;
}

/** Whether the mirror has an object: `deleted` when a tombstone holds it out for good. */
export type Presence = 'present' | 'absent' | 'deleted';

/** Where the mirror stands on a user and (given one) their organization and membership in it. */
export interface EnsureStatus {
  user: Presence;
  organization: Presence | null;
  membership: Exclude<Presence, 'deleted'> | null;
}

/**
 * A page of rows already encoded for the transport (see {@link Store.prepareRows}). Opaque: only the
 * store that made it reads it.
 */
export interface PreparedRows<K extends KindName> {
  readonly kind: K;
  /** How many rows it holds. */
  readonly count: number;
}

/** An event to apply (not a failure to store): what {@link Store.applyEvents} takes. */
export type EventToApply = Required<Pick<ApplyEventInput, 'eventId' | 'type' | 'kind' | 'op' | 'data'>> &
  Pick<ApplyEventInput, 'occurredAt'>;

export interface Store {
  applyEvent(input: ApplyEventInput): Promise<Result<Outcome>>;
  /**
   * Applies events in order in one transaction (group commit, src/store/batch.ts); their outcomes in
   * order. Any error rolls all of them back.
   */
  applyEvents(events: EventToApply[]): Promise<Result<Outcome[]>>;
  upsert<K extends KindName>(kind: K, rows: RowOf[K][]): Promise<Result<BatchCounts>>;
  remove(kind: KindName, ids: string[]): Promise<Result<DeleteCounts>>;
  schemaVersion(): Promise<Result<string>>;
  failedEvents(filter?: { since?: string; ids?: string[]; max?: number }): Promise<Result<FailedEvent[]>>;
  ledgerStatus(): Promise<Result<LedgerStatus>>;
  /** Discards failed events on purpose (their content can never apply); returns the ids discarded. */
  discardEvents(ids: string[]): Promise<Result<string[]>>;
  /** Starts a backfill pass of `kind`, or resumes the unfinished one. */
  backfillBegin(
    kind: KindName,
    options: { restart: boolean; trackSeen: boolean },
  ): Promise<Result<BackfillPass>>;
  /**
   * Encodes a page of rows for {@link Store.backfillPage} now (over a direct connection: its JSON
   * text), so that the backfill can do it while the previous page is applied and let the objects go:
   * a page of 500 users is ~1 MB of JSON but several MB of objects.
   */
  prepareRows<K extends KindName>(kind: K, rows: RowOf[K][]): PreparedRows<K>;
  /** Applies one page with the webhook rules and moves the checkpoint to `nextOffset`, atomically. */
  backfillPage<K extends KindName>(
    kind: K,
    passId: string,
    checkpoint: { nextOffset: number; lastId: string | null },
    rows: PreparedRows<K>,
  ): Promise<Result<BatchCounts>>;
  /** What a page would change, writing nothing (dry run). */
  backfillCompare<K extends KindName>(kind: K, rows: PreparedRows<K>): Promise<Result<BatchCounts>>;
  /**
   * Mirror rows of `kind` older than the pass that it did not see: by the pass's recorded ids, or —
   * for a dry run, which records nothing — by `seen` and `startedAt`.
   */
  backfillUnseen(
    kind: KindName,
    by: { passId: string } | { seen: string[]; startedAt: string },
  ): Promise<Result<Candidate[]>>;
  backfillFinish(kind: KindName, passId: string, keepSeen: boolean): Promise<Result<void>>;
  /** One indexed read: does the mirror have this user (and their membership of `organizationId`)? */
  ensureStatus(userId: string, organizationId: string | null): Promise<Result<EnsureStatus>>;
  /** The keys of the mirror's `public_metadata` (users, organizations), with their JSON types. */
  metadataKeys(): Promise<Result<MetadataKey[]>>;
  close(): Promise<void>;
}

/** A key (a dotted path for nested ones) found in `public_metadata`, with one of its JSON types. */
export interface MetadataKey {
  source: 'users' | 'organizations';
  path: string;
  /** `string`, `number`, `boolean`, `object`, `array` or `null`. */
  type: string;
  /** Rows whose metadata has the key with this type. */
  rows: number;
  /** Rows of the source. */
  total: number;
}

/**
 * Calls a SQL function by name with named arguments, the way PostgREST's `/rpc/<fn>` does: a scalar
 * function answers its value, a set-returning one an array of rows. Failures come back as values.
 */
export interface Rpc {
  (fn: string, args: Record<string, unknown>, returns: 'scalar' | 'rows'): Promise<Result<unknown>>;
  /**
   * Encodes a jsonb argument ahead of the call that will send it (sqlRpc: to its JSON text). A
   * transport without it is given the value itself.
   */
  encodeJson?: (value: unknown) => unknown;
}

/** The rows of a page and, once prepared, what the transport sends for them. */
class Prepared<K extends KindName> implements PreparedRows<K> {
  constructor(
    readonly kind: K,
    readonly count: number,
    readonly value: unknown,
  ) {}
}

const ZERO: BatchCounts = { inserted: 0, updated: 0, unchanged: 0, stale: 0, deleted: 0 };

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const map = <A, B>(r: Result<A>, f: (a: A) => B): Result<B> => (r.ok ? ok(f(r.value)) : r);

/**
 * Builds the store from a transport.
 * @example const store = createStore(sqlRpc(db), () => db.close());
 */
export function createStore(rpc: Rpc, close: () => Promise<void> = async () => {}): Store {
  return {
    applyEvent: async (e) =>
      map(
        await rpc(
          'clerk_sync_apply_event',
          {
            event_id: e.eventId,
            event_type: e.type,
            kind: e.kind ?? null,
            op: e.op ?? null,
            data: e.data ?? null,
            occurred_at: e.occurredAt ?? null,
            failure: e.failure ?? null,
            payload: e.failure === undefined ? null : (e.payload ?? null),
            reason: e.failure === undefined ? null : (e.reason ?? null),
            payload_hex: e.failure === undefined ? null : (e.payloadHex ?? null),
          },
          'scalar',
        ),
        (v) => v as Outcome,
      ),
    applyEvents: async (events) =>
      map(
        await rpc(
          'clerk_sync_apply_events',
          {
            events: events.map((e) => ({
              event_id: e.eventId,
              event_type: e.type,
              kind: e.kind,
              op: e.op,
              data: e.data,
              occurred_at: e.occurredAt ?? null,
            })),
          },
          'scalar',
        ),
        (v) => v as Outcome[],
      ),
    upsert: async (kind, rows) =>
      rows.length === 0
        ? ok(ZERO)
        : map(await rpc('clerk_sync_upsert', { kind, rows }, 'scalar'), (v) => v as BatchCounts),
    remove: async (kind, ids) =>
      ids.length === 0
        ? ok({ deleted: 0, tombstoned: 0 })
        : map(await rpc('clerk_sync_delete', { kind, ids }, 'scalar'), (v) => v as DeleteCounts),
    schemaVersion: async () => map(await rpc('clerk_sync_schema_version', {}, 'scalar'), String),
    failedEvents: async (f = {}) =>
      map(
        await rpc(
          'clerk_sync_failed_events',
          { since: f.since ?? null, ids: f.ids ?? null, max_rows: f.max ?? 500 },
          'rows',
        ),
        (v) => v as FailedEvent[],
      ),
    ledgerStatus: async () =>
      map(await rpc('clerk_sync_ledger_status', {}, 'scalar'), (v) => {
        const s = v as Partial<Record<keyof LedgerStatus, unknown>>;
        return {
          failed: Number(s.failed),
          failed_by_reason: Object.fromEntries(
            Object.entries((s.failed_by_reason ?? {}) as Record<string, unknown>).map(([k, n]) => [
              k,
              Number(n),
            ]),
          ),
          discarded: Number(s.discarded ?? 0),
          last_applied_at: (s.last_applied_at ?? null) as string | null,
        };
      }),
    discardEvents: async (ids) =>
      ids.length === 0
        ? ok([])
        : map(await rpc('clerk_sync_discard_events', { ids }, 'rows'), (v) =>
            (v as ({ clerk_sync_discard_events?: string; id?: string } | string)[]).map((r) =>
              typeof r === 'string' ? r : String(r.clerk_sync_discard_events ?? r.id),
            ),
          ),
    backfillBegin: async (kind, o) =>
      map(
        await rpc(
          'clerk_sync_backfill_begin',
          { kind, restart: o.restart, track_seen: o.trackSeen },
          'scalar',
        ),
        (v) => v as BackfillPass,
      ),
    prepareRows: (kind, rows) =>
      new Prepared(kind, rows.length, rpc.encodeJson ? rpc.encodeJson(rows) : rows),
    backfillPage: async (kind, passId, checkpoint, rows) =>
      map(
        await rpc(
          'clerk_sync_backfill_page',
          {
            kind,
            pass_id: passId,
            next_offset: checkpoint.nextOffset,
            rows: (rows as Prepared<typeof kind>).value,
            last_id: checkpoint.lastId,
          },
          'scalar',
        ),
        (v) => v as BatchCounts,
      ),
    backfillCompare: async (kind, rows) =>
      rows.count === 0
        ? ok(ZERO)
        : map(
            await rpc(
              'clerk_sync_backfill_compare',
              { kind, rows: (rows as Prepared<typeof kind>).value },
              'scalar',
            ),
            (v) => v as BatchCounts,
          ),
    backfillUnseen: async (kind, by) =>
      map(
        await rpc(
          'clerk_sync_backfill_unseen',
          'passId' in by ? { kind, pass_id: by.passId } : { kind, seen: by.seen, started_at: by.startedAt },
          'rows',
        ),
        (v) => v as Candidate[],
      ),
    backfillFinish: async (kind, passId, keepSeen) =>
      map(
        await rpc('clerk_sync_backfill_finish', { kind, pass_id: passId, keep_seen: keepSeen }, 'scalar'),
        () => {},
      ),
    ensureStatus: async (userId, organizationId) =>
      map(
        await rpc('clerk_sync_ensure_status', { user_id: userId, organization_id: organizationId }, 'scalar'),
        (v) => v as EnsureStatus,
      ),
    metadataKeys: async () =>
      map(await rpc('clerk_sync_metadata_keys', {}, 'rows'), (v) =>
        (v as Record<string, unknown>[]).map((r) => ({
          source: r.source as MetadataKey['source'],
          path: String(r.path),
          type: String(r.type),
          rows: Number(r.rows),
          total: Number(r.total),
        })),
      ),
    close,
  };
}
