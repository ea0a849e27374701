/**
 * @module Configuration, parsed once from the environment at start-up. One error names every
 * missing or malformed variable and what to set; nothing deeper reads the environment.
 */
import * as z from 'zod';

export type Env = Record<string, string | undefined>;

export type DatabaseConfig =
  | { kind: 'postgres'; url: string }
  | { kind: 'supabase'; url: string; serviceKey: string }
  | { kind: 'embedded' };

export interface Config {
  /** `whsec_…`; undefined only on the embedded default, which makes its own. */
  signingSecret: string | undefined;
  database: DatabaseConfig;
  clerkSecretKey: string | undefined;
  clerkApiUrl: string;
  /** PEM public key of the Clerk instance: session tokens are verified without a network call. */
  clerkJwtKey: string | undefined;
  /** Origins a session token's `azp` must be one of (and that may call the receiver from a browser). */
  authorizedParties: string[] | undefined;
  port: number;
  logLevel: (typeof LOG_LEVELS)[number];
}

/** What a caller needs on top of the always-checked variables. */
export interface Requirements {
  /** The webhook receiver needs a signing secret unless it runs on the embedded default. */
  signingSecret?: boolean;
  clerkSecretKey?: boolean;
  /** `migrate` and other direct-SQL commands cannot go through supabase-js. */
  directDatabase?: boolean;
  /** No embedded database: the caller (a library handler in someone's app) must be told where to write. */
  noEmbedded?: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());

const SIGNING_SECRET_SOURCE = 'Clerk dashboard → Webhooks → your endpoint → Signing Secret';
/** What the Svix scheme accepts after `whsec_`: padded base64. */
const SIGNING_SECRET = /^whsec_(?=.)(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * What is wrong with a webhook signing secret, or null when the Svix scheme accepts it.
 * @example signingSecretProblem('whsec_abc'); // 'is not valid: the part after whsec_ must be base64 …'
 */
export function signingSecretProblem(value: string): string | null {
  if (SIGNING_SECRET.test(value)) return null;
  if (!value.startsWith('whsec_')) return `must start with whsec_ (${SIGNING_SECRET_SOURCE})`;
  return `is not valid: the part after whsec_ must be base64, and this one was cut short or changed when copied — copy it again (${SIGNING_SECRET_SOURCE})`;
}

const PORT_MESSAGE = 'must be a port number from 0 to 65535, e.g. PORT=8787';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function isPemPublicKey(pem: string): boolean {
  const match = /^-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----$/.exec(pem);
  if (!match) return false;
  try {
    return atob((match[1] as string).replace(/\s/g, '')).length > 0;
  } catch {
    return false;
  }
}

function isOrigin(value: string): boolean {
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

const schema = z.object({
  CLERK_WEBHOOK_SIGNING_SECRET: optional(
    z.string().superRefine((value, ctx) => {
      const problem = signingSecretProblem(value);
      if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
    }),
  ),
  DATABASE_URL: optional(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// or postgresql:// connection string' }),
  ),
  SUPABASE_URL: optional(z.url({ message: 'must be your project URL, e.g. https://<ref>.supabase.co' })),
  SUPABASE_SERVICE_ROLE_KEY: optional(z.string()),
  SUPABASE_SECRET_KEY: optional(z.string()),
  CLERK_SECRET_KEY: optional(
    z.string().regex(/^sk_(test|live)_\w+$/, {
      message:
        'must be a secret key sk_test_… or sk_live_… (Clerk dashboard → API keys), not a pk_ publishable key',
    }),
  ),
  CLERK_API_URL: optional(z.url({ message: 'must be a URL such as https://api.clerk.com/v1' })),
  CLERK_JWT_KEY: optional(
    z
      .string()
      // Hosts that keep a variable on one line store the PEM's line breaks as `\n`.
      .transform((pem) => pem.trim().replaceAll('\\n', '\n'))
      .refine(isPemPublicKey, {
        message:
          'must be the PEM public key, -----BEGIN PUBLIC KEY-----… (Clerk dashboard → API keys → Show JWT public key → PEM Public Key)',
      }),
  ),
  CLERK_AUTHORIZED_PARTIES: optional(
    z
      .string()
      .transform((list) =>
        list
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean),
      )
      .refine((parties) => parties.length > 0 && parties.every(isOrigin), {
        message:
          'must be comma-separated origins (scheme, host and port, no path), e.g. https://app.example.com,http://localhost:3000',
      }),
  ),
  PORT: optional(
    z
      .string()
      .trim()
      .regex(/^\d{1,5}$/, { message: PORT_MESSAGE })
      .transform(Number)
      .refine((port) => port <= 65_535, { message: PORT_MESSAGE }),
  ),
  LOG_LEVEL: optional(z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })),
});

