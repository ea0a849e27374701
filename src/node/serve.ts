/**
 * @module The Node receiver's start-up, shared by `npm start` (src/node/server.ts) and `clerk-sync serve`:
 * config → deps → serveReceiver: createApp on serveNode (bounded for unsigned traffic; deliveries on Node's own route), and a
 * bounded stop on SIGINT/SIGTERM.
 */
import { WEBHOOK_PATH } from '../app/app.ts';
import { type Env, parseConfig } from '../core/config.ts';
import { ensureDeps } from '../ensure/deps.ts';
import { checkDatabaseAtStart } from './database-error.ts';
import { nodeDeps } from './deps.ts';
import { nodeHmac } from './hmac.ts';
import { exitOnSignals, serveReceiver } from './http.ts';
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
  const node = serveReceiver(
    { store, signingSecret, logger, hmac: nodeHmac, ensure: ensureDeps(config, store) },
    { port: config.port },
  );
  exitOnSignals(node, () => store.close());
  const { port } = await node.listening;
  const url = `http://localhost:${port}${WEBHOOK_PATH}`;
  logger.info({ port, database: config.database.kind }, `listening on ${url}`);
  if (devSecret)
    process.stdout.write(
      `\nEmbedded default: data in .data/, signing secret ${signingSecret} (kept in .data/signing-secret).\n` +
        `Point Clerk at ${url}, or try: npx clerk-sync send-test-event user.created\n\n`,
    );
  return { url };
}
