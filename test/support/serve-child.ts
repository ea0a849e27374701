/**
 * @module A receiver in a child process for the Node server tests: the real receiver (`serveReceiver`),
 * with a store whose database is `DATABASE_URL` (a stuck one for the shutdown test) or, for unsigned
 * traffic that never reaches it, an address nothing listens on. Prints `ready <port> <rss>`; given
 * a line on stdin, prints `peak <maxRSS bytes>` (a signal would stop at tsx's own process).
 */
import { silentLogger } from '../../src/core/logger.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { exitOnSignals, serveReceiver } from '../../src/node/http.ts';
import { sqlStore } from '../../src/store/sql.ts';
import { SECRET } from './webhooks.ts';

const db = pgDatabase(process.env.DATABASE_URL ?? 'postgres://nobody@127.0.0.1:9/none', {
  connectionTimeoutMs: 1_000,
});
const store = sqlStore(db, () => db.close());
// As the Node entry serves it (src/node/serve.ts): deliveries on Node's own route, the rest on the app.
const node = serveReceiver(
  { store, signingSecret: SECRET, logger: silentLogger },
  {
    port: 0,
    ...(process.env.REQUEST_TIMEOUT_MS ? { requestTimeoutMs: Number(process.env.REQUEST_TIMEOUT_MS) } : {}),
  },
);
exitOnSignals(node, () => store.close());
process.stdin.on('data', () => process.stdout.write(`peak ${process.resourceUsage().maxRSS * 1024}\n`));
const { port } = await node.listening;
process.stdout.write(`ready ${port} ${process.memoryUsage().rss}\n`);
