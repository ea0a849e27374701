import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseSince, runReplay, summaryLine } from '../../src/cli/commands/replay.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { createStore, type Store, StoreError } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { userRow } from '../fixtures/rows.ts';
import { captureIo, cli } from '../support/cli-io.ts';
import { onServer, openTestDatabase, type TestDatabase } from '../support/db.ts';

let t: TestDatabase;
let store: Store;
beforeAll(async () => {
  t = await openTestDatabase();
  store = createStore(sqlRpc(t.db));
}, 60_000);
afterAll(() => t?.close());
beforeEach(() => t.reset());

/** Stores `payload` as a failed event, the way the receiver does when it cannot apply a delivery. */
async function storeFailed(
  id: string,
  payload: { type: string } | object,
  failure = 'old bug',
): Promise<void> {
  const type = (payload as { type?: string }).type ?? 'unknown';
  await t.db.query(
    'select public.clerk_sync_apply_event(event_id => $1, event_type => $2, failure => $3, payload => $4)',
    [id, type, failure, JSON.stringify(payload)],
  );
}

const ledger = async (id: string) =>
  (
    await t.db.query<{ status: string; error: string | null; payload: unknown }>(
      'select status, error, payload from clerk_sync.events where id = $1',
      [id],
    )
  ).rows[0];

const usersNamed = async (id: string) =>
  (await t.db.query('select id from public.users_public where id = $1', [id])).rows.length;

/** A user.created payload that this version cannot apply: `created_at` is not epoch milliseconds. */
const broken = (id: string) => {
  const event = sampleEvent('user.created', { id });
  return { ...event, data: { ...event.data, created_at: 'yesterday' } };
};

/** One of each: fixed by an upgrade, stale by now, still invalid, erased, and of a type not mirrored. */
async function storeOneOfEach(): Promise<void> {
  await storeFailed('msg_fixed', sampleEvent('user.created', { id: 'user_fixed' }));
  await t.db.query("select public.clerk_sync_upsert('user', $1)", [
    JSON.stringify([userRow('user_newer', 1, { updated_at: '2026-06-01T00:00:00.000Z' })]),
  ]);
  await storeFailed(
    'msg_stale',
    sampleEvent('user.updated', { id: 'user_newer', now: Date.UTC(2026, 2, 1) }),
  );
  await storeFailed('msg_broken', broken('user_broken'));
  await storeFailed('msg_erased', sampleEvent('user.updated', { id: 'user_gone' }));
  await t.db.query(
    "select public.clerk_sync_apply_event('msg_delete', 'user.deleted', 'user', 'delete', '{\"id\":\"user_gone\"}')",
  );
  await storeFailed('msg_session', {
    object: 'event',
    type: 'session.created',
    timestamp: Date.now(),
    data: { id: 'sess_1', object: 'session' },
  });
}

