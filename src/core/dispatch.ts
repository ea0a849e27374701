/**
 * @module Turns a verified webhook body into what to do with it: apply, ignore, or record as invalid.
 * Which types are mirrored, and what each one does, comes from the registry of kinds.
 */
import type { z } from 'zod';
import { envelopeSchema } from './events.ts';
import {
  changeOf,
  type DeleteKey,
  EVENT_ROUTES,
  type KindName,
  type MirroredEventType,
  type RowOf,
} from './kinds.ts';
import { cleanText } from './map.ts';

type Change = {
  [K in KindName]:
    | { objectKind: K; op: 'upsert'; objectId: string; data: RowOf[K] }
    | { objectKind: K; op: 'delete'; objectId: string; data: DeleteKey };
}[KindName];

/** `occurredAt`: the envelope's timestamp, null when it has none usable (it never fails an event). */
export type Applied = { kind: 'apply'; type: MirroredEventType; occurredAt: string | null } & Change;

export type Interpreted =
  /** A well-formed envelope whose type we do not mirror (e.g. `session.created`). */
  | { kind: 'ignored'; type: string }
  /** Verified but cannot be applied; `error` holds zod paths and messages, never values. */
  | { kind: 'invalid'; type: string; error: string; objectId: string | null; reason: InvalidReason }
  | Applied;

/** Why a verified payload is invalid (a subset of the ledger's reason classes). */
export type InvalidReason = 'not_json' | 'invalid_event' | 'too_deep';

const MAX_ISSUES = 5;

const NOT_AN_EVENT: Interpreted = {
  kind: 'invalid',
  type: 'unknown',
  error: 'envelope: expected an object with a string "type"',
  objectId: null,
  reason: 'invalid_event',
};

/** Issue paths and zod's messages only: zod's default messages name types, never the input. */
function describe(error: z.ZodError): string {
  const issues = error.issues
    .slice(0, MAX_ISSUES)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  const more = error.issues.length - MAX_ISSUES;
  return issues.join('; ') + (more > 0 ? `; …and ${more} more` : '');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rawObjectId({ data }: Record<string, unknown>): string | null {
  const { id } = isRecord(data) ? data : {};
  return typeof id === 'string' && id !== '' ? cleanText(id) : null;
}

/** How deep a payload may nest: far beyond Clerk's objects (~6), well within Postgres's stack. */
export const MAX_JSON_DEPTH = 256;

function deeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max === 0) return true;
  for (const v of Array.isArray(value) ? value : Object.values(value))
    if (deeperThan(v, max - 1)) return true;
  return false;
}

const invalid = (error: z.ZodError, payload: Record<string, unknown>) => ({
  error: describe(error),
  objectId: rawObjectId(payload),
  reason: 'invalid_event' as const,
});

/**
 * Interprets a verified Clerk webhook body. Never throws: a body that cannot be applied comes back
 * as `invalid` (to be stored in the ledger as failed), a type we do not mirror as `ignored`.
 *
 * @example
 * const result = interpret(JSON.parse(body));
 * if (result.kind === 'apply' && result.op === 'upsert' && result.objectKind === 'user') {
 *   result.data.email; // primary email of the user
 * }
 */
export function interpret(payload: unknown): Interpreted {
  try {
    return interpretOrThrow(payload);
  } catch (error) {
    // A signed body nested deeper than the mapping's recursion (cleaning text at any depth) allows.
    if (!(error instanceof RangeError)) throw error;
    const type = isRecord(payload) && typeof payload.type === 'string' ? payload.type : 'unknown';
    return {
      kind: 'invalid',
      type: cleanText(type),
      error: 'payload nested too deeply to validate',
      objectId: null,
      reason: 'too_deep',
    };
  }
}

function interpretOrThrow(payload: unknown): Interpreted {
  const { type } = isRecord(payload) ? payload : {};
  if (!isRecord(payload) || typeof type !== 'string') return NOT_AN_EVENT;
  const route = EVENT_ROUTES.get(type);
  if (route === undefined) {
    const envelope = envelopeSchema.safeParse(payload);
    return envelope.success
      ? { kind: 'ignored', type }
      : { kind: 'invalid', type: cleanText(type), ...invalid(envelope.error, payload) };
  }
  const parsed = route.schema.safeParse(payload);
  if (!parsed.success) return { kind: 'invalid', type, ...invalid(parsed.error, payload) };
  // Postgres parses jsonb recursively: past this depth it runs out of stack (54001) on every try.
  if (deeperThan(payload, MAX_JSON_DEPTH))
    return {
      kind: 'invalid',
      type,
      error: `payload nested deeper than ${MAX_JSON_DEPTH} levels`,
      objectId: rawObjectId(payload),
      reason: 'too_deep',
    };
  const data = changeOf(route.kind, route.op, parsed.data.data);
  const applied = { objectKind: route.kind, op: route.op, objectId: data.id, data } as Change;
  const { timestamp } = parsed.data;
  return {
    kind: 'apply',
    type: type as MirroredEventType,
    occurredAt: timestamp === null ? null : new Date(timestamp).toISOString(),
    ...applied,
  };
}
