/**
 * @module The backfill section's targets and its part of the Markdown report (kept beside the
 * section's own figures, so that report.ts only calls them).
 */
import type { BackfillResult, BackfillRun } from '../sections/backfill.ts';
import type { Target } from './report.ts';

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const f0 = (x: number) => x.toFixed(0);
const us = (x: number | null) => (x === null ? 'n/a' : f0(x));

/** CPU per user of every process involved (µs), the backfill's and the per-user loop's; null off this machine. */
export function cpuPerUser(b: BackfillResult): { ours: number; baseline: number } | null {
  const { cpu } = b.large;
  const base = b.baseline;
  if (cpu.postgres === null || base.postgresCpuPerUser === null) return null;
  return {
    ours: cpu.command + cpu.standin + cpu.postgres,
    baseline: base.clientCpuPerUser + base.standinCpuPerUser + base.postgresCpuPerUser,
  };
}

/** The backfill targets; the COPY share is reported, not targeted. */
export function backfillTargets(b: BackfillResult): Target[] {
  const t: Target[] = [];
  const cpu = cpuPerUser(b);
  const share = b.large.usersPerSecond / b.copy.usersPerSecond;
  const multiple = b.large.usersPerSecond / b.baseline.usersPerSecond;
  t.push({
    area: 'Backfill',
    target: 'share of the COPY rate (reported, not targeted)',
    measured: `${pct(share)} (${f0(b.large.usersPerSecond)} vs ${f0(b.copy.usersPerSecond)} users/s)`,
    pass: null,
  });
  t.push({
    area: 'Backfill',
    target: '≥ 10× the per-user baseline, realistic users',
    measured: `${multiple.toFixed(1)}× (${f0(b.large.usersPerSecond)} vs baseline ${f0(b.baseline.usersPerSecond)} users/s)`,
    pass: multiple >= 10,
    ...(multiple < 10 ? { note: `${(10 - multiple).toFixed(1)}× short` } : {}),
  });
  if (cpu)
    t.push({
      area: 'Backfill',
      target:
        'CPU per user, all processes, vs the per-user loop (reported: the gain the work allows, whatever the load)',
      measured: `${(cpu.baseline / cpu.ours).toFixed(1)}× less (${f0(cpu.ours)} vs ${f0(cpu.baseline)} µs)`,
      pass: null,
    });
  const full = b.large.users >= 100_000;
  t.push({
    area: 'Backfill',
    target: 'peak RSS ≤ 200 MB at 100k users',
    measured: `${f0(b.large.peakRssMb)} MB at ${b.large.users.toLocaleString('en')} users`,
    pass: full ? b.large.peakRssMb <= 200 : null,
    ...(full ? {} : { note: 'quick run: largest size is below 100k' }),
  });
  const growth = b.large.peakRssMb / b.small.peakRssMb - 1;
  t.push({
    area: 'Backfill',
    target: `flat RSS from ${b.small.users.toLocaleString('en')} to ${b.large.users.toLocaleString('en')} users (≤ +25 %)`,
    measured: `${f0(b.small.peakRssMb)} → ${f0(b.large.peakRssMb)} MB (${growth >= 0 ? '+' : ''}${pct(growth)})`,
    pass: growth <= 0.25,
  });
  const rl = b.rateLimited;
  const judged = rl.steadyShareOfCeiling ?? rl.shareOfCeiling;
  t.push({
    area: 'Backfill, dev rate limit',
    target: `≥ 90 % of ${f0(b.ceilingUsersPerSecond)} users/s`,
    measured:
      rl.steadyShareOfCeiling === null
        ? `${pct(rl.shareOfCeiling)} over the whole run (${(rl.totalMs / 1000).toFixed(1)} s)`
        : `${pct(rl.steadyShareOfCeiling)} steady (10–20 s window); ${pct(rl.shareOfCeiling)} over the whole run`,
    // Without a steady window the whole-run rate is inflated by the first window's burst: no verdict.
    pass: rl.steadyShareOfCeiling === null ? null : judged >= 0.9,
    ...(rl.steadyShareOfCeiling === null
      ? {
          note: 'quick run: shorter than two windows, so the first window’s burst inflates the whole-run rate',
        }
      : judged < 0.9
        ? { note: `${((0.9 - judged) * 100).toFixed(1)} points short` }
        : {}),
  });
  t.push({
    area: 'Backfill, dev rate limit',
    target: 'no 429 after the first window',
    measured: `${rl.rateLimited} × 429 in all, ${rl.rateLimitedAfterFirstWindow} after the first 10 s`,
    pass: rl.rateLimitedAfterFirstWindow === 0,
  });
  return t;
}

