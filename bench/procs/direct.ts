/**
 * @module The limit (a child process of the bench): the same events, mapped beforehand, applied by
 * calling the SQL entry point directly over a node-postgres pool at the same concurrency — the exact
 * statement the receiver's store sends, with no HTTP, no signature check and no validation.
 */
import pg from 'pg';
import { interpret } from '../../src/core/dispatch.ts';
import { childSpec, type DriveResult, drive, report } from '../lib/drive.ts';
import { APPLY_SQL, phaseEvents, type SqlPhaseSpec, workloads } from '../lib/phase.ts';
import type { PhaseWorkload } from '../lib/workload.ts';

const spec = childSpec<SqlPhaseSpec>();
const pool = new pg.Pool({
  connectionString: spec.databaseUrl,
  max: spec.poolMax,
  application_name: 'bench-limit',
});

function prepare(w: PhaseWorkload): unknown[][] {
  const calls: unknown[][] = [];
  for (const { id, event } of phaseEvents(w)) {
    const applied = interpret(event);
    if (applied.kind !== 'apply') throw new Error(`workload event ${id} does not apply: ${applied.kind}`);
    calls.push([
      id,
      applied.type,
      applied.objectKind,
      applied.op,
      JSON.stringify(applied.data),
      applied.occurredAt,
      null,
      null,
    ]);
  }
  return calls;
}

async function call(params: unknown[]): Promise<{ ok: boolean; label: string }> {
  try {
    const { rows } = await pool.query<{ value: string }>(APPLY_SQL, params);
    return { ok: true, label: rows[0]?.value ?? 'null' };
  } catch (error) {
    return { ok: false, label: `error ${(error as { code?: string }).code ?? ''}` };
  }
}

const { warm, timed } = workloads(spec);
const warmCalls = prepare(warm);
const timedCalls = prepare(timed);
const cpu0 = process.cpuUsage();
let warmResult: DriveResult | null = null;
if (warmCalls.length > 0) warmResult = await drive(warmCalls, spec.concurrency, 60_000, call);
const result = await drive(timedCalls, spec.concurrency, spec.durationMs, call);
const cpu = process.cpuUsage(cpu0);
await pool.end();
report({
  ...result,
  cpuMs: (cpu.user + cpu.system) / 1000,
  warmup: warmResult === null ? 0 : warmResult.sent,
  warmupFailed: warmResult?.failed ?? 0,
});
