/**
 * @module The Clerk Backend API stand-in as a child process of the bench (test/support/clerk-standin.ts,
 * which is meant for benchmarks too): generates the data, serves it on loopback, and answers
 * `stats` and `close` over IPC. Its own process, so that serving pages never competes with the
 * bench's timers or the backfill's event loop.
 */
import { generateClerkData, startClerkStandin } from '../../test/support/clerk-standin.ts';
import { childSpec } from '../lib/drive.ts';

export interface StandinSpec {
  secretKey: string;
  users: number;
  organizations: number;
  membersPerOrg: number;
  rate?: { requests: number; windowMs: number };
}

const spec = childSpec<StandinSpec>();
const t0 = performance.now();
const data = generateClerkData({
  users: spec.users,
  organizations: spec.organizations,
  membersPerOrg: spec.membersPerOrg,
});
const generatedMs = performance.now() - t0;
const standin = await startClerkStandin({
  secretKey: spec.secretKey,
  data,
  frozen: true,
  ...(spec.rate ? { rate: spec.rate } : {}),
});
process.on('message', (message: { cmd: string }) => {
  if (message.cmd === 'stats') process.send?.({ ...standin.stats });
  if (message.cmd === 'close') void standin.close().finally(() => process.exit(0));
});
process.send?.({
  url: standin.url,
  generatedMs,
  counts: {
    users: data.users.length,
    organizations: data.organizations.length,
    memberships: data.memberships.length,
  },
});
