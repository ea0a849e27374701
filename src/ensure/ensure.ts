/**
 * @module Ensure: the user is mirrored before their first request. Reads the mirror first (one
 * indexed read); only what it lacks is fetched from Clerk's Backend API — the user, and the active
 * organization and membership — and applied through the same batch upserts as a backfill, so the
 * SQL decides as for a webhook: newest wins, tombstones hold, applying twice changes nothing.
 * Concurrent calls for the same user and organization share one run; a user's fetches from Clerk
 * are rate-limited. Runtime-neutral: a Store and a ClerkApi, nothing else.
 */
import type { ClerkApi } from '../clerk/api.ts';
import { ClerkApiError } from '../clerk/errors.ts';
import type { Rate } from '../clerk/limiter.ts';
import { membershipSchema, organizationSchema, userSchema } from '../core/events.ts';
import { toMembershipRow, toOrganizationRow, toUserRow } from '../core/map.ts';
import type { BatchCounts, EnsureStatus, Result, Store } from '../store/port.ts';
import { createKeyedLimiter } from './limiter.ts';

/** `present`: the mirror has the user (nothing written); `applied`: this call wrote what it lacked. */
export type EnsureOutcome = 'present' | 'applied';

export const ensureErrorCodes = [
  /** Clerk no longer has the user (or the mirror holds its deletion). */
  'not_found',
  /** The user asked Clerk too often; `retryAfterMs` says when to come back. */
  'rate_limited',
  /** Clerk or the database is unavailable or slow: retry later. */
  'unavailable',
  /** A configuration problem (e.g. a secret key Clerk refuses) or an answer that cannot be applied. */
  'internal',
] as const;
export type EnsureErrorCode = (typeof ensureErrorCodes)[number];

export class EnsureError extends Error {
  override name = 'EnsureError';
  constructor(
    readonly code: EnsureErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number | undefined },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
  readonly retryAfterMs: number | undefined;
}

export type EnsureResult = { ok: true; outcome: EnsureOutcome } | { ok: false; error: EnsureError };

export interface EnsureOptions {
  /** The session's active organization (`o.id`; Next.js `auth().orgId`): its row and the membership too. */
  organizationId?: string | null | undefined;
}

export type Ensurer = (userId: string, options?: EnsureOptions) => Promise<EnsureResult>;

export interface EnsurerDeps {
  store: Store;
  clerk: ClerkApi;
  /** Runs that need Clerk, per user. Default 5 per minute; answered from the mirror, a call is free. */
  rate?: Rate;
  /** The longest the Clerk requests of one run may take. Default 8 s. */
  timeoutMs?: number;
  now?: () => number;
}

export const DEFAULT_ENSURE_RATE: Rate = { requests: 5, windowMs: 60_000 };

const failure = (
  code: EnsureErrorCode,
  message: string,
  options?: ConstructorParameters<typeof EnsureError>[2],
) => ({ ok: false, error: new EnsureError(code, message, options) }) as const;

const fromStore = <T>(r: Result<T>): T => {
  if (r.ok) return r.value;
  throw new EnsureError(r.error.retryable ? 'unavailable' : 'internal', `database: ${r.error.message}`, {
    cause: r.error,
  });
};

const parsed = <T>(what: string, r: { success: true; data: T } | { success: false; error: unknown }): T => {
  if (r.success) return r.data;
  throw new EnsureError('internal', `Clerk's ${what} does not have the expected shape`, { cause: r.error });
};

/**
 * A failure of Clerk (or of a run) as an EnsureError; anything else is a bug and is thrown again.
 * @example const error = asEnsureError(new ClerkApiError('network', 'fetch failed', { path: '/jwks' })); // unavailable
 */
export function asEnsureError(error: unknown): EnsureError {
  if (error instanceof EnsureError) return error;
  if (error instanceof ClerkApiError) {
    const transient = error.code === 'rate_limited' || error.code === 'server' || error.code === 'network';
    return new EnsureError(transient ? 'unavailable' : 'internal', error.message, { cause: error });
  }
  throw error;
}

const written = (c: BatchCounts) => c.inserted + c.updated > 0;

/**
 * Builds the ensurer.
 * @example
 * const ensure = createEnsurer({ store, clerk: createClerkApi({ secretKey, apiUrl }) });
 * const result = await ensure('user_2g7…', { organizationId: 'org_2g7…' });
 * if (result.ok) console.log(result.outcome); // 'present' | 'applied'
 */
