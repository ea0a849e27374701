/**
 * @module Node entry (`npm start`): the receiver, started as `clerk-sync serve` starts it.
 */
import { ConfigError } from '../core/config.ts';
import { startReceiver } from './serve.ts';

try {
  await startReceiver(process.env);
} catch (error) {
  const lines =
    error instanceof ConfigError ? error.problems : [(error as Error).message.split('\n')[0] as string];
  process.stderr.write(lines.map((line) => `clerk-supabase-sync: ${line}\n`).join(''));
  process.exit(1);
}
