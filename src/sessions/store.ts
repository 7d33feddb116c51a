import session from 'express-session';
import type { SessionData } from 'express-session';
import type { Logger } from '../log.js';
import { LruMap } from '../lru-map.js';
import type { Storage } from '../storage/types.js';
import type { Keyring } from './crypto.js';
import { sameSecret } from '../constant-time.js';
import { expiresOf, SharedValues, sessionCopy } from './session-copy.js';
import './types.js';

export interface SessionStoreOptions {
  storage: Storage;
  keyring: Keyring;
  /** Idle timeout for a session whose cookie has no expiry (default 15 min, SAP's `SESSION_TIMEOUT` default). */
  idleTimeoutMs?: number;
  /** A session older than this is gone whatever its activity (default 8 h). */
  absoluteLifetimeMs?: number;
  /** Top-level session fields sealed before storage (default `['tokens']`). */
  secretFields?: readonly string[];
  /**
   * A touch rewrites the stored copy only when that would extend its life by at least this much
   * (default 60 s), so an active session costs no storage write per request. The price: a session
   * may end up to this much before its idle timeout.
   */
  touchAfterMs?: number;
  /**
   * How long a session this process has read may be handed out again from memory by `peek`,
   * without a storage read, when the storage cannot vouch for its change notices (default 1000 ms;
   * 0 turns the cache off). Writes here and change notices from other processes (Storage.announce)
   * end a copy at once; while the storage has heard of every change made until at most this long
   * ago (Storage.changesHeardUntil: SQLite, a single Redis or Sentinel), a copy serves until its
   * session needs a write (a touch, about a minute) or goes unused for `cacheIdleMs`. A Redis
   * Cluster cannot vouch: there a copy serves for this long after its read only.
   */
  recentReadMs?: number;
  /** How long a copy nobody uses stays in memory (default 60 s). */
  cacheIdleMs?: number;
  /**
   * At most this many sessions are kept in memory (default 20,000, about 1.6 KiB each with a 1.5 KB
   * access token); when full, the one read longest ago goes.
   */
  cacheSize?: number;
  logger?: Logger;
}

/**
 * A session as this process last read it: the fields a read-only request uses, deep-frozen (shared
 * by the requests that peek). Its times are whole milliseconds of performance.now() (since the
 * process started): small integers V8 keeps in the object itself, where epoch milliseconds would
 * take a 16-byte box each (issue 18; after 24 days of uptime they are boxed too).
 */
interface CachedRead {
  data: Readonly<SessionData>;
  /** What the request that loaded it proved it holds (the session cookie's signature): peek hands it only to the same proof. */
  proof: string;
  /** When its read began. */
  readAt: number;
  /** When a request last used it. */
  usedAt: number;
}

/**
 * The stored form of one session. Version 2 seals the secret fields together, as one JSON object
 * (one AES-GCM open per read); version 1, written by releases before issue 18, sealed each field on
 * its own and is still read (a session lives at most the absolute lifetime, 8 h by default).
 */
type StoredSession = StoredSessionV1 | StoredSessionV2;

interface StoredRecord {
  createdAt: number;
  /** When the storage TTL ends: the idle deadline or the absolute one, whichever comes first. */
  expiresAt: number;
  tenant?: string;
  data: Record<string, unknown>;
}

interface StoredSessionV2 extends StoredRecord {
  v: 2;
  /** The secret fields as one sealed JSON object; absent when the session holds none. */
  sealed?: string;
}

interface StoredSessionV1 extends StoredRecord {
  v: 1;
  sealed: Record<string, string>;
}

type Callback<T = void> = (err?: unknown, value?: T) => void;

const DEFAULT_IDLE_MS = 15 * 60_000;
const DEFAULT_ABSOLUTE_MS = 8 * 60 * 60_000;
// Fields the store manages itself; a secret field of one of these names would be lost or misread.
const RESERVED = new Set(['cookie', 'tenant', 'createdAt', 'storedUntil']);
const BATCH = 100;
/**
 * Sessions kept by peek: each holds an access token and the user (about 1.6 KiB of heap with a
 * 1.5 KB token, ./session-copy.ts, its key, proof and cache entry included), so this bounds the
 * memory whatever the number of users (about 32 MiB at 20,000 sessions used within the last minute).
 */
