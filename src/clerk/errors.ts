/**
 * @module The one error of the Clerk client, with messages that say what to fix. Messages name the
 * request path and Clerk's own explanation, never the secret key.
 */

export const clerkApiErrorCodes = [
  'unauthorized',
  'forbidden',
  'bad_request',
  'not_found',
  'rate_limited',
  'server',
  'network',
  'unexpected_response',
] as const;
export type ClerkApiErrorCode = (typeof clerkApiErrorCodes)[number];

/** The outcomes worth another attempt. */
export type RetryReason = Extract<ClerkApiErrorCode, 'rate_limited' | 'server' | 'network'>;

export class ClerkApiError extends Error {
  override readonly name = 'ClerkApiError';
  readonly code: ClerkApiErrorCode;
  /** The HTTP status, or null when there was no response. */
  readonly status: number | null;
  /** The request path with its query, e.g. `/users?limit=500&offset=0`. */
  readonly path: string;

  constructor(
    code: ClerkApiErrorCode,
    message: string,
    details: { path: string; status?: number | null; cause?: unknown },
  ) {
    super(message, { cause: details.cause });
    this.code = code;
    this.status = details.status ?? null;
    this.path = details.path;
  }
}

/** Clerk's `{ errors: [{ message, long_message, code }] }` as one line, or '' when the body is not that. */
export function clerkErrorDetail(body: string): string {
  try {
    const { errors } = JSON.parse(body) as { errors?: unknown };
    if (!Array.isArray(errors)) return '';
    return errors
      .map((e: { message?: unknown; long_message?: unknown; code?: unknown }) => {
        const text = typeof e.long_message === 'string' ? e.long_message : e.message;
        return `${typeof text === 'string' ? text : 'no message'}${typeof e.code === 'string' ? ` [${e.code}]` : ''}`;
      })
      .join('; ');
  } catch {
    return '';
  }
}

/**
 * The error for a final (non-retried) 4xx answer.
 *
 * @example
 * throw errorForStatus(401, '/users/count', await res.text(), 'https://api.clerk.com/v1');
 */
export function errorForStatus(status: number, path: string, body: string, apiUrl: string): ClerkApiError {
  const detail = clerkErrorDetail(body);
  const clerkSays = detail ? ` Clerk says: ${detail}` : '';
  const at = { path, status };
  if (status === 401) {
    return new ClerkApiError(
      'unauthorized',
      `Clerk rejected the secret key (401) for GET ${path}: check CLERK_SECRET_KEY — it must be the sk_test_… or sk_live_… secret key of this instance.${clerkSays}`,
      at,
    );
  }
  if (status === 403) {
    return new ClerkApiError(
      'forbidden',
      `Clerk refused GET ${path} (403): check that CLERK_SECRET_KEY belongs to this instance and that the feature (e.g. Organizations) is enabled for it.${clerkSays}`,
      at,
    );
  }
  if (status === 404) {
    return new ClerkApiError(
      'not_found',
      `Clerk has no GET ${path} (404) at ${apiUrl}: check CLERK_API_URL — it should be https://api.clerk.com/v1 or a server with the same API.${clerkSays}`,
      at,
    );
  }
  return new ClerkApiError(
    'bad_request',
    `Bug: Clerk refused GET ${path} (${status}), so clerk-sync sent a request Clerk does not accept; please report it.${clerkSays}`,
    at,
  );
}

/**
 * The error once every attempt of a retried request failed.
 *
 * @example
 * throw retriesExhausted('server', '/users?limit=500', 503, 6, 'https://api.clerk.com/v1', lastError);
 */
export function retriesExhausted(
  reason: RetryReason,
  path: string,
  status: number | null,
  attempts: number,
  apiUrl: string,
  cause: unknown,
): ClerkApiError {
  const host = unknownHost(cause);
  if (reason === 'network' && host !== null)
    return new ClerkApiError(
      reason,
      `Cannot find the host '${host}' of CLERK_API_URL (${apiUrl}): check CLERK_API_URL (Clerk's is https://api.clerk.com/v1) and the DNS.`,
      { path, status, cause },
    );
  const messages: Record<RetryReason, string> = {
    rate_limited: `Clerk kept answering 429 (too many requests) to GET ${path} after ${attempts} attempts: lower the request budget, or try again when other clients of this instance are quieter.`,
    server: `Clerk answered ${status} to GET ${path} ${attempts} times in a row: Clerk may be having trouble (https://status.clerk.com) — try again later.`,
    network: `Could not reach Clerk at ${apiUrl} (GET ${path}, ${attempts} attempts${describe(cause)}): check CLERK_API_URL and the network.`,
  };
  return new ClerkApiError(reason, messages[reason], { path, status, cause });
}

/** The host name DNS did not know, anywhere in the cause chain (undici: `fetch failed` ← `getaddrinfo ENOTFOUND h`). */
function unknownHost(error: unknown): string | null {
  for (let e = error; e instanceof Error; e = e.cause) {
    const { code, hostname } = e as { code?: unknown; hostname?: unknown };
    if (code === 'ENOTFOUND') return typeof hostname === 'string' ? hostname : '?';
  }
  return null;
}

/** `: fetch failed: connect ECONNREFUSED …` — undici hides the useful part in `cause`. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return '';
  return `: ${error.message}${describe(error.cause)}`;
}
