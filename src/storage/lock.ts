/**
 * A lock across gateway instances over the Storage contract, so that concurrent requests of one
 * session refresh its tokens once (oauth2-proxy locks its Redis sessions the same way): with
 * refresh-token rotation a second, parallel refresh would present an already-used refresh token.
 *
 * Acquire: `setIfAbsent` with a TTL and a random owner token, so a crashed owner frees the lock when
 * the TTL ends. Release: `deleteIfEquals(owner token)`, atomic in both backends. Releasing with `take`
 * and putting a foreign value back would leave a window in which a third instance acquires the lock
 * and is then overwritten, giving two owners at once; hence the compare-and-delete in the contract.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Storage } from '../storage/types.js';

export interface LockOptions {
  /** How long the lock holds without release; longer than `fn` can take (bound its HTTP calls by a timeout). */
  ttlMs: number;
  /** How long to wait for a held lock before failing with LockTimeoutError; 0 tries once. */
  waitMs: number;
}

/** The lock stayed held by another owner for the whole wait. */
export class LockTimeoutError extends Error {
  readonly key: string;
  readonly waitedMs: number;

  constructor(key: string, waitedMs: number) {
    super(`The lock "${key}" is held by another request; gave up after waiting ${waitedMs} ms`);
    this.name = 'LockTimeoutError';
    this.key = key;
    this.waitedMs = waitedMs;
  }
}

const FIRST_DELAY_MS = 5;
// A waiter should see the owner's result soon after release (a refresh takes tens of ms); beyond
// this the polling only adds load.
const MAX_DELAY_MS = 100;

/**
 * Runs `fn` while holding the lock `key` (stored as `lock:<key>`), released afterwards whether `fn`
 * resolves or throws. Storage errors while acquiring (ZG_ERR_STORAGE_UNAVAILABLE) reject unchanged.
 */
export async function withLock<T>(storage: Storage, key: string, options: LockOptions, fn: () => Promise<T> | T): Promise<T> {
  const { ttlMs, waitMs } = options;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive finite number, got ${ttlMs}`);
  if (!Number.isFinite(waitMs) || waitMs < 0) throw new RangeError(`waitMs must be a finite number >= 0, got ${waitMs}`);

  const lockKey = `lock:${key}`;
  const owner = randomBytes(18).toString('base64url');
  const deadline = Date.now() + waitMs;
  let delay = FIRST_DELAY_MS;
  while (!(await storage.setIfAbsent(lockKey, owner, { ttlMs }))) {
    const left = deadline - Date.now();
    if (left <= 0) throw new LockTimeoutError(key, waitMs);
    // Exponential backoff with jitter, so waiters released by one unlock do not all retry in step.
    await sleep(Math.min(left, delay / 2 + Math.random() * (delay / 2)));
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
  try {
    return await fn();
  } finally {
    // A failed release (storage down) must not replace fn's outcome; the TTL frees the lock anyway.
    await storage.deleteIfEquals(lockKey, owner).catch(() => undefined);
  }
}
