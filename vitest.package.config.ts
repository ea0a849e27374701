import { defineConfig } from 'vitest/config';

// `npm run test:package`: the package as a user gets it — `npm pack`, the tarball installed into a scratch
// app, its bin, its exports, `init` and `migrate` there, and the Edge Function `init` writes, in Deno.
// Kept out of `npm test` (vitest.config.ts): it packs and installs, which takes a while.
export default defineConfig({
  test: {
    include: ['test/package/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
  },
});
