/**
 * `ensureUser` from the package entry, the library call for server code that has verified the session itself: configured
 * from the environment, like the receiver. The calls that write need a database reachable by URL
 * (the server in TEST_DATABASE_URL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { ensureUser } from '../../src/index.ts';
import { type ClerkStandin, startClerkStandin } from '../support/clerk-standin.ts';
import { onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';

const SECRET_KEY = 'sk_test_library';

describe('configuration', () => {
  it.each<[string, Record<string, string>, RegExp]>([
    ['no secret key', { DATABASE_URL: 'postgres://u@127.0.0.1:9/app' }, /CLERK_SECRET_KEY is missing/],
    [
      'no database (the embedded one is the receiver’s own)',
      { CLERK_SECRET_KEY: SECRET_KEY },
      /DATABASE_URL is missing/,
    ],
    [
      'a malformed authorized party',
      {
        CLERK_SECRET_KEY: SECRET_KEY,
        DATABASE_URL: 'postgres://u@127.0.0.1:9/app',
        CLERK_AUTHORIZED_PARTIES: 'app.example.com',
      },
      /CLERK_AUTHORIZED_PARTIES must be comma-separated origins/,
    ],
  ])('%s: a ConfigError naming the variable', async (_, env, message) => {
    const call = ensureUser('user_x', { env });
    await expect(call).rejects.toBeInstanceOf(ConfigError);
    await expect(call).rejects.toThrow(message);
  });

  it('no user id (a signed-out session): a TypeError, before anything is opened', async () => {
    await expect(ensureUser(null as unknown as string, { env: {} })).rejects.toThrow(/userId is empty/);
  });
});

describe.runIf(onServer)('ensureUser on the server', () => {
  let t: TestDatabase;
  let clerk: ClerkStandin;
  let env: Record<string, string>;
  const now = Date.UTC(2026, 0, 1);
  const user = sampleEvent('user.created', { id: 'user_library', now }).data;
  const org = sampleEvent('organization.created', { id: 'org_library', now }).data;
  const membership = sampleEvent('organizationMembership.created', {
    id: 'orgmem_library',
    orgId: org.id,
    userId: user.id,
    now,
  }).data;

  beforeAll(async () => {
    t = await openTestDatabase();
    clerk = await startClerkStandin({
      secretKey: SECRET_KEY,
      data: { users: [user], organizations: [org], memberships: [membership] } as never,
    });
    env = { DATABASE_URL: t.url as string, CLERK_SECRET_KEY: SECRET_KEY, CLERK_API_URL: clerk.url };
  }, 60_000);
  afterAll(async () => {
    await clerk?.close();
    await t?.close();
  });

  it('mirrors the user and their organization, then answers from the mirror', async () => {
    expect(await ensureUser(user.id, { env, organizationId: org.id })).toEqual({
      ok: true,
      outcome: 'applied',
    });
    const ids = async (table: string) => (await t.db.query(`select id from ${table}`)).rows.map((r) => r.id);
    expect(await ids('public.users_public')).toEqual([user.id]);
    expect(await ids('public.organizations')).toEqual([org.id]);
    expect(await ids('public.organization_memberships')).toEqual([membership.id]);
    const requests = clerk.stats.requests;
    expect(await ensureUser(user.id, { env, organizationId: org.id })).toEqual({
      ok: true,
      outcome: 'present',
    });
    expect(clerk.stats.requests).toBe(requests);
  });

  it('a user Clerk does not have: not_found, nothing written', async () => {
    const result = await ensureUser('user_unknown', { env });
    expect(result).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect((await t.db.query(`select 1 from public.users_public where id = 'user_unknown'`)).rows).toEqual(
      [],
    );
  });

  it('Clerk unavailable: unavailable, to retry', async () => {
    clerk.failWith = 503;
    try {
      expect(await ensureUser('user_later', { env })).toMatchObject({
        ok: false,
        error: { code: 'unavailable' },
      });
    } finally {
      clerk.failWith = null;
    }
  });
});
