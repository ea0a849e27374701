import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { sampleEvent } from '../../src/core/samples.ts';
import { edgeHandler } from '../../src/edge/handler.ts';
import { openTestDatabase, type TestDatabase } from '../support/db.ts';
import { type PostgrestEndpoint, startPostgrest } from '../support/postgrest.ts';
import { SECRET, signed } from '../support/webhooks.ts';

let t: TestDatabase;
let rest: PostgrestEndpoint;
beforeAll(async () => {
  t = await openTestDatabase();
  rest = await startPostgrest(t.db);
}, 60_000);
afterAll(async () => {
  await rest?.close();
  await t?.close();
});
beforeEach(() => t.reset());

const env = () => ({
  SUPABASE_URL: rest.url,
  SUPABASE_SERVICE_ROLE_KEY: rest.serviceKey,
  CLERK_WEBHOOK_SIGNING_SECRET: SECRET,
  LOG_LEVEL: 'silent',
});

describe('the edge handler (shared by the Worker and the Edge Function)', () => {
  it('serves the app under a base path (Supabase puts the function name first)', async () => {
    const handle = edgeHandler(env(), { basePath: '/clerk-webhook' });
    const d = signed(sampleEvent('user.created', { id: 'user_edge' }));
    const res = await handle(
      new Request('http://edge.test/clerk-webhook/webhooks/clerk', {
        method: 'POST',
        headers: d.headers,
        body: d.body,
      }),
    );
    expect(res.status).toBe(200);
    expect((await t.db.query('select id from public.users_public')).rows).toEqual([{ id: 'user_edge' }]);
    expect((await handle(new Request('http://edge.test/clerk-webhook/healthz'))).status).toBe(200);
  });

  it.each<[string, Record<string, string>, RegExp[]]>([
    [
      'nothing set',
      {},
      [/SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY/, /CLERK_WEBHOOK_SIGNING_SECRET is missing/],
    ],
    [
      'DATABASE_URL instead of Supabase',
      { DATABASE_URL: 'postgres://x@127.0.0.1/db', CLERK_WEBHOOK_SIGNING_SECRET: SECRET },
      [/DATABASE_URL is for the Node runtime/],
    ],
    [
      'no signing secret',
      { SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SECRET_KEY: 'sb_secret_x' },
      [/CLERK_WEBHOOK_SIGNING_SECRET/],
    ],
  ])('a configuration error (%s) answers 500 and logs what to set', async (_label, vars, messages) => {
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    try {
      const res = await edgeHandler(vars)(new Request('http://edge.test/healthz'));
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: 'misconfigured: see the logs' });
      for (const m of messages) expect(errors.join('\n')).toMatch(m);
    } finally {
      spy.mockRestore();
    }
  });
});
