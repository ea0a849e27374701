/**
 * @module Node entry (`npm start`): config → deps → createApp → listen.
 */
import { serve } from '@hono/node-server';
import { createApp } from '../app/app.ts';
import { ConfigError, parseConfig } from '../core/config.ts';
import { checkDatabaseAtStart } from './database-error.ts';
import { nodeDeps } from './deps.ts';
import { nodeHmac } from './hmac.ts';
import { createLogger } from './logger.ts';

try {
  const config = parseConfig(process.env, { signingSecret: true });
  const logger = createLogger(config.logLevel);
  const { store, signingSecret, devSecret } = await nodeDeps(config);
  await checkDatabaseAtStart(store, config.database, logger);
  const server = serve(
    { fetch: createApp({ store, signingSecret, logger, hmac: nodeHmac }).fetch, port: config.port },
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
  const lines =
    error instanceof ConfigError ? error.problems : [(error as Error).message.split('\n')[0] as string];
  process.stderr.write(lines.map((line) => `clerk-supabase-sync: ${line}\n`).join(''));
  process.exit(1);
}
