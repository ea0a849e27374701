/**
 * @module Supabase Edge Function entry: the Clerk webhook receiver on Deno, at
 * `https://<ref>.supabase.co/functions/v1/clerk-webhook/webhooks/clerk` (and `…/clerk-webhook/healthz`).
 * env → config → supabase-js store → app. Deploy: `supabase functions deploy clerk-webhook --no-verify-jwt`.
 * `@app/` is the repository's src/, mapped in deno.json (docs/decisions/edge-function-layout.md).
 */
import { edgeHandler } from '@app/edge/handler.ts';

// The Edge Runtime passes the function's name as the first path segment.
const handler = edgeHandler(Deno.env.toObject(), { basePath: '/clerk-webhook' });
// PORT only when run under plain Deno (the smoke tests); the Edge Runtime picks its own.
const port = Deno.env.get('PORT');
Deno.serve(port === undefined ? {} : { port: Number(port), hostname: '127.0.0.1' }, handler);
