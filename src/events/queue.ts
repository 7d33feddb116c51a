/**
 * The event relay's durable delivery queue: one message per (event, subscription), claimed by a
 * worker, then completed, put back for a later retry, or moved to the dead letters. At least once:
 * a claim is a lease, and a message whose consumer died (a killed instance) is claimed again by
 * another once its lease ran out; nothing is removed before its delivery was answered. Two backends
 * implement it, one contract suite runs against both (test/events/queue-contract.test.ts):
 * Redis Streams with a consumer group (./redis-queue.ts) and SQLite (./sqlite-queue.ts).
 */

export interface DeliveryMessage {
  /** Stable across retries and redrives: the subscriber's idempotency key. */
  deliveryId: string;
  subscriptionId: string;
  tenant: string;
  event: { id: string; name: string; occurredAt: number; data: string };
  /** Attempts made so far (0: never tried). */
  attempt: number;
}

/** A message this consumer holds, with the backend's handle for completing it. */
export interface Claimed {
  readonly handle: string;
  readonly message: DeliveryMessage;
}

export interface DeadLetter {
  message: DeliveryMessage;
  reason: string;
  deadAt: number;
}

export interface EventQueue {
  readonly kind: 'sqlite' | 'redis';
  enqueue(messages: readonly DeliveryMessage[]): Promise<void>;
  /**
   * Up to `max` messages for `consumer`: those due, and those whose consumer has held them longer than
   * the lease without an answer. With `waitMs`, waits that long for one when none is ready (Redis
   * blocks; SQLite answers at once and the worker polls).
   */
  claim(consumer: string, max: number, waitMs?: number): Promise<Claimed[]>;
  /** Delivered: gone for good. */
  complete(claimed: Claimed): Promise<void>;
  /** Not yet: `next` (its attempt counted) becomes due again at `dueAt` (epoch ms). */
  retry(claimed: Claimed, next: DeliveryMessage, dueAt: number): Promise<void>;
  /** Given up: kept in the dead letters, with why, until redriven. */
  deadLetter(claimed: Claimed, next: DeliveryMessage, reason: string): Promise<void>;
  deadLetters(): Promise<DeadLetter[]>;
  /** Queues a dead letter again, its attempts reset; false when there is none with this id. */
  redrive(deliveryId: string): Promise<boolean>;
  /** Messages not yet delivered nor dead (ready, leased or waiting for a retry). */
  pending(): Promise<number>;
  close(): Promise<void>;
}

export interface QueueOptions {
  /** How long a claim holds a message before another consumer may take it (must outlast a delivery). */
  leaseMs: number;
  now?: () => number;
}
