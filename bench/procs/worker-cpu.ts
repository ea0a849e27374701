/**
 * @module A Worker for measuring per-event CPU in workerd (bench/sections/edge.ts runs it). It receives a
 * batch of signed deliveries and sends each through the real app: signature check, parsing, mapping,
 * the supabase-js request (built, sent and parsed), and a JSON log line. Only the network is left
 * out: the store's fetch answers at once, so the Worker never waits and its wall time is CPU time.
 */
import { createApp } from '../../src/app/app.ts';
import { consoleLogger } from '../../src/edge/logger.ts';
import { supabaseStore } from '../../src/store/supabase.ts';

const answerAtOnce = async () =>
  new Response('"applied"', { status: 200, headers: { 'content-type': 'application/json' } });
const discard = { log() {}, warn() {}, error() {} };

export default {
  async fetch(request: Request, env: { CLERK_WEBHOOK_SIGNING_SECRET: string }): Promise<Response> {
    const deliveries = (await request.json()) as { body: string; headers: Record<string, string> }[];
    const app = createApp({
      store: supabaseStore(
        { url: 'https://bench.supabase.co', serviceKey: 'bench' },
        { fetch: answerAtOnce },
      ),
      signingSecret: env.CLERK_WEBHOOK_SIGNING_SECRET,
      logger: consoleLogger('info', { console: discard }),
    });
    for (const d of deliveries) {
      const res = await app.request('/webhooks/clerk', { method: 'POST', headers: d.headers, body: d.body });
      if (res.status !== 200) return new Response(`delivery answered ${res.status}`, { status: 500 });
    }
    return new Response(String(deliveries.length));
  },
};
