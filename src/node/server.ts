/**
 * @module Node entry (`npm start`): config → deps → createApp → serveNode.
 */
import { createApp } from '../app/app.ts';
import { ConfigError, parseConfig } from '../core/config.ts';
import { nodeDeps } from './deps.ts';
import { nodeHmac } from './hmac.ts';
import { exitOnSignals, serveNode } from './http.ts';
import { createLogger } from './logger.ts';

try {
  const config = parseConfig(process.env, { signingSecret: true });
  const logger = createLogger(config.logLevel);
  const { store, signingSecret, devSecret } = await nodeDeps(config);
  const node = serveNode({
    fetch: createApp({ store, signingSecret, logger, hmac: nodeHmac }).fetch,
    port: config.port,
    logger,
  });
  exitOnSignals(node, () => store.close());
  const { port } = await node.listening;
  const url = `http://localhost:${port}/webhooks/clerk`;
  logger.info({ port, database: config.database.kind }, `listening on ${url}`);
  if (devSecret)
    process.stdout.write(
      `\nEmbedded default: data in .data/, signing secret ${signingSecret} (kept in .data/signing-secret).\n` +
        `Point Clerk at ${url}, or try: npx clerk-sync send-test-event user.created\n\n`,
    );
} catch (error) {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : `clerk-supabase-sync: ${(error as Error).message}`}\n`,
  );
  process.exit(1);
}