/**
 * Parses the environment; throws one ConfigError listing every problem.
 * @example const config = parseConfig(process.env, { signingSecret: true });
 */
export function parseConfig(env: Env, needs: Requirements = {}): Config {
  const parsed = schema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${String(i.path[0])} ${i.message}`);
  // Keep going without the malformed variables, so one error lists every problem at once.
  const bad = new Set(parsed.success ? [] : parsed.error.issues.map((i) => String(i.path[0])));
  const v = parsed.success
    ? parsed.data
    : schema.parse(Object.fromEntries(Object.entries(env).filter(([k]) => !bad.has(k))));

  const serviceKey = v.SUPABASE_SERVICE_ROLE_KEY ?? v.SUPABASE_SECRET_KEY;
  let database: DatabaseConfig = { kind: 'embedded' };
  if (v.DATABASE_URL !== undefined) database = { kind: 'postgres', url: v.DATABASE_URL };
  else if (v.SUPABASE_URL !== undefined && serviceKey !== undefined)
    database = { kind: 'supabase', url: v.SUPABASE_URL, serviceKey };
  else if (v.SUPABASE_URL !== undefined)
    problems.push(
      'SUPABASE_SERVICE_ROLE_KEY is missing: set it (or SUPABASE_SECRET_KEY) to use SUPABASE_URL',
    );
  else if (serviceKey !== undefined)
    problems.push('SUPABASE_URL is missing: set it to use the service role key');

  if (needs.directDatabase && database.kind === 'supabase')
    problems.push(
      'DATABASE_URL is missing: this command needs a direct Postgres connection (Supabase: Project Settings → Database → Connection string)',
    );
  if (
    needs.noEmbedded &&
    database.kind === 'embedded' &&
    v.SUPABASE_URL === undefined &&
    serviceKey === undefined
  )
    problems.push(
      'DATABASE_URL is missing: set it to your Postgres connection string, or set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (the embedded database is for trying it out with npm start only)',
    );
  const require = (name: keyof typeof v, why: string) => {
    if (v[name] === undefined && !problems.some((p) => p.startsWith(`${name} `)))
      problems.push(`${name} is missing: ${why}`);
  };
  if (needs.signingSecret && (database.kind !== 'embedded' || needs.noEmbedded))
    require('CLERK_WEBHOOK_SIGNING_SECRET', 'set it to the whsec_… signing secret of your Clerk webhook endpoint');
  if (needs.clerkSecretKey)
    require('CLERK_SECRET_KEY', 'set it to your sk_test_… or sk_live_… key (Clerk dashboard → API keys)');

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    signingSecret: v.CLERK_WEBHOOK_SIGNING_SECRET,
    database,
    clerkSecretKey: v.CLERK_SECRET_KEY,
    clerkApiUrl: (v.CLERK_API_URL ?? 'https://api.clerk.com/v1').replace(/\/+$/, ''),
    clerkJwtKey: v.CLERK_JWT_KEY,
    authorizedParties: v.CLERK_AUTHORIZED_PARTIES,
    port: v.PORT ?? 8787,
    logLevel: v.LOG_LEVEL ?? 'info',
  };
}
