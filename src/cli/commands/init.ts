/**
 * @module `clerk-sync init`: sets up a Supabase CLI project to mirror Clerk — the package's migrations
 * under their own versions in supabase/migrations/, the Edge Function supabase/functions/clerk-webhook/
 * (importing this package from npm) and its `verify_jwt = false` section in supabase/config.toml.
 * Idempotent: a second run, or one after an upgrade, adds only what is missing.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageInfo } from '../../node/package.ts';
import { CliError, type Command } from '../command.ts';
import { packageMigrations, projectMigrations, projectSchema } from '../project.ts';

export const FUNCTION_NAME = 'clerk-webhook';

/** The Edge Function's source: the package's handler, served by Deno. */
export function edgeFunctionSource(name: string, version: string): string {
  return `// Clerk webhooks → this project's database, by ${name} (written by \`clerk-sync init\`).
// Deploy: supabase functions deploy ${FUNCTION_NAME}
// Secret: supabase secrets set CLERK_WEBHOOK_SIGNING_SECRET=whsec_…   (SUPABASE_URL and the service role key are set by Supabase)
// Clerk endpoint: https://<project-ref>.supabase.co/functions/v1/${FUNCTION_NAME}  (GET there is the health check)
import { createClerkSyncHandler } from 'npm:${name}@^${version}';

Deno.serve(createClerkSyncHandler({ env: Deno.env.toObject() }));
`;
}

const CONFIG_SECTION = `
[functions.${FUNCTION_NAME}]
# Clerk signs deliveries with Svix and sends no Supabase JWT: the function checks the Svix signature itself.
verify_jwt = false
`;

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

export const init: Command = {
  summary:
    "add the package's migrations, the clerk-webhook Edge Function and its config to a Supabase project",
  usage: [
    'clerk-sync init [--schema NAME] [--dir supabase] [--json]',
    '',
    "Run at the root of a Supabase CLI project. Writes the package's migrations into",
    'supabase/migrations/ under their own versions, the Edge Function supabase/functions/clerk-webhook/',
    'and its [functions.clerk-webhook] verify_jwt = false section in supabase/config.toml. Running it',
    'again (after an upgrade) adds only the migrations the project lacks and changes nothing else.',
    '',
    '  --schema    put the mirror tables in this schema (default public), e.g. when the app already',
    '              has an organizations table; remembered in the migrations it writes',
    '  --dir       the Supabase folder (default supabase)',
    '  --json      print {"schema", "added", "function", "config"}',
  ].join('\n'),
  options: { schema: { type: 'string' }, dir: { type: 'string' }, json: { type: 'boolean' } },
  async run({ values }, _env, io) {
    const dir = typeof values.dir === 'string' ? values.dir : 'supabase';
    if (!(await exists(dir)))
      throw new CliError(
        `no ${dir}/ folder here: run this at the root of your Supabase project (npx supabase init makes one), or pass --dir`,
      );
    const migrationsDir = join(dir, 'migrations');
    const project = await projectMigrations(migrationsDir);
    const current = await projectSchema(project);
    const asked = typeof values.schema === 'string' ? values.schema : undefined;
    if (asked !== undefined && current !== undefined && asked !== current)
      throw new CliError(
        `this project's clerk-sync migrations put the mirror tables in schema ${current}: run init --schema ${current} (or without --schema)`,
      );
    const schema = asked ?? current ?? 'public';

    // Migrations: each of the package's versions the project lacks, never overwriting a file.
    const have = new Set(project.map((m) => m.version));
    const newest = project.at(-1)?.version;
    const added: string[] = [];
    await mkdir(migrationsDir, { recursive: true });
    for (const m of await packageMigrations(schema)) {
      if (have.has(m.version)) continue;
      const file = join(migrationsDir, m.file);
      await writeFile(file, m.sql, { flag: 'wx' });
      added.push(file);
    }

    // The Edge Function, unless the project already has one of that name.
    const { name, version } = packageInfo();
    const functionDir = join(dir, 'functions', FUNCTION_NAME);
    const writeFunction = !(await exists(functionDir));
    if (writeFunction) {
      await mkdir(functionDir, { recursive: true });
      await writeFile(join(functionDir, 'index.ts'), edgeFunctionSource(name, version), { flag: 'wx' });
    }

    // Its config.toml section, unless there is one.
    const configFile = join(dir, 'config.toml');
    const config = await readFile(configFile, 'utf8').catch(() => undefined);
    const writeConfig = config === undefined || !config.includes(`[functions.${FUNCTION_NAME}]`);
    if (writeConfig)
      await writeFile(
        configFile,
        config === undefined ? CONFIG_SECTION.trimStart() : `${config.trimEnd()}\n${CONFIG_SECTION}`,
      );

    if (values.json) {
      io.out(JSON.stringify({ schema, added, function: writeFunction, config: writeConfig }));
      return 0;
    }
    for (const file of added) io.out(`Added ${file}`);
    if (writeFunction) io.out(`Wrote ${join(functionDir, 'index.ts')}`);
    if (writeConfig) io.out(`Added [functions.${FUNCTION_NAME}] verify_jwt = false to ${configFile}`);
    if (added.length === 0 && !writeFunction && !writeConfig) {
      io.out(
        `Nothing to do: ${dir}/ has every migration of ${name} ${version}, the function and its config.`,
      );
      return 0;
    }
    // `supabase db push` refuses a migration older than the newest one already applied.
    const older =
      newest !== undefined && added.some((f) => (/(\d{14})_[^/\\]*$/.exec(f)?.[1] ?? '') < newest);
    io.out(
      `Next: supabase db push${older ? ' --include-all' : ''} (or npx clerk-sync migrate), then supabase functions deploy ${FUNCTION_NAME}.`,
    );
    return 0;
  },
};
