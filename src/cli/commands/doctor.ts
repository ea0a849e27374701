/**
 * @module `clerk-sync doctor`: checks the keys, Clerk, the database, the schema and the ledger, and
 * says for each what it found and what to do about it. One failed check never stops the others.
 */
import { Webhook } from 'standardwebhooks';
import { createClerkApi } from '../../clerk/api.ts';
import { ClerkApiError } from '../../clerk/errors.ts';
import { type Config, ConfigError, type DatabaseConfig, type Env, parseConfig } from '../../core/config.ts';
import { openStore } from '../../store/open.ts';
import { SCHEMA_VERSION, type Store, StoreError } from '../../store/port.ts';
import type { Command, Io } from '../command.ts';

export type Verdict = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  name: string;
  status: Verdict;
  /** What the check found, in one sentence. */
  found: string;
  /** What to do about it (failures and warnings). */
  fix?: string;
}

export interface DoctorDeps {
  /** Opens the store for the parsed database configuration (tests hand in their own database). */
  openStore?: (config: Config) => Promise<Store>;
}

const SECRET_KEY_FIX =
  'set CLERK_SECRET_KEY to the sk_test_… or sk_live_… secret key (Clerk dashboard → API keys)';
const SIGNING_SECRET_FIX =
  'set CLERK_WEBHOOK_SIGNING_SECRET to the whsec_… signing secret (Clerk dashboard → Webhooks → your endpoint → Signing Secret)';
const MIGRATE_FIX = 'run clerk-sync migrate (or supabase db push)';
const DATABASE_VARS = ['DATABASE_URL', 'SUPABASE_URL', 'SUPABASE_SERVICE_ROLE_KEY', 'SUPABASE_SECRET_KEY'];

const check = (name: string, status: Verdict, found: string, fix?: string): Check =>
  fix === undefined ? { name, status, found } : { name, status, found, fix };

