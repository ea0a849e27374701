/**
 * @module The Node receiver's start-up, shared by `npm start` (src/node/server.ts) and `clerk-sync serve`:
 * config → deps → createApp → serveNode (bounded for unsigned traffic), and a bounded stop on SIGINT/SIGTERM.
 */
import { createApp } from '../app/app.ts';
import { type Env, parseConfig } from '../core/config.ts';
import { ensureDeps } from '../ensure/deps.ts';
import { checkDatabaseAtStart } from './database-error.ts';
import { nodeDeps } from './deps.ts';
import { nodeHmac } from './hmac.ts';
import { exitOnSignals, serveNode } from './http.ts';
import { createLogger } from './logger.ts';

/**
 * Starts the receiver on `PORT` and resolves once it listens; throws a ConfigError naming what to set.
 * @example await startReceiver(process.env);
 */
export async function startReceiver(env: Env): Promise<{ url: string }> {
  const config = parseConfig(env, { signingSecret: true });
  const logger = createLogger(config.logLevel);
  const { store, signingSecret, devSecret } = await nodeDeps(config);
  await checkDatabaseAtStart(store, config.database, logger);
  const node = serveNode({
    fetch: createApp({ store, signingSecret, logger, hmac: nodeHmac, ensure: ensureDeps(config, store) })
      .fetch,
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
  return { url };
}
