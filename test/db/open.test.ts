import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';

describe('the embedded database is one process’s', () => {
  const start = process.cwd();
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clerk-sync-lock-'));
    process.chdir(dir);
    await mkdir('.data');
  });
  afterEach(async () => {
    process.chdir(start);
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to open .data/ while another live process holds it, naming the process and the fix', async () => {
    const other = spawn('sleep', ['30']);
    try {
      await writeFile('.data/pglite.lock', String(other.pid));
      await expect(openDatabase({ kind: 'embedded' })).rejects.toThrow(
        `the embedded database in .data/ is in use by process ${other.pid} (npm start?): stop it first, or set DATABASE_URL`,
      );
    } finally {
      other.kill();
    }
  });

  it('takes over a lock left by a process that died, and releases it on close', async () => {
    await writeFile('.data/pglite.lock', '999999');
    const db = await openDatabase({ kind: 'embedded' });
    expect((await readFile('.data/pglite.lock', 'utf8')).trim()).toBe(String(process.pid));
    await db.close();
    await expect(readFile('.data/pglite.lock', 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  }, 30_000);
});
