/**
 * The package as a user gets it: `npm pack`, the tarball installed into a scratch app (dependencies from
 * the npm cache or registry), then only what the tarball holds — `npx clerk-sync --version`,
 * `createClerkSyncHandler` imported by package name and served under /api/webhooks/clerk by node:http,
 * `init` and `migrate` in the app's Supabase project, `init --schema` beside an app's own
 * organizations table, the Edge Function `init` wrote, run by Deno, and a Worker importing the package,
 * bundled by wrangler and run by Miniflare (both against the test PostgREST endpoint).
 * The database parts need the server (TEST_DATABASE_URL).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../src/core/samples.ts';
import { pgDatabase } from '../../src/db/pg.ts';
import { createEmptyDatabase, onServer } from '../support/db.ts';
import { type DenoProcess, freePort, startDeno } from '../support/deno.ts';
import { type PostgrestEndpoint, startPostgrest } from '../support/postgrest.ts';
import { OTHER_SECRET, SECRET, signed } from '../support/webhooks.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string }[];
}

let scratch: string;
let app: string;
let packed: Packed;
const bin = () => join(app, 'node_modules/.bin/clerk-sync');
const cleanEnv = () => {
  const { DATABASE_URL: _a, SUPABASE_URL: _b, CLERK_WEBHOOK_SIGNING_SECRET: _c, ...rest } = process.env;
  return { ...rest, NO_COLOR: '1' };
};

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'clerk-sync-package-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  packed = (JSON.parse(stdout.slice(stdout.indexOf('['))) as Packed[])[0] as Packed;
  app = join(scratch, 'app');
  await mkdir(join(app, 'supabase/migrations'), { recursive: true });
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }, null, 2),
  );
  // A Supabase CLI project, as `supabase init` leaves it, with one migration of the app's.
  await writeFile(join(app, 'supabase/config.toml'), 'project_id = "scratch-app"\n\n[api]\nport = 54321\n');
  await writeFile(
    join(app, 'supabase/migrations/20250101000000_todos.sql'),
    'create table public.todos (id bigint generated always as identity primary key, title text not null);\n',
  );
  await run(
    'npm',
    [
      'install',
      join(scratch, packed.filename),
      '@hono/node-server',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ],
    { cwd: app, maxBuffer: 16 * 1024 * 1024 },
  );
}, 600_000);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds the build, the bin and the migrations; no sources, tests or bench', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'package.json',
        'bin/clerk-sync.mjs',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cli/main.js',
        'supabase/migrations/20261122000000_clerk_sync_schema.sql',
      ]),
    );
    expect(paths.filter((p) => /^(src|test|bench|docs|\.ci)\/|\.tsbuildinfo$|\.test\./.test(p))).toEqual([]);
    // The figures the README records.
    console.log(
      `tarball ${(packed.size / 1024).toFixed(1)} kB, ${packed.entryCount} files, unpacked ${(packed.unpackedSize / 1024).toFixed(1)} kB`,
    );
  });

  it('installs without dev dependencies: no tsx, no TypeScript', async () => {
    const installed = await readdir(join(app, 'node_modules'));
    const kib = async (dir: string) => (await run('du', ['-sk', dir], { cwd: app })).stdout.split('\t')[0];
    console.log(
      `installed: node_modules ${await kib('node_modules')} KiB (PGlite ${await kib('node_modules/@electric-sql')} KiB, the app's @hono/node-server included)`,
    );
    expect(installed).toContain('clerk-supabase-sync');
    expect(installed).not.toContain('tsx');
    expect(installed).not.toContain('typescript');
  });

  it('npx clerk-sync --version prints the version', async () => {
    const { stdout } = await run('npx', ['--no-install', 'clerk-sync', '--version'], { cwd: app });
    expect(stdout.trim()).toBe(pkg.version);
  });

  it('its declarations type-check in a strict NodeNext TypeScript app', async () => {
    await writeFile(
      join(app, 'check.ts'),
      `import { createClerkSyncHandler, type ClerkSyncHandler } from 'clerk-supabase-sync';
const handler: ClerkSyncHandler = createClerkSyncHandler({ env: { LOG_LEVEL: 'info' } });
export const POST: (request: Request) => Promise<Response> = handler;
// @ts-expect-error env is a map of strings (this fails if the declarations resolve to any)
createClerkSyncHandler({ env: 42 });
`,
    );
    // As a Next.js app's tsconfig has it (skipLibCheck on): the @ts-expect-error above is what would
    // fail if the package's declarations did not resolve.
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          types: [],
          skipLibCheck: true,
          noEmit: true,
        },
        files: ['check.ts'],
      }),
    );
    await expect(
      run(join(ROOT, 'node_modules/.bin/tsc'), ['-p', '.'], { cwd: app }).then(
        () => 'ok',
        (e: { stdout: string }) => e.stdout,
      ),
    ).resolves.toBe('ok');
  });
});

describe.runIf(onServer)('the installed package, on Postgres', () => {
  let database: { url: string | undefined; drop(): Promise<void> };
  let url: string;
  const db = () => pgDatabase(url);
  const query = async (sql: string) => {
    const d = db();
    try {
      return (await d.query(sql)).rows;
    } finally {
      await d.close();
    }
  };

  beforeAll(async () => {
    database = await createEmptyDatabase();
    url = database.url as string;
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('init twice in the app: the second run changes nothing', async () => {
    const first = await run(bin(), ['init'], { cwd: app, env: cleanEnv() });
    expect(first.stdout).toMatch(/Wrote supabase\/functions\/clerk-webhook\/index\.ts/);
    const files = async () => {
      const all: Record<string, string> = {};
      for (const e of await readdir(join(app, 'supabase'), { recursive: true, withFileTypes: true }))
        if (e.isFile()) {
          const p = join(e.parentPath, e.name);
          all[p] = `${(await stat(p)).mtimeMs} ${await readFile(p, 'utf8')}`;
        }
      return all;
    };
    const before = await files();
    const second = await run(bin(), ['init'], { cwd: app, env: cleanEnv() });
    expect(second.stdout).toMatch(/^Nothing to do/);
    expect(await files()).toEqual(before);
  });

  it("migrate applies the app's, the package's and an rls-generated migration: the app table ends with RLS on", async () => {
    await run(bin(), ['rls', 'todos'], { cwd: app, env: cleanEnv() });
    const { stdout } = await run(bin(), ['migrate'], { cwd: app, env: { ...cleanEnv(), DATABASE_URL: url } });
    const count = (await readdir(join(app, 'supabase/migrations'))).length;
    expect(stdout).toBe(`Applied ${count} migration(s) to ${url}: ${stdout.split(': ')[1]}`);
    expect(stdout).toMatch(/20250101000000, 2026\d+.*_?\d{14}\.\n$/);
    expect(await query(`select relrowsecurity from pg_class where oid = 'public.todos'::regclass`)).toEqual([
      { relrowsecurity: true },
    ]);
    // Without DATABASE_URL, outside the package's repository: refused, no embedded database made.
    const refused = await run(bin(), ['migrate'], { cwd: app, env: cleanEnv() }).catch((e) => e);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/DATABASE_URL is missing/);
    await expect(stat(join(app, '.data'))).rejects.toThrow();
  });

  describe('createClerkSyncHandler imported by package name, under /api/webhooks/clerk on node:http', () => {
    let server: ChildProcess;
    let base: string;
    let output = '';

    beforeAll(async () => {
      await writeFile(
        join(app, 'server.mjs'),
        `import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { createClerkSyncHandler } from 'clerk-supabase-sync';

const listener = getRequestListener(createClerkSyncHandler());
createServer((req, res) => {
  if (req.url === '/api/webhooks/clerk') return listener(req, res);
  res.statusCode = 404;
  res.end();
}).listen(0, '127.0.0.1', function () {
  console.log('listening on ' + this.address().port);
});
`,
      );
      server = spawn(process.execPath, ['server.mjs'], {
        cwd: app,
        env: { ...cleanEnv(), DATABASE_URL: url, CLERK_WEBHOOK_SIGNING_SECRET: SECRET },
      });
      server.stdout?.on('data', (b) => (output += b));
      server.stderr?.on('data', (b) => (output += b));
      const started = Date.now();
      while (!/listening on \d+/.test(output) && server.exitCode === null && Date.now() - started < 20_000)
        await new Promise((r) => setTimeout(r, 50));
      base = `http://127.0.0.1:${/listening on (\d+)/.exec(output)?.[1]}/api/webhooks/clerk`;
    });
    afterAll(() => {
      server?.kill('SIGTERM');
    });

    const deliver = async (id: string, secret = SECRET) => {
      const d = signed(sampleEvent('user.created', { id }), { secret });
      const res = await fetch(base, { method: 'POST', headers: d.headers, body: d.body });
      return { status: res.status, body: await res.json() };
    };

    it('delivers a signed event into Postgres, and GET is the health check', async () => {
      expect(await deliver('user_packaged')).toEqual({ status: 200, body: { outcome: 'applied' } });
      expect(await query(`select id from public.users_public`)).toEqual([{ id: 'user_packaged' }]);
      const health = await fetch(base);
      expect([health.status, ((await health.json()) as { status: string }).status]).toEqual([200, 'ok']);
    });

    it('refuses a bad signature with 401 and writes nothing', async () => {
      expect(await deliver('user_forged', OTHER_SECRET)).toEqual({
        status: 401,
        body: { error: 'invalid signature' },
      });
      expect(await query(`select id from public.users_public where id = 'user_forged'`)).toEqual([]);
    });
  });

  it('clerk-sync serve: the receiver as npm start runs it, stopped cleanly by SIGTERM', async () => {
    const port = await freePort();
    const server = spawn(bin(), ['serve'], {
      cwd: app,
      env: { ...cleanEnv(), DATABASE_URL: url, CLERK_WEBHOOK_SIGNING_SECRET: SECRET, PORT: String(port) },
    });
    let output = '';
    server.stdout?.on('data', (b) => (output += b));
    server.stderr?.on('data', (b) => (output += b));
    try {
      await expect
        .poll(() => output, { timeout: 20_000 })
        .toContain(`listening on http://localhost:${port}/webhooks/clerk`);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const d = signed(sampleEvent('user.created', { id: 'user_served' }));
      const res = await fetch(`http://127.0.0.1:${port}/webhooks/clerk`, {
        method: 'POST',
        headers: d.headers,
        body: d.body,
      });
      expect(await res.json()).toEqual({ outcome: 'applied' });
    } finally {
      server.kill('SIGTERM');
    }
    await expect.poll(() => server.exitCode, { timeout: 10_000 }).toBe(0);
  });

  it('init --schema clerk beside an app’s own public.organizations, then migrate', async () => {
    const other = join(scratch, 'other');
    await mkdir(join(other, 'supabase/migrations'), { recursive: true });
    await writeFile(join(other, 'supabase/config.toml'), 'project_id = "other"\n');
    await writeFile(
      join(other, 'supabase/migrations/20250101000000_organizations.sql'),
      'create table public.organizations (id bigint primary key, name text not null);\n',
    );
    const second = await createEmptyDatabase();
    try {
      await run(bin(), ['init', '--schema', 'clerk'], { cwd: other, env: cleanEnv() });
      await run(bin(), ['migrate'], {
        cwd: other,
        env: { ...cleanEnv(), DATABASE_URL: second.url as string },
      });
      const tables = await second.db.query<{ t: string }>(
        `select table_schema || '.' || table_name as t from information_schema.tables
         where table_name in ('organizations', 'organization_memberships') order by 1`,
      );
      expect(tables.rows.map((r) => r.t)).toEqual([
        'clerk.organization_memberships',
        'clerk.organizations',
        'public.organizations',
      ]);
    } finally {
      await second.drop();
    }
  });

  describe('the edge runtimes, through supabase-js (the test PostgREST endpoint)', () => {
    let rest: PostgrestEndpoint;
    let pool: ReturnType<typeof pgDatabase>;
    beforeAll(async () => {
      pool = db();
      rest = await startPostgrest(pool);
    });
    afterAll(async () => {
      await rest?.close();
      await pool?.close();
    });
    const users = (id: string) => query(`select id from public.users_public where id = '${id}'`);

    describe('the Edge Function init wrote, in Deno', () => {
      let deno: DenoProcess;
      let base: string;

      beforeAll(async () => {
        const port = await freePort();
        base = `http://127.0.0.1:${port}/clerk-webhook`;
        deno = await startDeno(['--allow-read'], 'supabase/functions/clerk-webhook/index.ts', app, {
          DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
          SUPABASE_URL: rest.url,
          SUPABASE_SERVICE_ROLE_KEY: rest.serviceKey,
          CLERK_WEBHOOK_SIGNING_SECRET: SECRET,
        });
      }, 90_000);
      afterAll(() => {
        deno?.child.kill('SIGTERM');
      });

      it('applies a signed delivery at /clerk-webhook, refuses a bad one', async () => {
        const good = signed(sampleEvent('user.created', { id: 'user_edge' }));
        const res = await fetch(base, { method: 'POST', headers: good.headers, body: good.body });
        expect([res.status, await res.json()]).toEqual([200, { outcome: 'applied' }]);
        expect(await users('user_edge')).toEqual([{ id: 'user_edge' }]);
        const bad = signed(sampleEvent('user.created', { id: 'user_edge_forged' }), { secret: OTHER_SECRET });
        expect((await fetch(base, { method: 'POST', headers: bad.headers, body: bad.body })).status).toBe(
          401,
        );
        expect(await users('user_edge_forged')).toEqual([]);
      });
    });

    it('a Worker importing the package bundles without nodejs_compat (no node-postgres) and applies a delivery', async () => {
      await writeFile(
        join(app, 'worker.js'),
        `import { createClerkSyncHandler } from 'clerk-supabase-sync';
let handler;
export default { fetch: (request, env) => (handler ??= createClerkSyncHandler({ env }))(request) };
`,
      );
      const out = join(scratch, 'worker-out');
      await run(
        join(ROOT, 'node_modules/.bin/wrangler'),
        [
          'deploy',
          'worker.js',
          '--dry-run',
          '--outdir',
          out,
          '--name',
          'scratch',
          '--compatibility-date',
          '2026-04-20',
        ],
        { cwd: app, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' } },
      );
      expect(await readFile(join(out, 'worker.js'), 'utf8')).not.toMatch(/pg-pool|pg-protocol/);
      const mf = new Miniflare({
        modulesRoot: out,
        modules: [{ type: 'ESModule', path: join(out, 'worker.js') }],
        compatibilityDate: '2026-04-20',
        bindings: {
          SUPABASE_URL: rest.url,
          SUPABASE_SERVICE_ROLE_KEY: rest.serviceKey,
          CLERK_WEBHOOK_SIGNING_SECRET: SECRET,
          LOG_LEVEL: 'warn',
        },
      });
      try {
        const d = signed(sampleEvent('user.created', { id: 'user_worker' }));
        const res = await mf.dispatchFetch('http://worker.test/api/webhooks/clerk', {
          method: 'POST',
          headers: d.headers,
          body: d.body,
        });
        expect([res.status, await res.json()]).toEqual([200, { outcome: 'applied' }]);
        expect(await users('user_worker')).toEqual([{ id: 'user_worker' }]);
      } finally {
        await mf.dispose();
      }
    });
  });
});
