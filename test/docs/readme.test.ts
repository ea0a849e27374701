/**
 * The README's psql walkthrough, run as a newcomer would: its shell block, literally, against a
 * fresh database on the server (the only edits: that database's URL, and a free port).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase, onServer } from '../support/db.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

async function shellBlocks(): Promise<string[]> {
  const readme = await readFile(`${ROOT}README.md`, 'utf8');
  return [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

describe.runIf(onServer)('README', () => {
  let database: Awaited<ReturnType<typeof createEmptyDatabase>>;
  beforeAll(async () => {
    database = await createEmptyDatabase();
  }, 30_000);
  afterAll(() => database?.drop());

  it('the psql walkthrough works as written', async () => {
    const block = (await shellBlocks()).find((b) => b.includes('psql "$DATABASE_URL"'));
    expect(block).toBeDefined();
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const script = [
      // Job control, so that `kill %1` stops npm start's whole process group, not npm alone.
      'set -em',
      (block as string).replace(/^export DATABASE_URL=.*$/m, `export DATABASE_URL=${database.url}`),
      'kill %1',
    ].join('\n');
    const { stdout } = await promisify(execFile)('bash', ['-c', script], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn', NO_COLOR: '1' },
      timeout: 60_000,
    });
    expect(stdout).toMatch(/Applied \d+ migration/);
    expect(stdout).toMatch(/→ 200 \{"outcome":"applied"\}/);
    expect(stdout).toMatch(/user_\w+ \| Sample\s+\| sample\+\w+@example\.com/);
  }, 90_000);
});
