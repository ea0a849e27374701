import { configDefaults, defineConfig } from 'vitest/config';

// The main suite. The real-runtime smoke suites (workerd, Deno) under test/edge/ run apart:
// `npm run test:edge` (vitest.edge.config.ts).
export default defineConfig({
  test: {
    exclude: [...configDefaults.exclude, 'test/edge/**'],
    // Every test file's log lines are checked for secrets and personal data after it runs.
    setupFiles: ['test/support/log-audit.ts'],
  },
});
