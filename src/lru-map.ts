/**
 * The one bounded cache of the code base: a map that forgets the least recently used entry when full
 * (Map keeps insertion order; a hit re-inserts). Every per-process cache is one of these, so each
 * has a size it cannot outgrow whatever the traffic (10,000 tenants, a flood of forged cookies).
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #capacity: number;

  constructor(capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new RangeError('capacity must be a positive integer');
    this.#capacity = capacity;
  }

  /**
   * The value, now the most recently used. The order only decides what is forgotten when the map is
   * full, so a hit re-inserts only once the map is at least half full: below that, the delete and
   * set of every hit (a few per request, on the hot path) buy nothing, and a hot entry is hit again,
   * and moved back, long before the map fills.
   */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    if (this.#entries.size * 2 >= this.#capacity) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** The value, leaving the order as it is (for entries ordered by when they were set). */
  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** Sets the value as the most recently used, and forgets the least recently used one when full. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value as K);
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Forgets every entry for which `stale` holds, whatever its place in the order. */
  deleteWhere(stale: (value: V) => boolean): void {
    for (const [key, value] of this.#entries) if (stale(value)) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