export const SESSION_CACHE_SIZE = 20_000;
const CACHE_IDLE_MS = 60_000;
const PRUNE_EVERY_MS = 10_000;
const SESSION_PREFIX = 'sess:';
/**
 * Every change of a stored session is announced with the write itself (Storage AnnounceOptions):
 * a logout whose delete Redis runs late, after the gateway gave up on it, still ends the copies
 * other processes keep.
 */
const ANNOUNCED = { announce: true } as const;

const sessionKey = (sid: string) => `${SESSION_PREFIX}${sid}`;
// Tenant index: one set per tenant and time bucket (bucket width = absolute lifetime), plus a
// per-tenant registry of buckets. Live sessions were created within the last lifetime, so they sit in
// the newest buckets; older buckets are dropped whole when a session is created, which bounds the
// index without a scan (storage sets have no per-member TTL, and expired sessions never call destroy).
const bucketIndex = (tenant: string, bucket: number) => `sess-tenant:${tenant}:${bucket}`;
const bucketRegistry = (tenant: string) => `sess-tenant-buckets:${tenant}`;
// The session id as additional data: a sealed value moved to another session does not open. (Version 1
// added the field name, for values sealed one per field.)
const aadOf = (sid: string) => JSON.stringify(['zonegate-session', sid]);
const aadOfV1 = (sid: string, field: string) => JSON.stringify(['zonegate-session', sid, field]);

/**
 * express-session store over the Storage contract (SQLite embedded or Redis shared), so any gateway
 * instance serves any session without sticky routing.
 *
 * - TTL: the cookie's expiry (idle timeout; express-session moves it on every request and calls
 *   `touch`), capped by an absolute lifetime counted from the session's creation; a session id
 *   regenerated at login starts a new lifetime.
 * - Secret fields are sealed with the keyring, bound to the session id; a session whose secrets do
 *   not open (key removed from the ring, tampering) is treated as absent: the user logs in again.
 * - Storage errors (ZG_ERR_STORAGE_UNAVAILABLE) reach the callback unchanged; express-session passes
 *   them to `next(err)` and the gateway answers 503. A failed read ends nothing (the login runs
 *   express-session with `unset: 'keep'`), and a session is rewritten only while it is still stored
 *   (Storage.setIfPresent), so a stalled Redis that resumes neither deletes nor revives one.
 */
export class StorageSessionStore extends session.Store {
  readonly #storage: Storage;
  readonly #keyring: Keyring;
  readonly #idleMs: number;
  readonly #absoluteMs: number;
  readonly #secretFields: readonly string[];
  readonly #touchAfterMs: number;
  readonly #recentReadMs: number;
  readonly #logger: Logger | undefined;
  readonly #cacheIdleMs: number;
  readonly #recent: LruMap<string, CachedRead>;
  /** At most this many sessions are kept for `peek`. */
  readonly cacheSize: number;
  readonly #shared = new SharedValues();
  /** Moves on every change this store hears of: a read that began before a change of its session must not be kept. */
  #changes = 0;
  /** #changes when every copy was last forgotten (the stored data was replaced): no read begun before is kept. */
  #allForgottenAt = 0;
  /**
   * The sessions with reads under way (loadReadOnly), how many each, and #changes when each was last
   * forgotten: a change of one session does not void the reads of the others that overlap it (at
   * 10,000 sessions, with a touch announced by every instance once a minute, most reads would).
   */
  readonly #reading = new Map<string, { count: number; forgottenAt: number }>();

