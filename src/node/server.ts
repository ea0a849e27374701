/**
 * @module Node entry (`npm start`): the receiver, started as `clerk-sync serve` starts it.
 */
import { ConfigError } from '../core/config.ts';
import { startReceiver } from './serve.ts';

try {
  await startReceiver(process.env);
} catch (error) {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : `clerk-supabase-sync: ${(error as Error).message}`}\n`,
  );
  process.exit(1);
}
