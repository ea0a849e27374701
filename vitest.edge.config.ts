import { defineConfig } from 'vitest/config';

// `npm run test:edge`: the edge code and its smoke suites in the real runtimes (workerd through
// Miniflare, Deno), against the test PostgREST endpoint. Kept out of `npm test` (vitest.config.ts).
export default defineConfig({
  test: {
    include: ['test/edge/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
