/**
 * @module `clerk-sync backfill`: brings an existing Clerk instance into the mirror.
 */

import { setFlagsFromString } from 'node:v8';
import { type KindSummary, runBackfill } from '../../backfill/backfill.ts';
import { type ApiEvent, createClerkApi, DEFAULT_RATE, type Fallback } from '../../clerk/api.ts';
import { parseConfig } from '../../core/config.ts';
import { BACKFILL_KINDS, KINDS, type KindName, kindByPlural } from '../../core/kinds.ts';
import { openStore } from '../../store/open.ts';
import { CliError, type Command, type Io } from '../command.ts';
import { createProgress, type Progress } from '../progress.ts';

/**
 * A backfill allocates a page of short-lived objects every ~50 ms, and V8 then grows the old
 * generation by a factor it derives from that rate: at 100,000 users the heap reached ~110 MB (peak
 * RSS 183–227 MB over six runs) though ~40 MB of it was live. Growing it by at most 25 % per full GC
 * holds peak RSS at 143–153 MB from 10,000 to 100,000 users; users/s stays within the runs' spread
 * (8.4–10.3k, against 8.7–10.7k) for ~15 % more CPU (bench stand-in, measured). V8 reads the flag
 * whenever it recomputes its heap limits, so setting it at run time takes effect.
 */
const HEAP_GROWING = '--heap-growing-percent=25';

/** The kinds as the command names them (`users`, …): the registry's plurals of the kinds Clerk lists. */
const PLURALS = BACKFILL_KINDS.map((k) => KINDS[k].plural);

const COLUMNS = ['fetched', 'inserted', 'updated', 'unchanged', 'stale', 'deleted', 'failed'] as const;

export const backfill: Command = {
  summary:
    "copy Clerk's users, organizations (and their members, roles, …) and billing plans into the mirror (resumable)",
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
      throw new CliError(`--only takes one of ${PLURALS.join(', ')}, not '${values.only as string}'`);
    const rate = values.rate === undefined ? DEFAULT_RATE.requests : Number(values.rate);
    if (!Number.isInteger(rate) || rate < 1)
      throw new CliError('--rate takes a whole number of requests per 10 s, e.g. --rate 1000');
    const json = values.json === true;
    const dryRun = values['dry-run'] === true;

    const progress = createProgress(io, { quiet: json });
    const api = createClerkApi({
      secretKey: config.clerkSecretKey as string,
      apiUrl: config.clerkApiUrl,
      rate: { requests: rate, windowMs: DEFAULT_RATE.windowMs },
      onEvent: (e) => reportApiEvent(e, progress),
    });
    setFlagsFromString(HEAP_GROWING);
    const store = await openStore(config);
    // Ctrl-C stops at the next page boundary (the page being applied commits); a second one kills.
    const interrupt = new AbortController();
    const stopListening = io.onInterrupt?.(() => interrupt.abort());
    let at: { kind: KindName; done: number; total: number | null } | null = null;
    try {
      const summaries = await runBackfill(store, api, {
        kinds: only === undefined ? BACKFILL_KINDS : [only],
        dryRun,
        prune: values.prune === true,
        force: values.force === true,
        restart: values.restart === true,
        signal: interrupt.signal,
        onStart: ({ kind, total, resumedAt }) => {
          at = { kind, done: resumedAt ?? 0, total };
          if (resumedAt !== null) progress.note(resumedLine(kind, resumedAt));
        },
        onProgress: ({ kind, done, total }) => {
          at = { kind, done, total };
          progress.update(KINDS[kind].plural, done, total);
        },
      });
      progress.clear();
      report(summaries, io, { json, dryRun });
      const refused = summaries.filter((s) => s.pruneRefused.length > 0);
      if (refused.length > 0)
        throw new CliError(
          `refused to prune ${refused.map((s) => `${s.pruneRefused.length} ${KINDS[s.kind].plural}`).join(', ')} (over 10% of the mirror): check CLERK_SECRET_KEY is this instance's, then re-run with --prune --force`,
        );
      return summaries.some((s) => s.failed > 0) ? 1 : 0;
    } catch (error) {
      if (!interrupt.signal.aborted) throw error;
      progress.clear();
      io.err(interruptedLine(at, dryRun));
      return 130;
    } finally {
      stopListening?.();
      progress.clear();
      await store.close();
    }
  },
};

const resumedLine = (kind: KindName, at: number) =>
  `${KINDS[kind].plural}: resumed an interrupted run at ${at} (use --restart to start over)`;

/** Where an interrupted run stopped, and how it goes on. */
function interruptedLine(
  at: { kind: KindName; done: number; total: number | null } | null,
  dryRun: boolean,
): string {
  const where =
    at === null
      ? 'before the first page'
      : `at ${KINDS[at.kind].plural} ${at.done}${at.total === null ? '' : `/${at.total}`}`;
  return dryRun
    ? `clerk-sync backfill: interrupted ${where}; a dry run writes nothing, so there is nothing to resume.`
    : `clerk-sync backfill: interrupted ${where}; every page up to there is saved. Run the same command again to resume from there (--restart starts over).`;
}

function reportApiEvent(e: ApiEvent, progress: Progress): void {
  if (e.type === 'pause') progress.wait(e.delayMs, "Clerk's rate limit");
  else if (e.type === 'retry' && e.reason !== 'rate_limited')
    progress.note(
      `Clerk ${e.status ?? 'network error'} on ${e.path}: retry ${e.attempt} in ${(e.delayMs / 1000).toFixed(1)} s`,
    );
}

const FALLBACK: Record<Fallback, string> = {
  cursor_ignored: 'Clerk ignored the starting_after cursor',
  cursor_refused: 'Clerk refused the starting_after cursor',
};

/** One line: how each kind's list was paged. */
function pagingLine(summaries: KindSummary[]): string {
  const parts = summaries.map(({ kind, paging }) =>
    paging.fallback === null
      ? `${KINDS[kind].plural} by ${paging.mode}`
      : `${KINDS[kind].plural} by cursor, then by offset from ${paging.at} (${FALLBACK[paging.fallback]})`,
  );
  return `Paged ${parts.join('; ')}.`;
}

function report(summaries: KindSummary[], io: Io, o: { json: boolean; dryRun: boolean }): void {
  if (o.json) {
    const named = summaries.map((s) => ({ ...s, kind: KINDS[s.kind].plural }));
    io.out(JSON.stringify({ dryRun: o.dryRun, summaries: named }));
    return;
  }
  for (const s of summaries) if (s.resumedAt !== null) io.out(resumedLine(s.kind, s.resumedAt));
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
  io.out(pagingLine(summaries));
  for (const s of summaries) {
    const kind = KINDS[s.kind].plural;
    for (const e of s.errors) io.err(`${kind}: could not map ${e}`);
    if (s.pruneRefused.length > 0)
      io.err(
        `${kind}: would prune ${s.pruneRefused.length}: ${s.pruneRefused.slice(0, 20).join(', ')}${s.pruneRefused.length > 20 ? ', …' : ''}`,
      );
  }
}
