/**
 * @module `clerk-sync migrate`: applies the SQL migrations over a direct connection.
 */
import { parseConfig } from '../../core/config.ts';
import { migrate as applyMigrations } from '../../db/migrate.ts';
import { openDatabase } from '../../db/open.ts';
import type { Command } from '../command.ts';

export const migrate: Command = {
  summary: 'apply the SQL migrations to DATABASE_URL (or the embedded database)',
  usage: 'clerk-sync migrate [--json]',
  options: { json: { type: 'boolean' } },
  async run({ values }, env, io) {
    const config = parseConfig(env, { directDatabase: true });
    const db = await openDatabase(config.database);
    try {
      const result = await applyMigrations(db);
      if (values.json) io.out(JSON.stringify(result));
      else if (result.applied.length === 0) io.out(`Schema is current (${result.current}).`);
      else io.out(`Applied ${result.applied.length} migration(s): ${result.applied.join(', ')}.`);
      return 0;
    } finally {
      await db.close();
    }
  },
};