/** The backfill part of latest.md. */
export function backfillMarkdown(b: BackfillResult): string[] {
  const s = b.userShape;
  const cpu = cpuPerUser(b);
  const run = (x: BackfillRun) =>
    `| ${x.users.toLocaleString('en')} | ${f0(x.usersPerSecond)} | ${(x.totalMs / 1000).toFixed(1)} | ${f0(x.peakRssMb)} | ${us(x.cpu.command)} | ${us(x.cpu.standin)} | ${us(x.cpu.postgres)} | ${us(x.cpu.sqlFunction)} | ${x.requests} |`;
  return [
    '',
    '## Backfill',
    '',
    `\`clerk-sync backfill --only users --rate 1000000\` (no client-side throttle) from the Clerk stand-in (500 per page, no latency) into emptied tables, users/s from the start of the command (module loading excluded) to its end. Realistic users (bench/lib/realistic-users.ts): ${f0(s.meanBytes)} bytes of JSON each on average, with ${s.emails.toFixed(2)} email addresses, ${s.phones.toFixed(2)} phone numbers and ${s.externalAccounts.toFixed(2)} OAuth accounts, and public, private and unsafe metadata. CPU per user (µs, user + system): the command's process, the stand-in's, and the Postgres backends' (from /proc, sampled every 100 ms), and the time inside \`clerk_sync_backfill_page\` (pg_stat_user_functions).`,
    '',
    '| users | users/s | s | peak RSS MB | CPU µs/user: command | stand-in | Postgres | in the page function | Clerk requests |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    run(b.small),
    run(b.large),
    '',
    '| users into users_public, users_private, private_metadata | users/s | ours as share / multiple | Postgres CPU µs/user |',
    '| --- | ---: | ---: | ---: |',
    `| ours (\`clerk-sync backfill\`), ${b.large.users.toLocaleString('en')} users | ${f0(b.large.usersPerSecond)} | | ${us(b.large.cpu.postgres)} |`,
    `| COPY of the same rows, server-side, one transaction (reported) | ${f0(b.copy.usersPerSecond)} | ${pct(b.large.usersPerSecond / b.copy.usersPerSecond)} | |`,
    `| baseline: one upsert per user, over ${b.baseline.users.toLocaleString('en')} users | ${f0(b.baseline.usersPerSecond)} | ${(b.large.usersPerSecond / b.baseline.usersPerSecond).toFixed(1)}× | ${us(b.baseline.postgresCpuPerUser)} (in \`clerk_sync_upsert\`: ${us(b.baseline.sqlFunctionPerUser)}) |`,
    '',
    ...(cpu === null
      ? []
      : [
          `CPU per user of every process involved: the backfill ${f0(cpu.ours)} µs (command ${f0(b.large.cpu.command)}, stand-in ${f0(b.large.cpu.standin)}, Postgres ${us(b.large.cpu.postgres)}); the per-user loop ${f0(cpu.baseline)} µs (the loop ${f0(b.baseline.clientCpuPerUser)}, stand-in ${f0(b.baseline.standinCpuPerUser)}, Postgres ${us(b.baseline.postgresCpuPerUser)}): ${(cpu.baseline / cpu.ours).toFixed(1)}× less work. The loop runs one call at a time, so its rate is set by each commit's latency as much as by its CPU; the backfill's by the CPU of the two cores it shares with the stand-in and Postgres.`,
          '',
        ]),
    '',
    `With the stand-in enforcing Clerk's development limit (100 requests / 10 s, so at most ${f0(b.ceilingUsersPerSecond)} users/s), \`clerk-sync backfill --only users\`:`,
    '',
    '| budget | users | s | users/s, whole run | share of ceiling | users/s, 10–20 s window | share | 429s | after first window | requests |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...[b.rateLimited, b.rateLimitedFullBudget]
      .filter((x) => x !== undefined)
      .map(
        (x) =>
          `| ${x.budget} | ${x.users.toLocaleString('en')} | ${(x.totalMs / 1000).toFixed(1)} | ${f0(x.usersPerSecond)} | ${pct(x.shareOfCeiling)} | ${x.steadyUsersPerSecond === null ? 'n/a' : f0(x.steadyUsersPerSecond)} | ${x.steadyShareOfCeiling === null ? 'n/a' : pct(x.steadyShareOfCeiling)} | ${x.rateLimited} | ${x.rateLimitedAfterFirstWindow} | ${x.requests} |`,
      ),
  ];
}
