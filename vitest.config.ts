import { configDefaults, defineConfig } from 'vitest/config';

// The main suite. The real-runtime smoke suites (workerd, Deno) under test/edge/ run apart:
// `npm run test:edge` (vitest.edge.config.ts); the packaging suite (the tarball installed in a scratch
// app) too: `npm run test:package` (vitest.package.config.ts).
export default defineConfig({
  test: {
    exclude: [...configDefaults.exclude, 'test/edge/**', 'test/package/**'],
    // Every test file's log lines are checked for secrets and personal data after it runs.
    setupFiles: ['test/support/log-audit.ts'],
    // The CLI tests run bin/clerk-sync.mjs, which runs the build in dist/: rebuilt here when stale.
    globalSetup: ['test/support/build.ts'],
  },
});