export function createEnsurer(deps: EnsurerDeps): Ensurer {
  const { store, clerk, timeoutMs = 8_000, now = Date.now } = deps;
  const limiter = createKeyedLimiter(deps.rate ?? DEFAULT_ENSURE_RATE, now);
  const runs = new Map<string, Promise<EnsureResult>>();

  async function fetchMissing(userId: string, organizationId: string | null, status: EnsureStatus) {
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new EnsureError('unavailable', `Clerk did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const { signal } = controller;
    const get = (path: string, query?: Record<string, string | number>) => clerk.get(path, query, signal);
    const notFound = (error: unknown) => error instanceof ClerkApiError && error.code === 'not_found';
    // A missing organization or membership is not an error: the user alone is what was asked for.
    const unlessGone = (error: unknown) => {
      if (notFound(error)) return null;
      throw error;
    };
    const org = organizationId === null ? '' : encodeURIComponent(organizationId);
    try {
      const [user, organization, memberships] = await Promise.all([
        status.user === 'absent'
          ? get(`/users/${encodeURIComponent(userId)}`).catch((error: unknown) => {
              throw notFound(error)
                ? new EnsureError('not_found', 'Clerk has no such user', { cause: error })
                : error;
            })
          : null,
        status.organization === 'absent' ? get(`/organizations/${org}`).catch(unlessGone) : null,
        status.membership === 'absent' && status.organization !== 'deleted'
          ? get(`/organizations/${org}/memberships`, { user_id: userId, limit: 10 }).catch(unlessGone)
          : null,
      ]);
      const membership = ((memberships as { data?: unknown } | null)?.data as unknown[] | undefined)?.find(
        (m) => (m as { public_user_data?: { user_id?: unknown } }).public_user_data?.user_id === userId,
      );
      return {
        user: user === null ? null : toUserRow(parsed('user', userSchema.safeParse(user))),
        organization:
          organization === null
            ? null
            : toOrganizationRow(parsed('organization', organizationSchema.safeParse(organization))),
        membership:
          membership === undefined
            ? null
            : toMembershipRow(parsed('membership', membershipSchema.safeParse(membership))),
      };
    } catch (error) {
      const timedOut = signal.aborted && signal.reason instanceof EnsureError;
      controller.abort(); // one failed request ends the others
      throw timedOut ? signal.reason : error;
    } finally {
      clearTimeout(timer);
    }
  }

  async function run(userId: string, organizationId: string | null): Promise<EnsureResult> {
    const status = fromStore(await store.ensureStatus(userId, organizationId));
    if (status.user === 'deleted') return failure('not_found', 'the user was deleted');
    const lacking =
      status.user === 'absent' || status.organization === 'absent' || status.membership === 'absent';
    if (!lacking) return { ok: true, outcome: 'present' };

    const grant = limiter.take(userId);
    if (!grant.ok)
      return status.user === 'present'
        ? { ok: true, outcome: 'present' }
        : failure('rate_limited', 'too many calls for this user', { retryAfterMs: grant.retryAfterMs });

    let rows: Awaited<ReturnType<typeof fetchMissing>>;
    try {
      rows = await fetchMissing(userId, organizationId, status);
    } catch (error) {
      const failed = asEnsureError(error);
      // The user is there: the organization's side can wait for its webhook rather than fail the call.
      if (status.user === 'present' && failed.code === 'unavailable') return { ok: true, outcome: 'present' };
      throw failed;
    }
    // Nothing was written so far: every refusal above leaves the database as it was.
    let applied = false;
    if (rows.user !== null) {
      const counts = fromStore(await store.upsert('user', [rows.user]));
      // Deleted while we asked Clerk: the tombstone holds, and so does the answer.
      if (counts.deleted > 0) return failure('not_found', 'the user was deleted');
      applied = written(counts);
    }
    const rest = await Promise.all([
      rows.organization === null ? null : store.upsert('organization', [rows.organization]),
      rows.membership === null ? null : store.upsert('membership', [rows.membership]),
    ]);
    for (const r of rest) if (r !== null) applied = written(fromStore(r)) || applied;
    return { ok: true, outcome: applied ? 'applied' : 'present' };
  }

  return (userId, options = {}) => {
    const organizationId = options.organizationId || null;
    const key = `${userId}\n${organizationId ?? ''}`;
    let shared = runs.get(key);
    if (shared === undefined) {
      shared = run(userId, organizationId)
        .catch((error: unknown): EnsureResult => ({ ok: false, error: asEnsureError(error) }))
        .finally(() => runs.delete(key));
      runs.set(key, shared);
    }
    return shared;
  };
}
