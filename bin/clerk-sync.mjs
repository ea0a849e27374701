#!/usr/bin/env node
// The `clerk-sync` command: the compiled CLI in dist/ (built by `npm run build`, which `npm ci` runs
// through `prepare` in a clone, and `npm pack` through `prepack`).
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('dist')) throw error;
  process.stderr.write('clerk-sync: the package is not built (no dist/): run npm run build\n');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2), process.env);
