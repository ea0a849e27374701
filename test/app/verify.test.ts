import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app/app.ts';
import { sampleEvent } from '../../src/core/samples.ts';
import { createStore } from '../../src/store/port.ts';
import { sqlRpc } from '../../src/store/sql.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { captureLogs } from '../support/logs.ts';
import { OTHER_SECRET, post, SECRET, signed } from '../support/webhooks.ts';

let t: TestDatabase;
const logs = captureLogs();
let app: ReturnType<typeof createApp>;
beforeAll(async () => {
  t = await openTestDatabase();
  app = createApp({ store: createStore(sqlRpc(t.db)), signingSecret: SECRET, logger: logs.logger });
}, 60_000);
afterAll(() => t?.close());

const written = async () =>
  Number(
    (
      await t.db.query<{ n: string }>(
        'select (select count(*) from clerk_sync.events) + (select count(*) from public.users_public) as n',
      )
    ).rows[0]?.n,
  );

type Tamper = (d: ReturnType<typeof signed>) => { body: string; headers: Record<string, string> };
const minutes = (n: number) => new Date(Date.now() + n * 60_000);
const without =
  (name: string): Tamper =>
  (d) => {
    const { [name]: _gone, ...headers } = d.headers;
    return { body: d.body, headers };
  };

describe('signature matrix: refused with a fixed 401, nothing written, the failed check logged', () => {
  it.each<[string, Tamper, string]>([
    ['svix-id missing', without('svix-id'), 'missing_headers'],
    ['svix-timestamp missing', without('svix-timestamp'), 'missing_headers'],
    ['svix-signature missing', without('svix-signature'), 'missing_headers'],
    [
      'wrong secret',
      (d) => signed(JSON.parse(d.body), { secret: OTHER_SECRET, msgId: d.msgId }),
      'bad_signature',
    ],
    ['a tampered byte', (d) => ({ ...d, body: d.body.replace('"user', '"usex') }), 'bad_signature'],
    [
      're-serialised JSON',
      (d) => ({ ...d, body: JSON.stringify(JSON.parse(d.body), null, 2) }),
      'bad_signature',
    ],
    [
      'signed id swapped',
      (d) => ({ ...d, headers: { ...d.headers, 'svix-id': 'msg_other' } }),
      'bad_signature',
    ],
    [
      'duplicated svix-id header',
      (d) => ({ ...d, headers: { ...d.headers, 'svix-id': `${d.msgId}, ${d.msgId}` } }),
      'bad_signature',
    ],
    ['stale timestamp (6 min)', (d) => signed(JSON.parse(d.body), { at: minutes(-6) }), 'timestamp_too_old'],
    ['future timestamp (6 min)', (d) => signed(JSON.parse(d.body), { at: minutes(6) }), 'timestamp_too_new'],
    [
      'non-numeric timestamp',
      (d) => ({ ...d, headers: { ...d.headers, 'svix-timestamp': 'soon' } }),
      'bad_timestamp',
    ],
    [
      'signature of another version',
      (d) => ({
        ...d,
        headers: {
          ...d.headers,
          'svix-signature': d.headers['svix-signature']?.replace('v1,', 'v2,') as string,
        },
      }),
      'bad_signature',
    ],
    ['empty body', (d) => ({ ...d, body: '' }), 'bad_signature'],
  ])('%s', async (_label, tamper, reason) => {
    const before = await written();
    const res = await app.request('/webhooks/clerk', post(tamper(signed(sampleEvent('user.created')))));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'invalid signature' });
    expect(await written()).toBe(before);
    expect(logs.lines().at(-1)).toMatchObject({ reason, status: 401 });
  });
});

describe('accepted signatures', () => {
  it.each<[string, () => ReturnType<typeof signed>]>([
    ['plain svix headers', () => signed(sampleEvent('user.created'))],
    ['unbranded webhook-* headers', () => signed(sampleEvent('user.created'), { prefix: 'webhook' })],
    ['4 minutes old (within tolerance)', () => signed(sampleEvent('user.created'), { at: minutes(-4) })],
    [
      'rotation: one valid signature among several',
      () => {
        const event = sampleEvent('user.created');
        const good = signed(event);
        const old = signed(event, { secret: OTHER_SECRET, msgId: good.msgId });
        return {
          ...good,
          headers: {
            ...good.headers,
            'svix-signature': `${old.headers['svix-signature']} v1,bm90LWEtc2ln ${good.headers['svix-signature']}`,
          },
        };
      },
    ],
  ])('%s', async (_label, make) => {
    const res = await app.request('/webhooks/clerk', post(make()));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ outcome: 'applied' });
  });

  it('no log line carries the secret or the body', () => {
    const text = logs.text();
    expect(text).not.toContain(SECRET.slice(6));
    expect(text).not.toContain('@example.com');
  });
});