  constructor(options: SessionStoreOptions) {
    super();
    this.#storage = options.storage;
    this.#keyring = options.keyring;
    this.#idleMs = positive('idleTimeoutMs', options.idleTimeoutMs ?? DEFAULT_IDLE_MS);
    this.#absoluteMs = positive('absoluteLifetimeMs', options.absoluteLifetimeMs ?? DEFAULT_ABSOLUTE_MS);
    this.#touchAfterMs = options.touchAfterMs ?? 60_000;
    if (!Number.isFinite(this.#touchAfterMs) || this.#touchAfterMs < 0) {
      throw new RangeError(`touchAfterMs must be a finite number >= 0, got ${this.#touchAfterMs}`);
    }
    this.#secretFields = [...(options.secretFields ?? ['tokens'])];
    for (const field of this.#secretFields) {
      if (RESERVED.has(field)) throw new RangeError(`"${field}" is managed by the session store and cannot be a secret field`);
    }
    this.#logger = options.logger;
    this.#recentReadMs = options.recentReadMs ?? 1000;
    if (!Number.isFinite(this.#recentReadMs) || this.#recentReadMs < 0) {
      throw new RangeError(`recentReadMs must be a finite number >= 0, got ${this.#recentReadMs}`);
    }
    this.#cacheIdleMs = positive('cacheIdleMs', options.cacheIdleMs ?? CACHE_IDLE_MS);
    this.cacheSize = options.cacheSize ?? SESSION_CACHE_SIZE;
    this.#recent = new LruMap(this.cacheSize);
    if (this.#recentReadMs > 0) {
      this.#storage.onForeignChange((key) => {
        if (key === undefined) this.#forgetAll();
        else if (key.startsWith(SESSION_PREFIX)) this.#forget(key.slice(SESSION_PREFIX.length));
      });
    }
  }

