/**
 * @module `clerk-sync backfill`: brings an existing Clerk instance into the mirror.
 */

import { setFlagsFromString } from 'node:v8';
import { type KindSummary, runBackfill } from '../../backfill/backfill.ts';
import { type ApiEvent, createClerkApi, DEFAULT_RATE } from '../../clerk/api.ts';
import { parseConfig } from '../../core/config.ts';
import { KIND_NAMES, KINDS, type KindName, kindByPlural } from '../../core/kinds.ts';
import { openStore } from '../../store/open.ts';
import { CliError, type Command, type Io } from '../command.ts';

/**
 * A backfill allocates a page of short-lived objects every ~50 ms, and V8 then grows the old
 * generation by a factor it derives from that rate: at 100,000 users the heap reached ~110 MB (peak
 * RSS 183–227 MB over six runs) though ~40 MB of it was live. Growing it by at most 25 % per full GC
 * holds peak RSS at 143–153 MB from 10,000 to 100,000 users; users/s stays within the runs' spread
 * (8.4–10.3k, against 8.7–10.7k) for ~15 % more CPU (bench stand-in, measured). V8 reads the flag
 * whenever it recomputes its heap limits, so setting it at run time takes effect.
 */
const HEAP_GROWING = '--heap-growing-percent=25';

/** The kinds as the command names them (`users`, …): the registry's plurals. */
const PLURALS = KIND_NAMES.map((k) => KINDS[k].plural);

const COLUMNS = ['fetched', 'inserted', 'updated', 'unchanged', 'stale', 'deleted', 'failed'] as const;

export const backfill: Command = {
  summary: "copy Clerk's users, organizations and memberships into the mirror (resumable)",
  usage: [
    `clerk-sync backfill [--only ${PLURALS.join('|')}] [--dry-run] [--prune [--force]]`,
    '                    [--restart] [--rate N] [--json]',
    '',
    `  --only KIND   backfill one kind (default: all ${PLURALS.length}, in that order)`,
    '  --dry-run     fetch and compare; print what would change; write nothing',
    '  --prune       after a complete pass, delete mirror rows whose Clerk object is gone',
    '                (each confirmed with Clerk first; more than 10% needs --force)',
    '  --restart     start over instead of resuming an interrupted run',
    `  --rate N      Clerk requests per 10 s (default ${DEFAULT_RATE.requests}: a safe share of the development`,
    '                limit of 100; production instances allow 1000)',
  ].join('\n'),
  options: {
    only: { type: 'string' },
    'dry-run': { type: 'boolean' },
    prune: { type: 'boolean' },
    force: { type: 'boolean' },
    restart: { type: 'boolean' },
    rate: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values }, env, io) {
    const config = parseConfig(env, { clerkSecretKey: true });
    const only = values.only === undefined ? undefined : kindByPlural(values.only as string);
    if (values.only !== undefined && only === undefined)
      throw new CliError(`--only takes one of ${PLURALS.join(', ')}`);
    const rate = values.rate === undefined ? DEFAULT_RATE.requests : Number(values.rate);
    if (!Number.isInteger(rate) || rate < 1)
      throw new CliError('--rate takes a whole number of requests per 10 s, e.g. --rate 1000');

    const api = createClerkApi({
      secretKey: config.clerkSecretKey as string,
      apiUrl: config.clerkApiUrl,
      rate: { requests: rate, windowMs: DEFAULT_RATE.windowMs },
      onEvent: (e) => reportApiEvent(e, io),
    });
    setFlagsFromString(HEAP_GROWING);
    const store = await openStore(config);
    const progress = createProgress(io, values.json === true);
    try {
      const summaries = await runBackfill(store, api, {
        kinds: only === undefined ? KIND_NAMES : [only],
        dryRun: values['dry-run'] === true,
        prune: values.prune === true,
        force: values.force === true,
        restart: values.restart === true,
        onProgress: progress.update,
      });
      progress.done();
      report(summaries, io, { json: values.json === true, dryRun: values['dry-run'] === true });
      const refused = summaries.filter((s) => s.pruneRefused.length > 0);
      if (refused.length > 0)
        throw new CliError(
          `refused to prune ${refused.map((s) => `${s.pruneRefused.length} ${KINDS[s.kind].plural}`).join(', ')} (over 10% of the mirror): check CLERK_SECRET_KEY is this instance's, then re-run with --prune --force`,
        );
      return summaries.some((s) => s.failed > 0) ? 1 : 0;
    } finally {
      progress.done();
      await store.close();
    }
  },
};

function reportApiEvent(e: ApiEvent, io: Io): void {
  if (e.type === 'pause')
    io.err(`Clerk rate limit hit: every request waits ${(e.delayMs / 1000).toFixed(1)} s`);
  else if (e.type === 'retry' && e.reason !== 'rate_limited')
    io.err(
      `Clerk ${e.status ?? 'network error'} on ${e.path}: retry ${e.attempt} in ${(e.delayMs / 1000).toFixed(1)} s`,
    );
}

/** A bar on a terminal (done / total, rate, ETA); otherwise a plain line at most every 2 s. */
function createProgress(io: Io, quiet: boolean) {
  const started = new Map<KindName, number>();
  let lastLine = 0;
  let drawn = false;
  return {
    update({ kind, done, total }: { kind: KindName; done: number; total: number | null }) {
      if (quiet) return;
      const now = Date.now();
      if (!started.has(kind)) started.set(kind, now);
      const seconds = Math.max((now - (started.get(kind) as number)) / 1000, 0.001);
      const perSecond = done / seconds;
      const eta = total !== null && perSecond > 0 ? Math.max(0, (total - done) / perSecond) : null;
      const of = total === null ? `${done}` : `${done}/${total}`;
      const tail = `${of} ${KINDS[kind].plural}  ${perSecond.toFixed(0)}/s${eta === null ? '' : `  ETA ${eta.toFixed(0)} s`}`;
      if (io.tty && io.progress) {
        const share = total ? Math.min(1, done / total) : 0;
        const bar = '#'.repeat(Math.round(share * 24)).padEnd(24, '-');
        io.progress(`[${bar}] ${tail}`);
        drawn = true;
      } else if (now - lastLine >= 2_000 || done === total) {
        io.err(`backfill: ${tail}`);
        lastLine = now;
      }
    },
    done() {
      if (drawn && io.progress) io.progress('');
      drawn = false;
    },
  };
}

function report(summaries: KindSummary[], io: Io, o: { json: boolean; dryRun: boolean }): void {
  if (o.json) {
    const named = summaries.map((s) => ({ ...s, kind: KINDS[s.kind].plural }));
    io.out(JSON.stringify({ dryRun: o.dryRun, summaries: named }));
    return;
  }
  const rows = [
    ['', ...COLUMNS],
    ...summaries.map((s) => [KINDS[s.kind].plural, ...COLUMNS.map((c) => String(s[c]))]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length))) ?? [];
  if (o.dryRun) io.out('Dry run: nothing was written. What a backfill would do:');
  for (const r of rows)
    io.out(
      r
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number)))
        .join('  '),
    );
  for (const s of summaries) {
    const kind = KINDS[s.kind].plural;
    if (s.resumedAt !== null)
      io.out(`${kind}: resumed an interrupted run at ${s.resumedAt} (use --restart to start over)`);
    for (const e of s.errors) io.err(`${kind}: could not map ${e}`);
    if (s.pruneRefused.length > 0)
      io.err(
        `${kind}: would prune ${s.pruneRefused.length}: ${s.pruneRefused.slice(0, 20).join(', ')}${s.pruneRefused.length > 20 ? ', …' : ''}`,
      );
  }
}