describe('runReplay', () => {
  it('re-applies what an upgrade fixed and counts every other outcome', async () => {
    await storeOneOfEach();
    const summary = await runReplay(store);
    expect(summary).toMatchObject({
      replayed: 5,
      applied: 1,
      stale: 1,
      duplicate: 0,
      still_failed: 1,
      erased: 1,
      ignored: 1,
    });
    expect(summaryLine(summary)).toBe(
      'Replayed 5: applied 1, stale 1, duplicate 0, still failed 1, erased 1, ignored 1 (types not mirrored)',
    );
    expect(summary.events.find((e) => e.outcome === 'failed')).toEqual({
      id: 'msg_broken',
      type: 'user.created',
      outcome: 'failed',
      error: expect.stringMatching(/^data\.created_at: /),
    });
  });

  it.each([
    [
      'fixed: applied, the ledger forgets the payload',
      'msg_fixed',
      { status: 'applied', error: null, payload: null },
    ],
    ['stale: settled as stale', 'msg_stale', { status: 'stale', error: null, payload: null }],
    [
      'still invalid: failed with the new error, payload kept',
      'msg_broken',
      { status: 'failed', error: expect.stringMatching(/^data\.created_at: /), payload: expect.any(Object) },
    ],
    [
      'erased: left alone',
      'msg_erased',
      { status: 'failed', error: 'old bug (payload erased: user deleted)', payload: null },
    ],
    [
      'not mirrored: left failed',
      'msg_session',
      { status: 'failed', error: 'old bug', payload: expect.any(Object) },
    ],
  ])('%s', async (_label, id, expected) => {
    await storeOneOfEach();
    await runReplay(store);
    expect(await ledger(id)).toEqual(expected);
  });

  it('writes the mirror row of a fixed event, and a second replay finds nothing new to apply', async () => {
    await storeOneOfEach();
    await runReplay(store);
    expect(await usersNamed('user_fixed')).toBe(1);
    expect(await runReplay(store)).toMatchObject({
      replayed: 3,
      applied: 0,
      still_failed: 1,
      erased: 1,
      ignored: 1,
    });
  });

  it.each([
    ['failing again (moved to the end of the walk)', broken('user_x'), { still_failed: 10 }],
    [
      'left alone (not mirrored): the page grows past the shared received_at',
      { object: 'event', type: 'session.created', timestamp: 1, data: { id: 'sess_1' } },
      { ignored: 10 },
    ],
  ])('replays each event once across pages: %s', async (_label, payload, counts) => {
    // One statement: all ten share one received_at, so the page cursor cannot move on that alone.
    await t.db.query(
      `select public.clerk_sync_apply_event(event_id => 'msg_' || i, event_type => $1,
         failure => 'old bug', payload => $2::jsonb)
       from generate_series(1, 10) i`,
      [payload.type, JSON.stringify(payload)],
    );
    for (let i = 0; i < 3; i++) await storeFailed(`msg_ok_${i}`, sampleEvent('user.created'));
    const summary = await runReplay(store, { pageSize: 3 });
    expect(summary).toMatchObject({ replayed: 13, applied: 3, ...counts });
    expect(new Set(summary.events.map((e) => e.id)).size).toBe(13);
  });

  it.each([
    ['--since keeps the recent ones', '24h', undefined, ['msg_new']],
    ['--id picks events by svix-id', undefined, ['msg_old', 'msg_unknown'], ['msg_old']],
    ['both', '24h', ['msg_old'], []],
  ])('%s', async (_label, since, ids, expected) => {
    await storeFailed('msg_old', sampleEvent('user.created'));
    await storeFailed('msg_new', sampleEvent('user.created'));
    await t.db.query(
      "update clerk_sync.events set received_at = now() - interval '3 days' where id = 'msg_old'",
    );
    const summary = await runReplay(store, {
      ...(since === undefined ? {} : { since: parseSince(since) }),
      ...(ids === undefined ? {} : { ids }),
    });
    expect(summary.events.map((e) => e.id)).toEqual(expected);
  });

  it('stops with the store error when the database goes away', async () => {
    await storeFailed('msg_fixed', sampleEvent('user.created'));
    const down = createStore(async () => ({
      ok: false,
      error: new StoreError('unavailable', 'connection refused'),
    }));
    await expect(runReplay(down)).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('draws progress on a terminal only', async () => {
    await storeFailed('msg_fixed', sampleEvent('user.created'));
    const lines: string[] = [];
    const { io } = captureIo({ tty: true });
    await runReplay(store, {}, { ...io, progress: (line) => lines.push(line) });
    expect(lines).toEqual(['replaying failed events… 1', '']);
    lines.length = 0;
    await storeFailed('msg_again', sampleEvent('user.created'));
    await runReplay(store, {}, { ...captureIo({ tty: false }).io, progress: (line) => lines.push(line) });
    expect(lines).toEqual([]);
  });
});

describe('parseSince', () => {
  const now = Date.UTC(2026, 10, 22, 12, 0, 0);
  it.each([
    ['hours', '24h', '2026-11-21T12:00:00.000Z'],
    ['days', '7d', '2026-11-15T12:00:00.000Z'],
    ['minutes', '90m', '2026-11-22T10:30:00.000Z'],
    ['weeks', '2w', '2026-11-08T12:00:00.000Z'],
    ['a date', '2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['a date and time', '2026-11-01T08:30:00+01:00', '2026-11-01T07:30:00.000Z'],
  ])('%s: %s', (_label, input, expected) => {
    expect(parseSince(input, now)).toBe(expected);
  });

  it.each([['yesterday'], ['24'], ['7 days'], ['2026-13-45']])('refuses %s', (input) => {
    expect(() => parseSince(input, now)).toThrow(/neither an ISO date .* nor a duration/);
  });
});

describe('clerk-sync replay', () => {
  it.each([
    ['--help', ['replay', '--help'], 0, /^Usage: clerk-sync replay \[--since/],
    ['a bad --since', ['replay', '--since', 'yesterday'], 1, /^$/],
  ])('%s', async (_label, argv, code, out) => {
    const r = await cli(argv);
    expect(r.code).toBe(code);
    expect(r.out).toMatch(out);
    if (code !== 0) expect(r.err).toMatch(/^clerk-sync replay: --since "yesterday" is neither/);
  });

  it('an unreachable database: one actionable line', async () => {
    const r = await cli(['replay'], { DATABASE_URL: 'postgres://u@127.0.0.1:9/db' });
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^clerk-sync replay: the database is unavailable .* check DATABASE_URL/);
  });

  it.runIf(onServer)(
    'replays on DATABASE_URL, prints the summary, exits 1 while events still fail',
    async () => {
      await storeOneOfEach();
      const env = { DATABASE_URL: t.url as string };
      const first = await cli(['replay'], env);
      expect(first.code).toBe(1);
      expect(first.out.split('\n')).toEqual([
        expect.stringMatching(/^still failed: msg_broken \(user\.created\): data\.created_at: /),
        'Replayed 5: applied 1, stale 1, duplicate 0, still failed 1, erased 1, ignored 1 (types not mirrored)',
      ]);
      expect(first.err).toMatch(
        /^clerk-sync replay: 3 event\(s\) not applied and still failed in the ledger .* --discard <svix-id>$/,
      );

      // Erased and ignored events are not applied: no success until they are discarded on purpose.
      const json = await cli(['replay', '--json', '--id', 'msg_erased', '--id', 'msg_session'], env);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.out)).toMatchObject({ replayed: 2, erased: 1, ignored: 1, still_failed: 0 });
      expect(await cli(['replay', '--discard', 'msg_erased', 'msg_session', 'msg_nope'], env)).toEqual({
        code: 1,
        out: 'Discarded 2: msg_erased, msg_session\nNot failed in the ledger (or unknown): msg_nope',
        err: '',
      });
      expect((await ledger('msg_session'))?.status).toBe('discarded');
      expect(await cli(['replay', '--id', 'msg_erased', '--id', 'msg_session'], env)).toMatchObject({
        code: 0,
      });

      await t.db.query("delete from clerk_sync.events where status = 'failed'");
      expect(await cli(['replay'], env)).toEqual({ code: 0, out: 'No failed events to replay.', err: '' });
      expect(await cli(['replay', '--id', 'msg_nope'], env)).toEqual({
        code: 0,
        out: 'No failed events match.\nNot failed in the ledger (or unknown): msg_nope',
        err: '',
      });
    },
  );
});
