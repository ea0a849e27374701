import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type Requirements } from '../../src/core/config.ts';

const problems = (env: Record<string, string>, needs: Requirements = {}): string[] => {
  try {
    parseConfig(env, needs);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
};

describe('parseConfig', () => {
  it.each([
    [
      'nothing set: the embedded default',
      {},
      { database: { kind: 'embedded' }, port: 8787, clerkApiUrl: 'https://api.clerk.com/v1' },
    ],
    [
      'DATABASE_URL',
      { DATABASE_URL: 'postgres://u@h/db' },
      { database: { kind: 'postgres', url: 'postgres://u@h/db' } },
    ],
    [
      'Supabase with the service role key',
      { SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SERVICE_ROLE_KEY: 'eyJ' },
      { database: { kind: 'supabase', url: 'https://x.supabase.co', serviceKey: 'eyJ' } },
    ],
    [
      'Supabase with the newer secret key',
      { SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SECRET_KEY: 'sb_secret_1' },
      { database: { kind: 'supabase', url: 'https://x.supabase.co', serviceKey: 'sb_secret_1' } },
    ],
    [
      'blank values count as unset',
      { DATABASE_URL: ' ', PORT: '' },
      { database: { kind: 'embedded' }, port: 8787 },
    ],
    [
      'PORT and CLERK_API_URL',
      { PORT: '9000', CLERK_API_URL: 'http://127.0.0.1:4010/v1/' },
      { port: 9000, clerkApiUrl: 'http://127.0.0.1:4010/v1' },
    ],
  ])('%s', (_label, env, expected) => {
    expect(parseConfig(env)).toMatchObject(expected);
  });

  it('one error lists every problem, each naming the variable to set', () => {
    const found = problems(
      {
        CLERK_WEBHOOK_SIGNING_SECRET: 'not-a-secret',
        DATABASE_URL: 'mysql://x',
        CLERK_SECRET_KEY: 'pk_test_abc',
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
      },
      { signingSecret: true },
    );
    expect(found.map((p) => p.split(' ')[0])).toEqual([
      'CLERK_WEBHOOK_SIGNING_SECRET',
      'DATABASE_URL',
      'CLERK_SECRET_KEY',
      'PORT',
      'LOG_LEVEL',
    ]);
    expect(found[0]).toMatch(/whsec_/);
    expect(found[2]).toMatch(/not a pk_/);
  });

  it.each([
    [
      'a database without a signing secret',
      { DATABASE_URL: 'postgres://h/db' },
      { signingSecret: true },
      /^CLERK_WEBHOOK_SIGNING_SECRET is missing/,
    ],
    [
      'SUPABASE_URL without a key',
      { SUPABASE_URL: 'https://x.supabase.co' },
      {},
      /^SUPABASE_SERVICE_ROLE_KEY is missing/,
    ],
    ['a key without SUPABASE_URL', { SUPABASE_SECRET_KEY: 'k' }, {}, /^SUPABASE_URL is missing/],
    ['backfill without CLERK_SECRET_KEY', {}, { clerkSecretKey: true }, /^CLERK_SECRET_KEY is missing/],
    [
      'migrate over supabase-js',
      { SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SECRET_KEY: 'k' },
      { directDatabase: true },
      /^DATABASE_URL is missing/,
    ],
  ])('%s', (_label, env, needs, pattern) => {
    expect(problems(env, needs)).toEqual([expect.stringMatching(pattern)]);
  });

  it('the embedded default needs no signing secret (it makes one)', () => {
    expect(parseConfig({}, { signingSecret: true }).signingSecret).toBeUndefined();
  });
});

describe('parseConfig: the variables of POST /users/me/sync', () => {
  const BODY =
    'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\nkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\ncKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\nmwIDAQAB';
  const PEM = `-----BEGIN PUBLIC KEY-----\n${BODY}\n-----END PUBLIC KEY-----`;

  it.each([
    ['a PEM key', { CLERK_JWT_KEY: `${PEM}\n` }, { clerkJwtKey: PEM }],
    [
      'a PEM key kept on one line with \\n',
      { CLERK_JWT_KEY: PEM.replaceAll('\n', '\\n') },
      { clerkJwtKey: PEM },
    ],
    [
      'authorized parties, spaces and empty items ignored',
      { CLERK_AUTHORIZED_PARTIES: 'https://app.example.com, http://localhost:3000,' },
      { authorizedParties: ['https://app.example.com', 'http://localhost:3000'] },
    ],
    ['neither: unset', {}, { clerkJwtKey: undefined, authorizedParties: undefined }],
  ])('%s', (_label, env, expected) => {
    expect(parseConfig(env)).toMatchObject(expected);
  });

  it.each([
    [
      'a publishable key as CLERK_JWT_KEY',
      { CLERK_JWT_KEY: 'pk_test_abc' },
      /^CLERK_JWT_KEY must be the PEM public key/,
    ],
    ['a PEM that is not base64', { CLERK_JWT_KEY: PEM.replace('MIIB', 'M!IB') }, /^CLERK_JWT_KEY must be/],
    ['a private key', { CLERK_JWT_KEY: PEM.replaceAll('PUBLIC', 'PRIVATE') }, /^CLERK_JWT_KEY must be/],
    [
      'a party without scheme',
      { CLERK_AUTHORIZED_PARTIES: 'app.example.com' },
      /^CLERK_AUTHORIZED_PARTIES must be comma-separated origins/,
    ],
    [
      'a party with a path',
      { CLERK_AUTHORIZED_PARTIES: 'https://app.example.com/home' },
      /^CLERK_AUTHORIZED_PARTIES must be/,
    ],
    ['only commas', { CLERK_AUTHORIZED_PARTIES: ' , ' }, /^CLERK_AUTHORIZED_PARTIES must be/],
  ])('%s: an error naming the variable', (_label, env, pattern) => {
    expect(problems(env)).toEqual([expect.stringMatching(pattern)]);
  });
});
