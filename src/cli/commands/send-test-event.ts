/**
 * @module `clerk-sync send-test-event <type>`: posts a signed sample event to a running receiver.
 */
import { readFile } from 'node:fs/promises';
import { Webhook } from 'standardwebhooks';
import { isMirroredEventType, MIRRORED_EVENT_TYPES } from '../../core/kinds.ts';
import { sampleEvent } from '../../core/samples.ts';
import { SECRET_FILE } from '../../node/deps.ts';
import { CliError, type Command } from '../command.ts';

async function signingSecret(env: Record<string, string | undefined>): Promise<string> {
  const fromEnv = env.CLERK_WEBHOOK_SIGNING_SECRET?.trim();
  if (fromEnv) return fromEnv;
  const fromFile = (await readFile(SECRET_FILE, 'utf8').catch(() => '')).trim();
  if (fromFile) return fromFile;
  throw new CliError(
    `CLERK_WEBHOOK_SIGNING_SECRET is missing: set it to the receiver's whsec_… secret (the embedded default keeps it in ${SECRET_FILE})`,
  );
}

export const sendTestEvent: Command = {
  summary: 'post a signed sample event to a running receiver',
  usage: `clerk-sync send-test-event <type> [--url URL] [--id ID] [--user-id ID] [--org-id ID] [--wait SECONDS] [--json]\n\ntypes: ${MIRRORED_EVENT_TYPES.join(', ')}`,
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
    if (type === undefined || !isMirroredEventType(type))
      throw new CliError(`give an event type: one of ${MIRRORED_EVENT_TYPES.join(', ')}`);
    const url = (values.url as string | undefined) ?? `http://localhost:${env.PORT || 8787}/webhooks/clerk`;
    const secret = await signingSecret(env);
    if (!secret.startsWith('whsec_'))
      throw new CliError('CLERK_WEBHOOK_SIGNING_SECRET must start with whsec_');

    const event = sampleEvent(type, {
      ...(values.id ? { id: values.id as string } : {}),
      ...(values['user-id'] ? { userId: values['user-id'] as string } : {}),
      ...(values['org-id'] ? { orgId: values['org-id'] as string } : {}),
    });
    const body = JSON.stringify(event);
    const msgId = `msg_test_${crypto.randomUUID().replaceAll('-', '')}`;
    const now = new Date();
    const signature = new Webhook(secret).sign(msgId, now, body);
    const init = {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'svix-id': msgId,
        'svix-timestamp': String(Math.floor(now.getTime() / 1000)),
        'svix-signature': signature,
      },
      body,
    };
    const response = await postWhenUp(url, init, Number(values.wait ?? 5) * 1000);
    const answer = await response.text();
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

/** Posts, waiting up to `waitMs` for a receiver that is still starting (connection refused). */
async function postWhenUp(url: string, init: RequestInit, waitMs: number): Promise<Response> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await fetch(url, init);
    } catch {
      if (Date.now() >= deadline)
        throw new CliError(`cannot reach ${url}: is the receiver running (npm start)? Set --url otherwise`);
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
