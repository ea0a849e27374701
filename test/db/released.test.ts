/**
 * Migrations are append-only: a database that applied a migration never applies it again, so an edit
 * to a released one would never reach it. supabase/migrations.sha256 lists every migration with its
 * checksum (`sha256sum -c supabase/migrations.sha256` checks it by hand); a change is a new migration.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { loadMigrations } from '../../src/db/migrate.ts';

const ROOT = new URL('../../', import.meta.url);

async function released(): Promise<Map<string, string>> {
  const text = await readFile(new URL('supabase/migrations.sha256', ROOT), 'utf8');
  return new Map(
    text
      .trim()
      .split('\n')
      .map((line) => {
        const [sum, path] = line.split(/\s+\*?/) as [string, string];
        return [path.replace('supabase/migrations/', ''), sum];
      }),
  );
}

describe('released migrations', () => {
  it('none has changed since it was listed, and every migration is listed', async () => {
    const sums = await released();
    const migrations = await loadMigrations();
    const changed = migrations
      .filter((m) => sums.has(m.file))
      .filter((m) => createHash('sha256').update(m.sql).digest('hex') !== sums.get(m.file))
      .map((m) => m.file);
    expect(changed, 'a released migration was edited: revert it and write a new migration').toEqual([]);
    const unlisted = migrations.filter((m) => !sums.has(m.file)).map((m) => m.file);
    expect(
      unlisted,
      'list a new migration: sha256sum supabase/migrations/<file> >> supabase/migrations.sha256',
    ).toEqual([]);
    expect([...sums.keys()].sort()).toEqual(migrations.map((m) => m.file));
  });
});
