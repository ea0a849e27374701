/**
 * Privacy: erasure after user.deleted reaches every table (ledger payloads included), and RLS gives
 * no oracle on other users' private rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { createStore } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { captureLogs } from '../support/logs.ts';
import { post, SECRET, signed } from '../support/webhooks.ts';

let t: TestDatabase;
let app: ReturnType<typeof createApp>;
const logs = captureLogs();
beforeAll(async () => {
  t = await openTestDatabase();
  app = createApp({ store: createStore(sqlRpc(t.db)), signingSecret: SECRET, logger: logs.logger });
}, 60_000);
afterAll(() => t?.close());

const deliver = async (payload: unknown) =>
  (await app.request('/webhooks/clerk', post(signed(payload)))).json();

/** Every row of every table in our schemas, as text. */
async function everything(): Promise<string> {
  const { rows } = await t.db.query<{ t: string }>(
    `select format('%I.%I', schemaname, tablename) as t from pg_tables where schemaname in ('public', 'clerk_sync')`,
  );
  const dumps = await Promise.all(
    rows.map(async ({ t: table }) => JSON.stringify((await t.db.query(`select * from ${table}`)).rows)),
  );
  return dumps.join('\n');
}

describe('erasure', () => {
  it("after user.deleted, no table holds the user's email, phone, names or metadata", async () => {
    const id = 'user_erasure';
    const created = sampleEvent('user.created', { id });
    const data = created.data as Record<string, unknown> & {
      email_addresses: { email_address: string }[];
      phone_numbers: { phone_number: string }[];
    };
    data.first_name = 'Zebulon';
    data.last_name = 'Quixote';
    data.username = 'zq_unique';
    data.email_addresses[0] = {
      ...(data.email_addresses[0] as object),
      email_address: 'zebulon.q@erasure.test',
    } as never;
    data.phone_numbers[0] = { ...(data.phone_numbers[0] as object), phone_number: '+15559871234' } as never;
    data.public_metadata = { favourite: 'marmalade-pub' };
    data.private_metadata = { card: 'marmalade-priv' };
    data.unsafe_metadata = { note: 'marmalade-unsafe' };
    const markers = [
      'Zebulon',
      'Quixote',
      'zq_unique',
      'zebulon.q@erasure.test',
      '+15559871234',
      'marmalade',
    ];

    expect(await deliver(created)).toEqual({ outcome: 'applied' });
    const membership = sampleEvent('organizationMembership.created', { userId: id });
    Object.assign(membership.data.public_user_data as object, {
      first_name: 'Zebulon',
      identifier: 'zebulon.q@erasure.test',
    });
    expect(await deliver(membership)).toEqual({ outcome: 'applied' });
    // A later update that cannot be applied (bad updated_at) is kept, with its payload, for replay.
    expect(
      await deliver({ ...created, type: 'user.updated', data: { ...data, updated_at: 'soon' } }),
    ).toEqual({ outcome: 'failed' });
    const before = await everything();
    for (const marker of markers) expect(before).toContain(marker);

    expect(
      await deliver({
        object: 'event',
        type: 'user.deleted',
        timestamp: Date.now(),
        data: { object: 'user', id, deleted: true },
      }),
    ).toEqual({
      outcome: 'applied',
    });
    const after = await everything();
    for (const marker of markers) expect(after).not.toContain(marker);
    expect(logs.text()).not.toMatch(/Zebulon|Quixote|zebulon\.q|5559871234|marmalade/);
  });
});

describe('no oracle on other users', () => {
  it("reading or writing another user's private row looks exactly like a row that does not exist", async () => {
    await deliver(sampleEvent('user.created', { id: 'user_other' }));
    const attempt = (sql: string, id: string) =>
      t
        .as('authenticated', { sub: 'user_me' }, async (s) => ({
          ok: true,
          rows: (await s.query(sql, [id])).rows,
        }))
        .catch((e: { code?: string; message?: string }) => ({
          ok: false,
          code: e.code,
          message: e.message?.replace(id, '<id>'),
        }));
    for (const sql of [
      'select * from public.users_private where id = $1',
      'select count(*)::int as n from public.users_private where id = $1',
      'update public.users_private set email = null where id = $1',
      'delete from public.users_private where id = $1',
      "select public.clerk_sync_private_metadata('user', $1)",
    ])
      expect(await attempt(sql, 'user_other')).toEqual(await attempt(sql, 'user_nobody'));
  });
});
