/**
 * @module Group commit for a long-running process: the events that arrive while the store's
 * transactions are in flight are applied together, in one call and one transaction
 * (`clerk_sync_apply_events`), as soon as a transaction ends — no timer, so a lone event goes at once
 * through the one-event path. Each caller still gets its own event's outcome, only after the
 * transaction that applied it has committed.
 *
 * A batch is all or nothing. When it fails for an event's content (a `rejected` error), its events
 * are applied again one by one, so only that event is refused (and kept as failed by the receiver);
 * any other failure fails each of its events alike — not applied, retried by the sender.
 */
import {
  type ApplyEventInput,
  type EventToApply,
  type Outcome,
  type Result,
  type Store,
  StoreError,
} from './port.ts';

export interface BatchOptions {
  /** Transactions in flight at once (each batch one). Default 2: one commits while the next is applied. */
  inFlight?: number;
  /** Events per batch at most. Default 64. */
  maxEvents?: number;
}

interface Waiting {
  event: EventToApply;
  settle: (result: Result<Outcome>) => void;
}

/**
 * Wraps `store` so that concurrent `applyEvent` calls are grouped. Failures to store (an input with
 * `failure`) are rare and go as they are.
 * @example const store = batched(createStore(sqlRpc(pool), () => pool.close()));
 */
export function batched(store: Store, options: BatchOptions = {}): Store {
  const inFlight = options.inFlight ?? 2;
  const maxEvents = options.maxEvents ?? 64;
  const queue: Waiting[] = [];
  let running = 0;

  function pump(): void {
    while (running < inFlight && queue.length > 0) {
      running += 1;
      const batch = queue.splice(0, maxEvents);
      run(batch)
        .catch((cause: unknown) => {
          const error = new StoreError('unavailable', 'the batch was not applied', { cause });
          for (const w of batch) w.settle({ ok: false, error });
        })
        .finally(() => {
          running -= 1;
          pump();
        });
    }
  }

  async function run(batch: Waiting[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Waiting];
      only.settle(await store.applyEvent(only.event));
      return;
    }
    const result = await store.applyEvents(batch.map((w) => w.event));
    if (result.ok) {
      for (const [i, w] of batch.entries()) w.settle({ ok: true, value: result.value[i] as Outcome });
      return;
    }
    if (result.error.code !== 'rejected') {
      for (const w of batch) w.settle(result);
      return;
    }
    for (const w of batch) w.settle(await store.applyEvent(w.event));
  }

  const applyEvent = (input: ApplyEventInput): Promise<Result<Outcome>> => {
    if (
      input.failure !== undefined ||
      input.kind === undefined ||
      input.op === undefined ||
      input.data === undefined
    )
      return store.applyEvent(input);
    const { eventId, type, kind, op, data, occurredAt } = input;
    return new Promise((settle) => {
      queue.push({ event: { eventId, type, kind, op, data, occurredAt }, settle });
      pump();
    });
  };
  return { ...store, applyEvent };
}
