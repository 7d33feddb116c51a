/**
 * Delivers queued events to the subscribers' endpoints: a signed POST (src/webhooks/signature.ts,
 * the timestamp inside the MAC), with the delivery id as `Idempotency-Key` (the same on every retry,
 * so a subscriber recognises a delivery it has already processed: the relay is at least once). A 2xx
 * completes the delivery; anything else (another status, no answer within the timeout, no
 * connection) is retried with exponential back-off and full jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter"), at most `maxAttempts` times, then it goes to the dead letters, from which an
 * operator redrives it.
 *
 * Every instance runs a worker; the queue shares the work out and leases each message, so an
 * instance killed mid-delivery leaves its messages to the others once their lease ran out.
 */
import { randomUUID } from 'node:crypto';
import { errors as undiciErrors, request } from 'undici';
import { localhostAwareAgent } from '../net/localhost.js';
import type { Logger } from '../log.js';
import { signBody, SIGNATURE_HEADER } from '../webhooks/signature.js';
import type { Claimed, DeliveryMessage, EventQueue } from './queue.js';

export interface Endpoint {
  url: string;
  secret: string;
}

export interface WorkerOptions {
  queue: EventQueue;
  /** The subscription's endpoint and signing secret; undefined once it was removed (its deliveries are dropped). */
  endpoint(subscriptionId: string): Promise<Endpoint | undefined>;
  logger: Logger;
  /** This consumer's name in the queue; default a new one per worker. */
  consumer?: string;
  /** Deliveries in flight at once (default 16). */
  concurrency?: number;
  /** Attempts before a delivery is dead (default 8). */
  maxAttempts?: number;
  /** Back-off: the cap of the first retry's wait, doubled per attempt, at most `maxDelayMs` (defaults 1 s, 10 min). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Longest wait for a subscriber's answer (default 10 s; must stay below the queue's lease). */
  timeoutMs?: number;
  /** How long an idle worker waits before it looks again (default 200 ms). */
  idleMs?: number;
  /** Sends one delivery; resolves with the answer's status. Default: undici's request on the shared keep-alive pool. */
  post?: (url: string, headers: Record<string, string>, body: string, timeoutMs: number) => Promise<number>;
  random?: () => number;
  now?: () => number;
}

export interface DeliveryWorker {
  readonly consumer: string;
  /** Delivered, retried and dead-lettered deliveries since start. */
  readonly counts: { delivered: number; retried: number; dead: number };
  /** Looks at the queue now instead of at the end of the idle wait (an event was just queued here). */
  poke(): void;
  /** Stops claiming; resolves once deliveries in flight have been answered and settled. */
  stop(): Promise<void>;
}

/** Milliseconds to wait before retry `attempt` (1, 2, ...): full jitter under a doubling cap. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * cap);
}

/** The body a subscriber receives. */
export function deliveryBody(message: DeliveryMessage): string {
  const { event } = message;
  return `{"id":${JSON.stringify(event.id)},"name":${JSON.stringify(event.name)},"tenant":${JSON.stringify(message.tenant)},"occurredAt":${JSON.stringify(new Date(event.occurredAt).toISOString())},"data":${event.data}}`;
}

/**
 * One delivery over undici's request API on the process's keep-alive pool (which also resolves
 * `*.localhost`, src/net/localhost.ts): a fraction of fetch's cost per call. Redirects are not
 * followed (a 3xx is a failure: the subscriber's URL is what was registered). The answer's body is
 * read and dropped, so the connection goes back to the pool.
 */