/** Parses only `names` of the environment, so one bad variable does not hide the others' checks. */
function parseSome(env: Env, names: string[]): Config | ConfigError {
  try {
    return parseConfig(Object.fromEntries(names.map((n) => [n, env[n]])));
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

function secretKeyCheck(env: Env): { check: Check; key: string | undefined } {
  const name = 'CLERK_SECRET_KEY';
  const raw = env.CLERK_SECRET_KEY ?? '';
  const bad = (found: string) => ({ check: check(name, 'fail', found, SECRET_KEY_FIX), key: undefined });
  if (raw.trim() === '') return bad('not set');
  if (raw !== raw.trim()) return bad('has spaces or a line break around it');
  if (/^pk_(test|live)_/.test(raw))
    return bad('holds the publishable key (pk_…), which cannot call the Backend API');
  if (/^whsec_/.test(raw)) return bad('holds a webhook signing secret (whsec_…), not the API secret key');
  const shape = /^sk_(test|live)_\w+$/.exec(raw);
  if (shape === null) return bad('is not a Clerk secret key (expected sk_test_… or sk_live_…)');
  const instance = shape[1] === 'live' ? 'a production instance' : 'a development instance';
  return { check: check(name, 'ok', `sk_${shape[1]}_… (${instance})`), key: raw };
}

async function clerkCheck(env: Env, key: string | undefined): Promise<Check> {
  const name = 'Clerk API';
  const config = parseSome(env, ['CLERK_API_URL']);
  if (config instanceof ConfigError)
    return check(name, 'fail', config.problems.join('; '), 'fix CLERK_API_URL, or unset it to use Clerk');
  if (key === undefined) return check(name, 'skip', 'not checked: needs a valid CLERK_SECRET_KEY');
  const apiUrl = config.clerkApiUrl;
  const clerk = createClerkApi({ secretKey: key, apiUrl, maxRetries: 1, timeoutMs: 10_000 });
  try {
    const users = await clerk.get('/users', { limit: 1 });
    if (!Array.isArray(users))
      return check(
        name,
        'fail',
        `${apiUrl} answered GET /users with something other than a list of users`,
        'check CLERK_API_URL (default https://api.clerk.com/v1)',
      );
    return check(name, 'ok', `Clerk at ${apiUrl} accepts the secret key`);
  } catch (error) {
    if (!(error instanceof ClerkApiError)) throw error;
    switch (error.code) {
      case 'unauthorized':
        return check(
          name,
          'fail',
          'Clerk rejected the secret key (401)',
          'copy the secret key of this instance again (Clerk dashboard → API keys) into CLERK_SECRET_KEY; it may have been rotated',
        );
      case 'forbidden':
        return check(
          name,
          'fail',
          'Clerk refused GET /users (403)',
          'check that CLERK_SECRET_KEY belongs to the instance you mean',
        );
      case 'network':
        return check(
          name,
          'fail',
          `cannot reach Clerk at ${apiUrl}`,
          'check CLERK_API_URL (default https://api.clerk.com/v1) and the network',
        );
      case 'not_found':
      case 'unexpected_response':
        return check(
          name,
          'fail',
          `${apiUrl} does not answer like the Clerk Backend API`,
          'check CLERK_API_URL (default https://api.clerk.com/v1)',
        );
      case 'rate_limited':
        return check(
          name,
          'warn',
          'Clerk is rate-limiting this instance (429), so the key was not checked',
          'run clerk-sync doctor again in a minute',
        );
      case 'server':
        return check(
          name,
          'fail',
          `Clerk answered ${error.status ?? 'an error'}`,
          'Clerk may be having trouble (https://status.clerk.com): try again later',
        );
      default:
        return check(name, 'fail', error.message.split('\n')[0] as string);
    }
  }
}

function signingSecretCheck(env: Env, embedded: boolean): Check {
  const name = 'CLERK_WEBHOOK_SIGNING_SECRET';
  const raw = env.CLERK_WEBHOOK_SIGNING_SECRET ?? '';
  if (raw.trim() === '')
    return embedded
      ? check(name, 'ok', 'not set: fine on the embedded database, where npm start makes one in .data/')
      : check(name, 'fail', 'not set (the receiver needs it to verify deliveries)', SIGNING_SECRET_FIX);
  if (raw !== raw.trim())
    return check(name, 'fail', 'has spaces or a line break around it', SIGNING_SECRET_FIX);
  if (/^(sk|pk)_(test|live)_/.test(raw))
    return check(name, 'fail', 'holds a Clerk API key, not the webhook signing secret', SIGNING_SECRET_FIX);
  if (!raw.startsWith('whsec_')) return check(name, 'fail', 'does not start with whsec_', SIGNING_SECRET_FIX);
  const body = raw.slice('whsec_'.length);
  let valid = /^[A-Za-z0-9+/]+={0,2}$/.test(body);
  try {
    new Webhook(raw);
  } catch {
    valid = false;
  }
  if (!valid)
    return check(
      name,
      'fail',
      'whsec_ is not followed by valid base64 (cut short when copied?)',
      SIGNING_SECRET_FIX,
    );
  return check(name, 'ok', 'whsec_… (well formed)');
}

/** Where the database is, without its password. */
function describeDatabase(database: DatabaseConfig): string {
  if (database.kind === 'embedded') return 'the embedded database (.data/pglite)';
  try {
    const url = new URL(database.url);
    return database.kind === 'supabase'
      ? `Supabase at ${url.host}`
      : `${url.hostname}:${url.port || 5432}${url.pathname}`;
  } catch {
    return database.kind === 'supabase' ? 'Supabase' : 'DATABASE_URL';
  }
}

function databaseFailure(error: unknown, where: string): Check {
  const name = 'database';
  const sqlstate = error instanceof StoreError ? error.sqlstate : (error as { code?: string }).code;
  const message = error instanceof Error ? (error.message.split('\n')[0] as string) : String(error);
  if (sqlstate === '3D000')
    return check(
      name,
      'fail',
      `${where}: the database does not exist`,
      'check the database name in DATABASE_URL',
    );
  if (sqlstate === '28P01' || sqlstate === '28000')
    return check(
      name,
      'fail',
      `${where}: the server refused the login`,
      'check the user and password in DATABASE_URL',
    );
  if (error instanceof StoreError ? error.retryable : /ECONNREFUSED|ENOTFOUND|ETIMEDOUT/.test(message))
    return check(
      name,
      'fail',
      `cannot reach ${where} (${message})`,
      'is Postgres running? check DATABASE_URL (host, port) or SUPABASE_URL',
    );
  return check(name, 'fail', `${where}: ${message}`, 'check DATABASE_URL / SUPABASE_URL');
}

const normalizeTimestamp = (ts: string) => ts.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');

function ago(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 120) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h ago` : `${Math.round(hours / 24)} days ago`;
}

async function databaseChecks(env: Env, deps: DoctorDeps): Promise<Check[]> {
  const config = parseSome(env, DATABASE_VARS);
  if (config instanceof ConfigError)
    return [
      check('database', 'fail', config.problems.join('; '), 'fix the variables named; see the README'),
      check('schema', 'skip', 'not checked: needs the database'),
      check('ledger', 'skip', 'not checked: needs the database'),
    ];
  const where = describeDatabase(config.database);
  let store: Store;
  try {
    store = await (deps.openStore ?? openStore)(config);
  } catch (error) {
    return [
      databaseFailure(error, where),
      check('schema', 'skip', 'not checked: needs the database'),
      check('ledger', 'skip', 'not checked: needs the database'),
    ];
  }
  try {
    const version = await store.schemaVersion();
    if (!version.ok) {
      // 42883: the function does not exist, so the server answered but the schema is not there.
      if (version.error.sqlstate === '42883')
        return [
          check('database', 'ok', `connected to ${where}`),
          check('schema', 'fail', 'no clerk-sync schema in this database', MIGRATE_FIX),
          check('ledger', 'skip', 'not checked: needs the schema'),
        ];
      return [
        databaseFailure(version.error, where),
        check('schema', 'skip', 'not checked: needs the database'),
        check('ledger', 'skip', 'not checked: needs the database'),
      ];
    }
    const checks = [check('database', 'ok', `connected to ${where}`)];
    const at = version.value;
    if (at < SCHEMA_VERSION)
      checks.push(
        check('schema', 'fail', `at ${at}, older than this version expects (${SCHEMA_VERSION})`, MIGRATE_FIX),
      );
    else if (at > SCHEMA_VERSION)
      checks.push(
        check(
          'schema',
          'fail',
          `at ${at}, newer than this version knows (${SCHEMA_VERSION})`,
          'upgrade clerk-supabase-sync',
        ),
      );
    else checks.push(check('schema', 'ok', `at ${at}, current`));
    checks.push(await ledgerCheck(store));
    return checks;
  } finally {
    await store.close().catch(() => {});
  }
}

async function ledgerCheck(store: Store): Promise<Check> {
  const status = await store.ledgerStatus();
  if (!status.ok)
    return check('ledger', 'fail', `cannot read the ledger: ${status.error.message}`, MIGRATE_FIX);
  const { failed, failed_by_reason, last_applied_at } = status.value;
  const when = last_applied_at === null ? null : new Date(normalizeTimestamp(last_applied_at));
  const last =
    when === null || Number.isNaN(when.getTime())
      ? 'no event applied yet'
      : `last event applied ${when.toISOString().replace(/\.\d+Z$/, 'Z')} (${ago(Date.now() - when.getTime())})`;
  if (failed > 0) {
    const reasons = Object.entries(failed_by_reason)
      .sort(([, a], [, b]) => b - a)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(', ');
    return check(
      'ledger',
      'warn',
      `${failed} failed event${failed === 1 ? '' : 's'}${reasons ? ` (${reasons})` : ''}; ${last}`,
      'run clerk-sync replay (after an upgrade fixed the cause; it says which still fail and why); discard those that can never apply with clerk-sync replay --discard <svix-id>',
    );
  }
  return check('ledger', 'ok', `no failed events; ${last}`);
}

/**
 * Runs every check; never throws on a bad set-up (that is what it reports).
 * @example const checks = await runDoctor(process.env); // [{ name: 'CLERK_SECRET_KEY', status: 'ok', … }, …]
 */
export async function runDoctor(env: Env, deps: DoctorDeps = {}): Promise<Check[]> {
  const key = secretKeyCheck(env);
  const database = parseSome(env, DATABASE_VARS);
  const embedded = !(database instanceof ConfigError) && database.database.kind === 'embedded';
  const guard = (name: string) => (error: unknown) => [
    check(name, 'fail', `the check itself failed: ${error instanceof Error ? error.message : String(error)}`),
  ];
  const [clerk, db] = await Promise.all([
    clerkCheck(env, key.key).then((c) => [c], guard('Clerk API')),
    databaseChecks(env, deps).catch(guard('database')),
  ]);
  return [key.check, ...clerk, signingSecretCheck(env, embedded), ...db];
}

const MARK: Record<Verdict, string> = { ok: '✓', fail: '✗', warn: '!', skip: '-' };
const COLOR: Record<Verdict, string> = { ok: '32', fail: '31', warn: '33', skip: '2' };

/** One line per check: verdict, name, what was found, and the fix. */
export function formatCheck(c: Check, color = false): string {
  const mark = color ? `\x1b[${COLOR[c.status]}m${MARK[c.status]}\x1b[0m` : MARK[c.status];
  const fix = c.fix === undefined ? '' : color ? ` → \x1b[1m${c.fix}\x1b[0m` : ` → ${c.fix}`;
  return `${mark} ${c.name}: ${c.found}${fix}`;
}

function report(checks: Check[], io: Io): void {
  for (const c of checks) io.out(formatCheck(c, io.color === true));
  const failures = checks.filter((c) => c.status === 'fail').length;
  const warnings = checks.filter((c) => c.status === 'warn').length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (failures === 0 && warnings === 0) io.out('All checks passed.');
  else io.out(`${plural(failures, 'problem')}, ${plural(warnings, 'warning')}.`);
}

/**
 * The command, with its dependencies (tests hand in their own database).
 * @example const command = doctorCommand({ openStore: async () => createStore(sqlRpc(db)) });
 */
export function doctorCommand(deps: DoctorDeps = {}): Command {
  return {
    summary: 'check keys, Clerk, database and schema, and say what to fix',
    usage: [
      'clerk-sync doctor [--json]',
      '',
      'Checks CLERK_SECRET_KEY and that Clerk accepts it, CLERK_WEBHOOK_SIGNING_SECRET, the database',
      '(DATABASE_URL, SUPABASE_URL + key, or the embedded one), its schema version, and the ledger',
      '(failed events, last applied event). Each line: ✓ fine, ! warning, ✗ problem (with the fix).',
      'Exit status 1 when any check fails; warnings do not fail.',
      '',
      '  --json   print the checks as JSON',
    ].join('\n'),
    options: { json: { type: 'boolean' } },
    async run({ values }, env, io) {
      const checks = await runDoctor(env, deps);
      const ok = !checks.some((c) => c.status === 'fail');
      if (values.json) io.out(JSON.stringify({ ok, checks }));
      else report(checks, io);
      return ok ? 0 : 1;
    },
  };
}

export const doctor: Command = doctorCommand();
