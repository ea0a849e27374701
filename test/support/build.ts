/**
 * @module Vitest global setup: the tests that run `bin/clerk-sync.mjs` run the compiled CLI in dist/,
 * so build it first when src/ changed since the last build (`npm ci` builds it through `prepare`).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  return latest;
}

export default function setup(): void {
  const built = (() => {
    try {
      return statSync(join(ROOT, 'dist/.tsbuildinfo')).mtimeMs;
    } catch {
      return 0;
    }
  })();
  if (built > newest(join(ROOT, 'src'))) return;
  execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}