async function postDelivery(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<number> {
  const answer = await request(url, {
    method: 'POST',
    headers,
    body,
    dispatcher: localhostAwareAgent(),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  await answer.body.dump({ limit: 64 * 1024 }).catch(() => {});
  return answer.statusCode;
}

export function startDeliveryWorker(options: WorkerOptions): DeliveryWorker {
  const { queue, logger } = options;
  const consumer = options.consumer ?? `zonegate-${randomUUID()}`;
  const concurrency = options.concurrency ?? 16;
  const maxAttempts = options.maxAttempts ?? 8;
  const baseDelayMs = options.baseDelayMs ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 600_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const idleMs = options.idleMs ?? 200;
  const post = options.post ?? postDelivery;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const counts = { delivered: 0, retried: 0, dead: 0 };
  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let queueDown = false;
  let wake: (() => void) | undefined;

  async function deliver(claimed: Claimed): Promise<void> {
    const { message } = claimed;
    const endpoint = await options.endpoint(message.subscriptionId);
    if (!endpoint) {
      logger.info('event delivery dropped: its subscription was removed', { deliveryId: message.deliveryId, subscription: message.subscriptionId });
      return queue.complete(claimed);
    }
    const body = deliveryBody(message);
    const attempt = message.attempt + 1;
    let failure: string;
    let status: number | undefined;
    try {
      status = await post(
        endpoint.url,
        {
          'content-type': 'application/json',
          'idempotency-key': message.deliveryId,
          'x-zonegate-delivery': message.deliveryId,
          'x-zonegate-event': message.event.name,
          'x-zonegate-event-id': message.event.id,
          'x-zonegate-tenant': message.tenant,
          'x-zonegate-attempt': String(attempt),
          [SIGNATURE_HEADER]: signBody(endpoint.secret, body, Math.floor(now() / 1000)),
        },
        body,
        timeoutMs,
      );
      failure = `the endpoint answered ${status}`;
    } catch (err) {
      const timedOut = err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || (err as Error).name === 'TimeoutError';
      failure = timedOut ? `no answer within ${timeoutMs} ms` : `no connection: ${(err as Error).message}`;
    }
    // Settled outside the try: a queue that fails here is not the subscriber's failure.
    if (status !== undefined && status >= 200 && status < 300) {
      counts.delivered++;
      return queue.complete(claimed);
    }
    const next: DeliveryMessage = { ...message, attempt };
    if (attempt >= maxAttempts) {
      counts.dead++;
      logger.warn('event delivery failed for good: moved to the dead letters', { deliveryId: message.deliveryId, tenant: message.tenant, attempts: attempt, reason: failure });
      return queue.deadLetter(claimed, next, `${failure} (after ${attempt} attempts)`);
    }
    counts.retried++;
    const delay = backoffMs(attempt, baseDelayMs, maxDelayMs, random);
    logger.info('event delivery failed: retrying', { deliveryId: message.deliveryId, tenant: message.tenant, attempt, retryInMs: delay, reason: failure });
    return queue.retry(claimed, next, now() + delay);
  }

  const loop = (async () => {
    while (!stopping) {
      const free = concurrency - inFlight.size;
      let claimed: Claimed[] = [];
      // Redis waits in its read when there is nothing else to do; SQLite is polled.
      const blocks = free > 0 && inFlight.size === 0 && queue.kind === 'redis';
      if (free > 0) {
        try {
          claimed = await queue.claim(consumer, free, blocks ? idleMs : undefined);
          if (queueDown) logger.info('event queue available again');
          queueDown = false;
        } catch (err) {
          // Logged once per outage; then looked at again after the idle wait, not in a tight loop.
          if (!stopping && !queueDown) logger.warn('event queue unavailable', { error: (err as Error).message });
          queueDown = true;
        }
      }
      for (const c of claimed) {
        const p: Promise<void> = deliver(c)
          .catch((err: unknown) => logger.error('event delivery could not be settled; it is delivered again after its lease', { deliveryId: c.message.deliveryId, error: String(err) }))
          .finally(() => {
            inFlight.delete(p);
            wake?.();
          });
        inFlight.add(p);
      }
      if (stopping) break;
      // Full, or nothing to do: wait for a slot, a new event (poke) or a moment.
      if (free <= 0 || (claimed.length === 0 && (!blocks || queueDown))) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, idleMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    }
  })();

  return {
    consumer,
    counts,
    poke: () => wake?.(),
    async stop() {
      stopping = true;
      wake?.();
      await loop;
      await Promise.all(inFlight);
    },
  };
}
