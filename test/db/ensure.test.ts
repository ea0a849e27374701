/**
 * `clerk_sync_ensure_status`: where the mirror stands on a user and the membership of their active
 * organization, in one read (supabase/migrations/20261202300000_ensure.sql).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, type EnsureStatus, type Store } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { membershipRow, orgRow, userRow } from '../fixtures/rows.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';

let t: TestDatabase;
let store: Store;

beforeAll(async () => {
  t = await openTestDatabase();
  store = createStore(sqlRpc(t.db));
  await store.upsert('user', [userRow('user_here', 1), userRow('user_gone', 1), userRow('user_other', 1)]);
  await store.upsert('organization', [orgRow('org_here', 1), orgRow('org_gone', 1)]);
  await store.upsert('membership', [membershipRow('orgmem_here', 'org_here', 'user_here', 1)]);
  await store.remove('user', ['user_gone']);
  await store.remove('organization', ['org_gone']);
}, 60_000);
afterAll(() => t?.close());

describe('clerk_sync_ensure_status', () => {
  it.each<[string, string, string | null, EnsureStatus]>([
    [
      'a mirrored user, no organization',
      'user_here',
      null,
      { user: 'present', organization: null, membership: null },
    ],
    ['a user the mirror lacks', 'user_new', null, { user: 'absent', organization: null, membership: null }],
    ['a deleted user', 'user_gone', null, { user: 'deleted', organization: null, membership: null }],
    [
      'a member of a mirrored organization',
      'user_here',
      'org_here',
      { user: 'present', organization: 'present', membership: 'present' },
    ],
    [
      'a mirrored organization, without this membership',
      'user_other',
      'org_here',
      { user: 'present', organization: 'present', membership: 'absent' },
    ],
    [
      'an organization the mirror lacks',
      'user_here',
      'org_new',
      { user: 'present', organization: 'absent', membership: 'absent' },
    ],
    [
      'a deleted organization',
      'user_here',
      'org_gone',
      { user: 'present', organization: 'deleted', membership: 'absent' },
    ],
  ])('%s', async (_, userId, organizationId, expected) => {
    expect(await store.ensureStatus(userId, organizationId)).toEqual({ ok: true, value: expected });
  });
});
