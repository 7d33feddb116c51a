import { GatewayError } from '../errors.js';

/**
 * The storage contract: string keys with string values and an optional time to live, atomic
 * single-use reads, counters and set indexes. Everything a second instance would need (OAuth state,
 * PKCE verifiers, sessions, codes, refresh tokens, zones, users, keys) lives behind it, never only
 * in one process's memory. Two backends implement it (SQLite embedded, Redis); one contract test
 * suite runs against both (test/storage/contract.ts).
 *
 * Callers namespace their keys (`zone:<id>`, `code:<code>`, `sess:<sid>`, ...) and serialise values
 * themselves (JSON). An expired key is indistinguishable from an absent one.
 */
export interface Storage {
  readonly kind: 'sqlite' | 'redis';
  get(key: string): Promise<string | undefined>;
  /** Stores `value`; with `ttlMs` it expires after that many milliseconds, without it never. */
  set(key: string, value: string, options?: TtlOptions): Promise<void>;
  /** Stores only if the key is absent (or expired). True if this call stored it (locks, unique claims). */
  setIfAbsent(key: string, value: string, options?: TtlOptions): Promise<boolean>;
  /**
   * Stores only if the key is present (and live), atomically; true if this call stored it. Rewrites
   * a record that may have been deleted meanwhile (a session ended by a logout elsewhere) without
   * bringing it back: a check and then a plain `set` leave a window in which the delete lands, and
   * a stalled Redis widens it to seconds (src/sessions/store.ts).
   */
  setIfPresent(key: string, value: string, options?: TtlOptions & AnnounceOptions): Promise<boolean>;
  /**
   * Stores `value` only if the key is live and holds exactly `expected`, atomically (compare and
   * set); true if this call stored it. A rewrite of what was read moments ago (a session's touch)
   * then never undoes a write made in between (a token refresh by another request or instance).
   */
  setIfEquals(key: string, expected: string, value: string, options?: TtlOptions & AnnounceOptions): Promise<boolean>;
  /** Atomically reads and deletes: of concurrent callers exactly one gets the value (single-use codes). */
  take(key: string, options?: AnnounceOptions): Promise<string | undefined>;
  /** True if the key existed. */
  delete(key: string, options?: AnnounceOptions): Promise<boolean>;
  /**
   * Atomically deletes the key only if it holds exactly `expected`; true if this call deleted it.
   * Releases a lock only while the caller still owns it: a lock that expired and was taken by
   * another instance must not be freed by its former owner (src/storage/lock.ts).
   */
  deleteIfEquals(key: string, expected: string): Promise<boolean>;
  /** Atomically adds 1 and returns the new value; an absent key starts at 0. `ttlMs` applies when the key is created. */
  increment(key: string, options?: TtlOptions): Promise<number>;
  /**
   * Atomically subtracts 1 from a live counter and returns the new value, keeping its TTL; a counter
   * that reaches 0 is deleted, and an absent (or expired) key stays absent and yields 0. Releases a
   * reservation taken with `increment` (login throttling counts attempts before it evaluates them,
   * src/zones/oauth/throttle.ts) without creating a key or going below zero.
   */
  decrement(key: string): Promise<number>;
  /** Milliseconds left; undefined if absent; Infinity if it never expires. */
  ttl(key: string): Promise<number | undefined>;
  /** Set indexes (zones by subdomain, sessions of a tenant, ...). */
  addToIndex(index: string, member: string): Promise<void>;
  removeFromIndex(index: string, member: string): Promise<void>;
  /** The members in no particular order (Redis sets are unordered). */
  listIndex(index: string): Promise<string[]>;
  deleteIndex(index: string): Promise<void>;
  /**
   * Change notices, for process-local caches of values that other processes may change (the session
   * store keeps sessions it has just read, src/sessions/store.ts). A writer announces each key it
   * changed, after the change; the listeners of this handle hear of it at once, those of every other
   * handle on the same store (another process, another instance) as soon as it arrives. Resolves
   * once the notice is on its way; never rejects (a notice that cannot be sent means the store is
   * unreachable, and then no cache serves, see changesTracked).
   */
  announce(key: string): Promise<void>;
  /**
   * `listener(key)`: `key` was announced, here or elsewhere. `listener(undefined)`: changes may have been
   * missed (SQLite: this handle fell behind what the change log keeps, 10 min; Redis: the notices'
   * subscription was interrupted or has just been restored): forget everything.
   */
  onForeignChange(listener: (key: string | undefined) => void): void;
  /**
   * Delivers the notices due and says whether a cache may serve right now. Synchronous and cheap (it
   * runs on every request a cache serves): false while other handles' changes could go unnoticed.
   * Other handles' changes arrive within milliseconds (Redis: pub/sub; SQLite: a change log in the
   * file, read when data_version moves, looked at every 20 ms).
   */
  changesTracked(): boolean;
  /**
   * Until when this handle has heard of every change, as a `performance.now()` instant of this
   * process: a change that completed anywhere before it (and was announced) has reached the
   * listeners. A cache may keep serving what it read earlier while this is recent
   * (src/sessions/store.ts). SQLite: the last look at data_version. Redis: the last heartbeat
   * answered on the notices' connection (a server answers it after every message published before
   * it). -Infinity while it cannot say: not subscribed, or a Redis Cluster, whose nodes relay
   * notices to each other unordered with that heartbeat.
   */
  changesHeardUntil(): number;
  /** Resolves when the backend answers; rejects with ZG_ERR_STORAGE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface AnnounceOptions {
  /**
   * Announces the change of this key as part of the write itself (Redis: PUBLISH in one MULTI with
   * it), so that it is heard of whenever the write lands: also one whose caller gave up on it (a
   * command timeout while Redis stalled) and that Redis ran when it resumed. An `announce(key)`
   * after the write would then never be sent. This handle's listeners hear of it when the call
   * resolves.
   */
  announce?: boolean;
}

export interface TtlOptions {
  /** Positive and finite (fractions round up); anything else rejects with a RangeError, storing nothing. */
  ttlMs?: number;
}

/** The error every backend throws when it cannot reach its store; the gateway answers 503. */
export function storageUnavailable(cause: unknown): GatewayError {
  return new GatewayError('ZG_ERR_STORAGE_UNAVAILABLE', 'The storage backend is unavailable', {
    cause,
    expose: true,
  });
}