  /**
   * The session `sid` as `loadReadOnly` read it before for the same `proof`, for a request that will only
   * read it: undefined unless nothing has changed it since (a write here, or a change notice from
   * another process), the storage can vouch for the notices right now (it has heard of every change
   * made until at most `recentReadMs` ago, or the copy is that recent), it is live, and serving it
   * needs no write (no touch due). Otherwise the caller loads it again, or opens it through
   * express-session. The object is frozen and holds what a read-only request uses (no refresh or ID
   * token): a request that needs more, or to change the session, must open it.
   *
   * `proof` is what the caller checked before it loaded the session (./request-session.ts: the
   * cookie's signature): the copy stands in for that check too, so the caller keeps no cache of its
   * own (a second map and the whole cookie per session). Compared in constant time; a wrong one
   * leaves the copy for its owner.
   */
  peek(sid: string, proof: string): Readonly<SessionData> | undefined {
    if (this.#recent.size === 0 || !this.#storage.changesTracked()) return undefined;
    // In the order they were read, not used: a session in use is read again at its touch (about once
    // a minute), so the oldest read is the one to go when full, and a hit costs no reinsertion.
    const hit = this.#recent.peek(sid);
    if (hit === undefined || !sameSecret(hit.proof, proof)) return undefined;
    const tick = performance.now();
    if (!this.#current(hit, tick) || !this.#servableUnchanged(hit.data, Date.now())) {
      this.#recent.delete(sid);
      return undefined;
    }
    hit.usedAt = Math.floor(tick);
    return hit.data;
  }

  /**
   * The session `sid` read from storage for a request that will only read it, without
   * express-session: what `peek` returns from now on for the same `proof` (see peek). Undefined when
   * it is absent or has ended (express-session then makes a new one), or when serving it needs a
   * write that failed (a touch due, lost to a change): the caller goes through express-session.
   * `sid` and `proof` are kept: strings of their own (./session-copy.ts ownCopy), not slices of the
   * cookie.
   */
  async loadReadOnly(sid: string, proof: string): Promise<Readonly<SessionData> | undefined> {
    const changes = this.#changes;
    const readAt = Math.floor(performance.now());
    const reading = this.#reading.get(sid) ?? { count: 0, forgottenAt: -1 };
    reading.count++;
    this.#reading.set(sid, reading);
    try {
      const fetched = await this.#fetch(sid);
      if (fetched === undefined) return undefined;
      const data = fetched.data as unknown as SessionData;
      if (this.#servableUnchanged(data, Date.now())) return this.#remember(sid, proof, data, changes, readAt);
      // A touch is due (about once a minute per active session): done here, as express-session would
      // at the end of the request, extending only a session still stored. The read is kept only when
      // the touch extended that very record (a request may have changed it in between).
      const touchedAt = Math.floor(performance.now());
      const unchanged = await this.#touch(sid, data, fetched.raw);
      if (!this.#servableUnchanged(data, Date.now())) return undefined;
      return unchanged === undefined ? this.#copy(data) : this.#remember(sid, proof, data, unchanged, touchedAt);
    } finally {
      if (--reading.count === 0) this.#reading.delete(sid);
    }
  }

  /** How many sessions this process keeps for `peek` (at most `cacheSize`; unused ones go after `cacheIdleMs`). */
  get recentReads(): number {
    return this.#recent.size;
  }

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    settle(this.#read(sid), (err, value) => callback(err ?? null, err ? undefined : (value ?? null)));
  }

  override set(sid: string, sess: SessionData, callback?: Callback): void {
    settle(this.#write(sid, sess), callback);
  }

  override destroy(sid: string, callback?: Callback): void {
    settle(this.#destroy(sid), callback);
  }

  // express-session calls touch with an error-first callback (it passes `err` to next()); the
  // published typings omit the argument.
  override touch(sid: string, sess: SessionData, callback?: Callback): void {
    settle(this.#touch(sid, sess).then(() => undefined), callback);
  }

  /** Ids of the live sessions established for `tenant`, in no particular order. */
  async sessionsOfTenant(tenant: string): Promise<string[]> {
    const live: string[] = [];
    for (const batch of chunks(await this.#indexedIds(tenant), BATCH)) {
      const records = await Promise.all(batch.map((sid) => this.#storage.get(sessionKey(sid))));
      batch.forEach((sid, i) => {
        const record = parseRecord(records[i]);
        if (record && record.tenant === tenant && isLive(record, Date.now(), this.#absoluteMs)) live.push(sid);
      });
    }
    return live;
  }

  /** Ends every session of `tenant` (unsubscription) and drops its index; resolves with how many were live. */
  async destroyTenantSessions(tenant: string): Promise<number> {
    const buckets = await this.#storage.listIndex(bucketRegistry(tenant));
    let destroyed = 0;
    for (const batch of chunks(await this.#indexedIds(tenant, buckets), BATCH)) {
      const results = await Promise.all(
        batch.map(async (sid) => {
          const record = parseRecord(await this.#storage.get(sessionKey(sid)));
          // A session that moved to another tenant is indexed there too; it is not this tenant's.
          if (record?.tenant !== tenant) return false;
          const deleted = await this.#storage.delete(sessionKey(sid), ANNOUNCED);
          this.#forget(sid);
          return deleted && isLive(record, Date.now(), this.#absoluteMs);
        }),
      );
      destroyed += results.filter(Boolean).length;
    }
    await Promise.all(buckets.map((b) => this.#storage.deleteIndex(bucketIndex(tenant, Number(b)))));
    await this.#storage.deleteIndex(bucketRegistry(tenant));
    return destroyed;
  }

  /** express-session's read: the request's own object to change, kept nowhere (only loadReadOnly keeps reads, for a proof). */
  async #read(sid: string): Promise<SessionData | null> {
    const data = (await this.#fetch(sid))?.data;
    return data === undefined ? null : (data as unknown as SessionData);
  }

  /**
   * The stored session as a plain object (secret fields opened), and the record as stored;
   * undefined when absent, ended or unopenable.
   */
  async #fetch(sid: string): Promise<{ data: Record<string, unknown>; raw: string } | undefined> {
    const raw = await this.#storage.get(sessionKey(sid));
    const record = parseRecord(raw);
    if (record === undefined) return undefined;
    if (!isLive(record, Date.now(), this.#absoluteMs)) return undefined;
    const data: Record<string, unknown> = { ...record.data };
    const secrets = this.#openSecrets(sid, record);
    if (secrets === undefined) {
      // Never log the session id: it is a credential.
      this.#logger?.warn('A stored session could not be opened (unknown key or altered data); treated as absent', { keyIds: this.#keyring.keyIds });
      return undefined;
    }
    Object.assign(data, secrets);
    data['createdAt'] = record.createdAt;
    data['storedUntil'] = record.expiresAt;
    return { data, raw: raw! };
  }

  /** The secret fields of a stored session, opened; undefined when any does not open. */
  #openSecrets(sid: string, record: StoredSession): Record<string, unknown> | undefined {
    if (record.v === 2) {
      if (record.sealed === undefined) return {};
      const text = this.#keyring.open(record.sealed, aadOf(sid));
      return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
    }
    const secrets: Record<string, unknown> = {};
    for (const field in record.sealed) {
      const text = this.#keyring.open(record.sealed[field]!, aadOfV1(sid, field));
      if (text === undefined) return undefined;
      secrets[field] = JSON.parse(text);
    }
    return secrets;
  }

  /**
   * What a read-only request uses of a read, frozen; kept for `peek` unless its session changed, or
   * everything was forgotten, since the read began (`changes` is #changes as it was then), or the
   * storage's notices are not tracked. Called only while loadReadOnly counts the read in #reading.
   */
  #remember(sid: string, proof: string, data: SessionData, changes: number, readAt: number): Readonly<SessionData> {
    const kept = this.#copy(data);
    const overtaken = this.#allForgottenAt > changes || (this.#reading.get(sid)?.forgottenAt ?? Infinity) > changes;
    if (this.#recentReadMs === 0 || overtaken || !this.#storage.changesTracked()) return kept;
    this.#recent.set(sid, { data: kept, proof, readAt, usedAt: Math.floor(performance.now()) });
    this.#schedulePrune();
    return kept;
  }

  /** What a read-only request uses of `data`, frozen and compact (./session-copy.ts). */
  #copy(data: SessionData): Readonly<SessionData> {
    return sessionCopy(data, expiresOf(data), this.#shared);
  }

  /** Nothing can have changed the copy unheard of for longer than recentReadMs. */
  #current(hit: CachedRead, tick: number): boolean {
    return tick - hit.readAt <= this.#recentReadMs || tick - this.#storage.changesHeardUntil() <= this.#recentReadMs;
  }

  #pruneTimer: NodeJS.Timeout | undefined;

  /**
   * Drops the copies nobody used within cacheIdleMs, or that can no longer serve (one unref'd timer
   * while the cache is not empty), so the memory follows the sessions in use, not those stored.
   */
  #schedulePrune(): void {
    if (this.#pruneTimer !== undefined) return;
    this.#pruneTimer = setTimeout(
      () => {
        this.#pruneTimer = undefined;
        const now = Date.now();
        const idleSince = performance.now() - this.#cacheIdleMs;
        this.#recent.deleteWhere((entry) => entry.usedAt < idleSince || !this.#servableUnchanged(entry.data, now));
        if (this.#recent.size > 0) this.#schedulePrune();
      },
      Math.min(this.#cacheIdleMs, PRUNE_EVERY_MS),
    );
    this.#pruneTimer.unref();
  }

  /** Live, and a touch now would not write (see #touch): a request may use it as it is. */
  #servableUnchanged(sess: Readonly<SessionData>, now: number): boolean {
    const storedUntil = sess.storedUntil;
    const createdAt = sess.createdAt;
    if (typeof storedUntil !== 'number' || typeof createdAt !== 'number') return false;
    if (storedUntil <= now || createdAt + this.#absoluteMs <= now) return false;
    return this.#touchTarget(sess, now) - storedUntil < this.#touchAfterMs;
  }

  /** Until when a request now would keep the session: the idle deadline, capped by the absolute one. */
  #touchTarget(sess: Readonly<SessionData>, now: number): number {
    return Math.min(expiresOf(sess) ?? now + this.#idleMs, (sess.createdAt ?? now) + this.#absoluteMs);
  }

  #forget(sid: string): void {
    this.#changes++;
    const reading = this.#reading.get(sid);
    if (reading !== undefined) reading.forgottenAt = this.#changes;
    this.#recent.delete(sid);
  }

  #forgetAll(): void {
    this.#changes++;
    this.#allForgottenAt = this.#changes;
    this.#recent.clear();
  }

  async #write(sid: string, sess: SessionData): Promise<void> {
    const now = Date.now();
    const isNew = typeof sess.createdAt !== 'number';
    const createdAt = isNew ? now : sess.createdAt!;
    const expiresAt = Math.min(expiresOf(sess) ?? now + this.#idleMs, createdAt + this.#absoluteMs);
    if (expiresAt <= now) {
      await this.#destroy(sid);
      return;
    }
    this.#forget(sid);
    // Session objects serialise through toJSON (the cookie) and drop their non-enumerable req/id.
    const data = JSON.parse(JSON.stringify(sess)) as Record<string, unknown>;
    delete data['createdAt'];
    delete data['storedUntil'];
    const secrets: Record<string, unknown> = {};
    let anySecret = false;
    for (const field of this.#secretFields) {
      if (data[field] === undefined) continue;
      secrets[field] = data[field];
      anySecret = true;
      delete data[field];
    }
    const tenant = typeof sess.tenant === 'string' ? sess.tenant : undefined;
    const record: StoredSessionV2 = {
      v: 2,
      createdAt,
      expiresAt,
      ...(tenant === undefined ? {} : { tenant }),
      data,
      ...(anySecret ? { sealed: this.#keyring.seal(JSON.stringify(secrets), aadOf(sid)) } : {}),
    };
    const value = JSON.stringify(record);
    if (isNew) {
      await Promise.all([
        this.#storage.set(sessionKey(sid), value, { ttlMs: ttlUntil(expiresAt) }),
        tenant === undefined ? undefined : this.#index(tenant, sid, createdAt, isNew),
      ]);
    } else {
      // A request that loaded the session before a logout or an unsubscription destroyed it must not
      // write it back at its end: only a session still stored is rewritten, in one atomic step (a
      // check and then a write would let a delete land in between, for seconds when Redis stalls).
      const [stored] = await Promise.all([
        this.#storage.setIfPresent(sessionKey(sid), value, { ttlMs: ttlUntil(expiresAt), ...ANNOUNCED }),
        // Indexing a session that is gone is harmless: the index is read through the records.
        tenant === undefined ? undefined : this.#index(tenant, sid, createdAt, isNew),
      ]);
      if (!stored) return;
    }
    // A new id is in no process's memory (absent sessions are not kept): it needs no notice.
    this.#forget(sid);
    // Kept on the live session object, so later writes in this request and touches know them.
    sess.createdAt = createdAt;
    sess.storedUntil = expiresAt;
  }

  /**
   * Extends the stored copy when a request now would keep the session longer by touchAfterMs or
   * more. `readRaw`: the record `sess` was opened from; when the touch extended that very record,
   * resolves with #changes as it was right after (a caller may keep `sess` as it now is stored).
   */
  async #touch(sid: string, sess: SessionData, readRaw?: string): Promise<number | undefined> {
    const now = Date.now();
    const wanted = this.#touchTarget(sess, now);
    if (typeof sess.storedUntil === 'number' && wanted - sess.storedUntil < this.#touchAfterMs) return undefined;
    this.#forget(sid);
    // Rewrites the stored copy as it is, not `sess`: this request did not change the session, and a
    // concurrent request may have (a token refresh) since this one read it.
    const raw = await this.#storage.get(sessionKey(sid));
    const record = parseRecord(raw);
    if (record === undefined) return undefined;
    const expiresAt = Math.min(wanted, record.createdAt + this.#absoluteMs);
    if (expiresAt <= record.expiresAt) return undefined;
    if (expiresAt <= now) {
      await this.#storage.delete(sessionKey(sid), ANNOUNCED);
      this.#forget(sid);
      return undefined;
    }
    // Only over the very copy read just now: a logout elsewhere may have deleted it since, and a
    // token refresh may have rewritten it (undone, the rotated refresh token would be lost, and the
    // next refresh would present a spent one: the zone revokes the whole family).
    if (!(await this.#storage.setIfEquals(sessionKey(sid), raw!, JSON.stringify({ ...record, expiresAt }), { ttlMs: ttlUntil(expiresAt), ...ANNOUNCED }))) return undefined;
    this.#forget(sid);
    sess.storedUntil = expiresAt;
    return raw === readRaw ? this.#changes : undefined;
  }

  async #destroy(sid: string): Promise<void> {
    this.#forget(sid);
    const record = parseRecord(await this.#storage.take(sessionKey(sid), ANNOUNCED));
    this.#forget(sid);
    if (record?.tenant !== undefined) {
      await this.#storage.removeFromIndex(bucketIndex(record.tenant, this.#bucketOf(record.createdAt)), sid);
    }
  }

  async #index(tenant: string, sid: string, createdAt: number, isNew: boolean): Promise<void> {
    const bucket = this.#bucketOf(createdAt);
    await Promise.all([
      this.#storage.addToIndex(bucketIndex(tenant, bucket), sid),
      this.#storage.addToIndex(bucketRegistry(tenant), String(bucket)),
    ]);
    if (!isNew) return;
    // Buckets older than two lifetimes hold only dead sessions (one bucket of slack for clock skew
    // between instances).
    const stale = (await this.#storage.listIndex(bucketRegistry(tenant))).map(Number).filter((b) => b < bucket - 2);
    await Promise.all(
      stale.map(async (b) => {
        await this.#storage.deleteIndex(bucketIndex(tenant, b));
        await this.#storage.removeFromIndex(bucketRegistry(tenant), String(b));
      }),
    );
  }

  async #indexedIds(tenant: string, buckets?: string[]): Promise<string[]> {
    const names = buckets ?? (await this.#storage.listIndex(bucketRegistry(tenant)));
    const members = await Promise.all(names.map((b) => this.#storage.listIndex(bucketIndex(tenant, Number(b)))));
    return [...new Set(members.flat())];
  }

  #bucketOf(createdAt: number): number {
    return Math.floor(createdAt / this.#absoluteMs);
  }
}

/** Calls an error-first callback once, outside the promise chain (a throwing callback is not retried as an error). */
function settle<T>(promise: Promise<T>, callback: Callback<T> | undefined): void {
  promise.then(
    (value) => process.nextTick(() => callback?.(null, value)),
    (err: unknown) => process.nextTick(() => callback?.(err)),
  );
}

/**
 * The TTL that ends the stored copy at `expiresAt`, counted from now rather than from the start of
 * the write: the reads before it (a round trip or more, longer under load or with a replica to
 * wait for) must not carry the copy past its deadline.
 */
function ttlUntil(expiresAt: number): number {
  return Math.max(1, expiresAt - Date.now());
}


function isLive(record: StoredSession, now: number, absoluteMs: number): boolean {
  return record.expiresAt > now && record.createdAt + absoluteMs > now;
}

function parseRecord(raw: string | undefined): StoredSession | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Partial<StoredSession>;
  if ((r.v !== 1 && r.v !== 2) || typeof r.createdAt !== 'number' || typeof r.expiresAt !== 'number') return undefined;
  if (typeof r.data !== 'object' || r.data === null) return undefined;
  if (r.tenant !== undefined && typeof r.tenant !== 'string') return undefined;
  if (r.v === 2) return r.sealed === undefined || typeof r.sealed === 'string' ? (r as StoredSessionV2) : undefined;
  const sealed: unknown = r.sealed;
  if (typeof sealed !== 'object' || sealed === null || !Object.values(sealed).every((v) => typeof v === 'string')) return undefined;
  return r as StoredSessionV1;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive finite number of milliseconds, got ${value}`);
  return value;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
