import type { TtlOptions } from './types.js';

/**
 * The validated time to live of a write, in whole milliseconds, or undefined for "never expires".
 * A zero, negative or non-finite TTL is a caller bug (e.g. a token lifetime computed from a stale
 * clock); both backends reject it the same way instead of Redis refusing `PX 0` while SQLite would
 * silently store an already-expired row.
 */
export function ttlMsOf(options: TtlOptions | undefined): number | undefined {
  const ttlMs = options?.ttlMs;
  if (ttlMs === undefined) return undefined;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`ttlMs must be a positive finite number of milliseconds, got ${ttlMs}`);
  }
  // Rounded up so that a sub-millisecond TTL still lives for at least 1 ms (Redis takes integers).
  return Math.ceil(ttlMs);
}
