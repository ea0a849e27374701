/**
 * @module Node entry (`npm start`): config → deps → createApp → listen.
 */
import { serve } from '@hono/node-server';
import { createApp } from '../app/app.ts';
import { ConfigError, parseConfig } from '../core/config.ts';
import { ensureDeps } from '../ensure/deps.ts';
import { nodeDeps } from './deps.ts';
import { nodeHmac } from './hmac.ts';
import { createLogger } from './logger.ts';

try {
  const config = parseConfig(process.env, { signingSecret: true });
  const logger = createLogger(config.logLevel);
  const { store, signingSecret, devSecret } = await nodeDeps(config);
  const server = serve(
    {
      fetch: createApp({ store, signingSecret, logger, hmac: nodeHmac, ensure: ensureDeps(config, store) })
        .fetch,
      port: config.port,
    },
    (info) => {
      const url = `http://localhost:${info.port}/webhooks/clerk`;
      logger.info({ port: info.port, database: config.database.kind }, `listening on ${url}`);
      if (devSecret)
        process.stdout.write(
          `\nEmbedded default: data in .data/, signing secret ${signingSecret} (kept in .data/signing-secret).\n` +
            `Point Clerk at ${url}, or try: npx clerk-sync send-test-event user.created\n\n`,
        );
    },
  );
  const stop = () => server.close(() => void store.close().finally(() => process.exit(0)));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : `clerk-supabase-sync: ${(error as Error).message}`}\n`,
  );
  process.exit(1);
}
