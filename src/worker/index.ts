/**
 * @module Cloudflare Workers entry (wrangler.toml `main`): env → config → supabase-js store → app.
 */
import { edgeHandler } from '../edge/handler.ts';

let handle: ReturnType<typeof edgeHandler> | undefined;

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    handle ??= edgeHandler({ ...env });
    return handle(request);
  },
};
