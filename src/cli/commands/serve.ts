/**
 * @module `clerk-sync serve`: the webhook receiver, started exactly as `npm start` starts it.
 */
import { startReceiver } from '../../node/serve.ts';
import type { Command } from '../command.ts';

export const serve: Command = {
  summary: 'run the webhook receiver (POST /webhooks/clerk, GET /healthz) on PORT (default 8787)',
  usage: [
    'clerk-sync serve',
    '',
    'Reads the environment as npm start does: CLERK_WEBHOOK_SIGNING_SECRET, and DATABASE_URL or',
    'SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY (none: the embedded database in .data/). Stops on SIGINT/SIGTERM.',
  ].join('\n'),
  options: {},
  async run(_args, env) {
    await startReceiver(env);
    return 0;
  },
};
