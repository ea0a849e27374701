/**
 * @module Clerk-like session tokens for tests: an RSA instance key (its PEM is CLERK_JWT_KEY, its
 * JWK is what the Clerk stand-in serves at /jwks) and RS256 tokens signed with it, with any claims
 * (the library's signJwt always stamps `iat` with now; tests need it in the future too).
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

export interface InstanceKey {
  kid: string;
  /** The PEM public key, as the Clerk dashboard shows it. */
  pem: string;
  /** The public key as Clerk's `GET /jwks` lists it. */
  jwk: object;
  privateKey: KeyObject;
}

export function instanceKey(kid = 'ins_test_key'): InstanceKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid,
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' },
    privateKey: createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })),
  };
}

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A session token for `sub` valid for a minute from now, with `claims` (and `header`) overriding. */
export function sessionToken(
  key: InstanceKey,
  sub: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64url({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...header })}.${b64url({
    azp: 'http://localhost:3000',
    iss: 'https://clerk.example.test',
    sid: 'sess_test',
    sub,
    iat: now - 1,
    nbf: now - 11,
    exp: now + 60,
    v: 2,
    ...claims,
  })}`;
  return `${body}.${sign('sha256', Buffer.from(body), key.privateKey).toString('base64url')}`;
}
