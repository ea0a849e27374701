/**
 * @module What the orchestrator tells a load process (HTTP generator or direct SQL caller) to do.
 */
import { type PhaseWorkload, phaseEvents } from './workload.ts';

/** The statement src/store/sql.ts sends for `store.applyEvent` (same text, same named arguments). */
export const APPLY_SQL =
  'select public.clerk_sync_apply_event(event_id => $1, event_type => $2, kind => $3, op => $4, data => $5, occurred_at => $6, failure => $7, payload => $8) as value';

/** A well-formed `whsec_` secret that is not the receivers': deliveries signed with it are refused. */
export const OTHER_SECRET = 'whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCEh';

export interface PhaseSpec {
  tag: string;
  seed: number;
  /** Epoch ms of the first (warm-up) event; the phase uses `warmup + count` consecutive ms. */
  tsBase: number;
  concurrency: number;
  /** Requests sent first and not timed (JIT, plan caches, pool connections). */
  warmup: number;
  /** At most this many timed requests… */
  count: number;
  /** …and none started after this long. */
  durationMs: number;
}

export interface HttpPhaseSpec extends PhaseSpec {
  url: string;
  secret: string;
}

export interface SqlPhaseSpec extends PhaseSpec {
  databaseUrl: string;
  poolMax: number;
}

/** The warm-up and the timed workloads of a phase. */
export function workloads(spec: PhaseSpec): { warm: PhaseWorkload; timed: PhaseWorkload } {
  return {
    warm: { tag: `${spec.tag}w`, count: spec.warmup, tsBase: spec.tsBase, seed: spec.seed },
    timed: { tag: spec.tag, count: spec.count, tsBase: spec.tsBase + spec.warmup, seed: spec.seed },
  };
}

export { phaseEvents };

/** The layers of ours that `procs/layers.ts` serves, each adding one thing to the one before. */
export const LAYERS = ['node-http', 'hono', 'zod', 'app-silent', 'app'] as const;
export type Layer = (typeof LAYERS)[number];

export interface LayerSpec {
  layer: Layer;
  secret: string;
  /** Where the `app` layer's log lines go. */
  logFile: string;
}
