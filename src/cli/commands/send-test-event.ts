/**
 * @module `clerk-sync send-test-event <type>`: posts a signed sample event to a running receiver.
 */
import { readFile } from 'node:fs/promises';
import { Webhook } from 'standardwebhooks';
import { signingSecretProblem } from '../../core/config.ts';
import { isMirroredEventType, MIRRORED_EVENT_TYPES } from '../../core/kinds.ts';
import { sampleEvent } from '../../core/samples.ts';
import { SECRET_FILE } from '../../node/deps.ts';
import { CliError, type Command } from '../command.ts';

const DEFAULT_WAIT_S = 30;

/**
 * A POST of `event` signed the way Svix signs deliveries, under a fresh `msg_test_…` id.
 * @example const { init } = signedDelivery(secret, sampleEvent('user.created')); await fetch(url, init);
 */
export function signedDelivery(secret: string, event: unknown): { msgId: string; init: RequestInit } {
  const body = JSON.stringify(event);
  const msgId = `msg_test_${crypto.randomUUID().replaceAll('-', '')}`;
  const now = new Date();
  const headers = {
    'content-type': 'application/json',
    'svix-id': msgId,
    'svix-timestamp': String(Math.floor(now.getTime() / 1000)),
    'svix-signature': new Webhook(secret).sign(msgId, now, body),
  };
  return { msgId, init: { method: 'POST', headers, body } };
}

/**
 * The receiver's signing secret: CLERK_WEBHOOK_SIGNING_SECRET, else the embedded default's file;
 * a CliError naming what to fix when it is missing or malformed.
 * @example const secret = await signingSecret(process.env);
 */
export async function signingSecret(env: Record<string, string | undefined>): Promise<string> {
  const fromEnv = env.CLERK_WEBHOOK_SIGNING_SECRET?.trim();
  if (fromEnv) {
    const problem = signingSecretProblem(fromEnv);
    if (problem !== null) throw new CliError(`CLERK_WEBHOOK_SIGNING_SECRET ${problem}`);
    return fromEnv;
  }
  const fromFile = (await readFile(SECRET_FILE, 'utf8').catch(() => '')).trim();
  if (fromFile) {
    if (signingSecretProblem(fromFile) !== null)
      throw new CliError(
        `${SECRET_FILE} does not hold a valid whsec_… secret: delete it and restart npm start to make a new one, or set CLERK_WEBHOOK_SIGNING_SECRET`,
      );
    return fromFile;
  }
  throw new CliError(
    `CLERK_WEBHOOK_SIGNING_SECRET is missing: set it to the receiver's whsec_… secret (the embedded default keeps it in ${SECRET_FILE})`,
  );
}

export const sendTestEvent: Command = {
  summary: 'post a signed sample event to a running receiver',
  usage: [
    'clerk-sync send-test-event <type> [--url URL] [--id ID] [--user-id ID] [--org-id ID] [--wait SECONDS] [--json]',
    '',
    `  types: ${MIRRORED_EVENT_TYPES.join(', ')}`,
    '  --url URL       the receiver (default http://localhost:$PORT/webhooks/clerk, PORT 8787)',
    `  --wait SECONDS  how long to wait for the receiver to start and answer (default ${DEFAULT_WAIT_S})`,
  ].join('\n'),
  options: {
    url: { type: 'string' },
    id: { type: 'string' },
    'user-id': { type: 'string' },
    'org-id': { type: 'string' },
    wait: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }, env, io) {
    const type = positionals[0];
    if (type === undefined)
      throw new CliError(`give an event type: one of ${MIRRORED_EVENT_TYPES.join(', ')}`);
    if (!isMirroredEventType(type))
      throw new CliError(`unknown event type '${type}': use one of ${MIRRORED_EVENT_TYPES.join(', ')}`);
    const waitS = values.wait === undefined ? DEFAULT_WAIT_S : Number(values.wait);
    if (!(waitS > 0)) throw new CliError('--wait takes a number of seconds, e.g. --wait 30');
    const url = (values.url as string | undefined) ?? `http://localhost:${env.PORT || 8787}/webhooks/clerk`;
    if (!URL.canParse(url))
      throw new CliError(`--url ${url} is not a URL: e.g. --url http://localhost:8787/webhooks/clerk`);
    const secret = await signingSecret(env);

    const event = sampleEvent(type, {
      ...(values.id ? { id: values.id as string } : {}),
      ...(values['user-id'] ? { userId: values['user-id'] as string } : {}),
      ...(values['org-id'] ? { orgId: values['org-id'] as string } : {}),
    });
    const { msgId, init } = signedDelivery(secret, event);
    const { response, answer } = await postWhenUp(url, init, waitS);
    const objectId = (event.data as { id: string }).id;
    if (values.json)
      io.out(
        JSON.stringify({
          status: response.status,
          svix_id: msgId,
          type,
          object_id: objectId,
          body: safeJson(answer),
        }),
      );
    else io.out(`${type} ${objectId} (svix-id ${msgId}) → ${response.status} ${answer}`);
    if (!response.ok)
      throw new CliError(
        response.status === 401
          ? 'the receiver refused the signature: use the same CLERK_WEBHOOK_SIGNING_SECRET as the receiver'
          : `the receiver answered ${response.status}`,
      );
    return 0;
  },
};

/**
 * Posts and reads the answer within `waitS` seconds in all, trying again while the receiver is
 * still starting (connection refused).
 */
async function postWhenUp(
  url: string,
  init: RequestInit,
  waitS: number,
): Promise<{ response: Response; answer: string }> {
  const deadline = AbortSignal.timeout(waitS * 1000);
  let refused = false;
  for (;;) {
    try {
      const response = await fetch(url, { ...init, signal: deadline });
      return { response, answer: await response.text() };
    } catch (error) {
      const code = ((error as { cause?: { code?: unknown } }).cause?.code ?? '') as string;
      if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
        throw new CliError(`cannot find the host of ${url}: check --url`);
      refused ||= code === 'ECONNREFUSED';
      if (deadline.aborted || (error as Error).name === 'TimeoutError')
        throw new CliError(
          refused
            ? `cannot reach ${url} (connection refused for ${waitS} s): is the receiver running (npm start)? Set --url if it listens elsewhere`
            : `no answer from ${url} within ${waitS} s: is the receiver running and reachable? (--wait SECONDS waits longer)`,
        );
      if (!refused)
        throw new CliError(`cannot reach ${url} (${code || (error as Error).message}): check --url`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
