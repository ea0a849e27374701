/**
 * @module The Clerk Backend API stand-in as a child process of the bench (test/support/clerk-standin.ts,
 * which is meant for benchmarks too): generates the data (with `realistic`, users as a live instance
 * has them: bench/lib/realistic-users.ts), serves it on loopback, and answers `stats` (with its own
 * CPU time) and `close` over IPC. Its own process, so that serving pages never competes with the
 * bench's timers or the backfill's event loop.
 */
import { generateClerkData, startClerkStandin } from '../../test/support/clerk-standin.ts';
import { childSpec } from '../lib/drive.ts';
import { describeUsers, realisticUsers } from '../lib/realistic-users.ts';

export interface StandinSpec {
  secretKey: string;
  users: number;
  organizations: number;
  membersPerOrg: number;
  rate?: { requests: number; windowMs: number };
  /** Users with several emails, phones, OAuth accounts and metadata (~2.5 KB) instead of the samples' (~1.8 KB). */
  realistic?: boolean;
}

const spec = childSpec<StandinSpec>();
const t0 = performance.now();
const data = generateClerkData({
  users: spec.users,
  organizations: spec.organizations,
  membersPerOrg: spec.membersPerOrg,
});
// Same ids and creation times as the generated users, so the memberships still point at them.
if (spec.realistic) data.users = realisticUsers(spec.users);
const generatedMs = performance.now() - t0;
const standin = await startClerkStandin({
  secretKey: spec.secretKey,
  data,
  frozen: true,
  ...(spec.rate ? { rate: spec.rate } : {}),
});
process.on('message', (message: { cmd: string }) => {
  if (message.cmd === 'stats') {
    const cpu = process.cpuUsage();
    process.send?.({ ...standin.stats, cpuMs: (cpu.user + cpu.system) / 1000 });
  }
  if (message.cmd === 'close') void standin.close().finally(() => process.exit(0));
});
process.send?.({
  url: standin.url,
  generatedMs,
  users: describeUsers(data.users),
  counts: {
    users: data.users.length,
    organizations: data.organizations.length,
    memberships: data.memberships.length,
  },
});
