import session from 'express-session';
import type { SessionData } from 'express-session';
import type { Logger } from '../log.js';
import { LruMap } from '../lru-map.js';
import type { Storage } from '../storage/types.js';
import type { Keyring } from './crypto.js';
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
   * without a storage read (default 1000 ms; 0 turns it off). Writes here and change notices from
   * other processes (Storage.announce) end it at once; the bound covers what notices cannot.
   * Keep it below the storage's command timeout (Redis: 2 s): a write another process sent while
   * Redis stalled may have timed out there, unannounced, and still land when Redis resumes, which
   * is at least one command timeout after anything read here before the stall.
   */
  recentReadMs?: number;
  logger?: Logger;
}

/** A session as this process last read it (deep-frozen: it is shared by the requests that peek). */
interface RecentRead {
  /** Absent for a session read once only (load): it is kept when read again within recentReadMs. */
  data?: Readonly<SessionData>;
  readAt: number;
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
 * Sessions kept by peek (each some KB); they live for recentReadMs only, so this bounds the memory
 * of a burst of distinct sessions (about 5 MiB at 2,000 sessions of an access token each).
 */
const RECENT_READS_SIZE = 2_000;
const SESSION_PREFIX = 'sess:';

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
  readonly #recent = new LruMap<string, RecentRead>(RECENT_READS_SIZE);
  /** Moves on every change this store hears of: a read that began before a change must not be kept. */
  #changes = 0;

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
    if (this.#recentReadMs > 0) {
      this.#storage.onForeignChange((key) => {
        if (key === undefined) this.#forgetAll();
        else if (key.startsWith(SESSION_PREFIX)) this.#forget(key.slice(SESSION_PREFIX.length));
      });
    }
  }

  /**
   * The session `sid` as this process read it moments ago, for a request that will only read it:
   * undefined unless it was read within `recentReadMs`, nothing has changed it since (a write here,
   * or a change notice from another process, and the storage can vouch for the notices right now),
   * it is live, and serving it needs no write (no touch due). Otherwise the caller reads it through
   * express-session, which refreshes what this returns. The object is frozen: a request that needs
   * to change the session must load it.
   */
  peek(sid: string): Readonly<SessionData> | undefined {
    if (this.#recent.size === 0 || !this.#storage.changesTracked()) return undefined;
    // A peek leaves the order alone: the entries stay in the order they were read (see #read).
    const hit = this.#recent.peek(sid);
    if (hit?.data === undefined) return undefined;
    const now = Date.now();
    if (now - hit.readAt > this.#recentReadMs || !this.#servableUnchanged(hit.data, now)) {
      this.#recent.delete(sid);
      return undefined;
    }
    return hit.data;
  }

  /**
   * The session `sid` read from storage for a request that will only read it, without
   * express-session: what `peek` would return had this process read it moments ago, and from now on
   * it does. Undefined when it is absent or has ended (express-session then makes a new one), or when
   * serving it needs a write (a touch due): the caller goes through express-session, which writes.
   */
  async load(sid: string): Promise<Readonly<SessionData> | undefined> {
    const changes = this.#changes;
    const data = (await this.#fetch(sid)) as SessionData | undefined;
    if (data === undefined) return undefined;
    if (this.#servableUnchanged(data, Date.now())) {
      const frozen = deepFreeze(data) as Readonly<SessionData>;
      this.#remember(sid, () => frozen, changes, true);
      return frozen;
    }
    // A touch is due (about once a minute per active session): done here, as express-session would
    // at the end of the request, extending only a session still stored. This request uses its read;
    // the next one reads again (the touch may have written a copy changed since this read).
    await this.#touch(sid, data);
    return this.#servableUnchanged(data, Date.now()) ? (deepFreeze(data) as Readonly<SessionData>) : undefined;
  }

  /** How many sessions this process remembers reading within the last recentReadMs (copies for `peek` and marks; at most 2,000). */
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
    settle(this.#touch(sid, sess), callback);
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
          const deleted = await this.#storage.delete(sessionKey(sid));
          await this.#changed(sid);
          return deleted && isLive(record, Date.now(), this.#absoluteMs);
        }),
      );
      destroyed += results.filter(Boolean).length;
    }
    await Promise.all(buckets.map((b) => this.#storage.deleteIndex(bucketIndex(tenant, Number(b)))));
    await this.#storage.deleteIndex(bucketRegistry(tenant));
    return destroyed;
  }

  async #read(sid: string): Promise<SessionData | null> {
    const changes = this.#changes;
    const data = await this.#fetch(sid);
    if (data === undefined) return null;
    // Kept as a frozen copy: express-session's object is the request's to change.
    this.#remember(sid, () => deepFreeze(structuredClone(data)) as unknown as SessionData, changes);
    return data as unknown as SessionData;
  }

  /** The stored session as a plain object (secret fields opened); undefined when absent, ended or unopenable. */
  async #fetch(sid: string): Promise<Record<string, unknown> | undefined> {
    const record = parseRecord(await this.#storage.get(sessionKey(sid)));
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
    return data;
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
   * Keeps a read for `peek`, unless something changed since it began (`changes` is #changes as it
   * was then) or the storage cannot vouch for its change notices. The cache holds sessions read
   * within the last `recentReadMs` only: expired entries go when the next one comes and, once reads
   * stop, at the next prune, so memory held for them follows the recent load, not the sessions stored.
   */
  #remember(sid: string, data: () => Readonly<SessionData>, changes: number, whenReadAgain = false): void {
    if (this.#recentReadMs === 0 || this.#changes !== changes || !this.#storage.changesTracked()) return;
    const now = Date.now();
    // Oldest first (a re-read moves to the end): drop what has run out; set drops the oldest when full.
    this.#recent.dropOldestWhile((entry) => now - entry.readAt > this.#recentReadMs);
    // A session's first read is only marked (a few bytes): one that a page's burst of requests reads
    // again is kept at its second read, while one among thousands of users, read once a second or
    // less, costs no copy kept for a second (memory, and the garbage collector's work to move it).
    const kept = !whenReadAgain || this.#recent.peek(sid) !== undefined;
    this.#recent.set(sid, kept ? { data: data(), readAt: now } : { readAt: now });
    this.#schedulePrune();
  }

  #pruneTimer: NodeJS.Timeout | undefined;

  /** Drops expired recent reads after the load stops (one unref'd timer while the cache is not empty). */
  #schedulePrune(): void {
    if (this.#pruneTimer !== undefined) return;
    this.#pruneTimer = setTimeout(() => {
      this.#pruneTimer = undefined;
      const now = Date.now();
      this.#recent.dropOldestWhile((entry) => now - entry.readAt > this.#recentReadMs);
      if (this.#recent.size > 0) this.#schedulePrune();
    }, this.#recentReadMs + 10);
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
    return Math.min(cookieDeadline(sess) ?? now + this.#idleMs, (sess.createdAt ?? now) + this.#absoluteMs);
  }

  #forget(sid: string): void {
    this.#changes++;
    this.#recent.delete(sid);
  }

  #forgetAll(): void {
    this.#changes++;
    this.#recent.clear();
  }

  /** After a change of `sid` here: forgotten in this process, announced to the others. */
  async #changed(sid: string): Promise<void> {
    this.#forget(sid);
    await this.#storage.announce(sessionKey(sid));
  }

  async #write(sid: string, sess: SessionData): Promise<void> {
    const now = Date.now();
    const isNew = typeof sess.createdAt !== 'number';
    const createdAt = isNew ? now : sess.createdAt!;
    const expiresAt = Math.min(cookieDeadline(sess) ?? now + this.#idleMs, createdAt + this.#absoluteMs);
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
        this.#storage.setIfPresent(sessionKey(sid), value, { ttlMs: ttlUntil(expiresAt) }),
        // Indexing a session that is gone is harmless: the index is read through the records.
        tenant === undefined ? undefined : this.#index(tenant, sid, createdAt, isNew),
      ]);
      if (!stored) return;
    }
    await this.#changed(sid);
    // Kept on the live session object, so later writes in this request and touches know them.
    sess.createdAt = createdAt;
    sess.storedUntil = expiresAt;
  }

  async #touch(sid: string, sess: SessionData): Promise<void> {
    const now = Date.now();
    const wanted = this.#touchTarget(sess, now);
    if (typeof sess.storedUntil === 'number' && wanted - sess.storedUntil < this.#touchAfterMs) return;
    this.#forget(sid);
    // Rewrites the stored copy as it is, not `sess`: this request did not change the session, and a
    // concurrent request may have (a token refresh) since this one read it.
    const record = parseRecord(await this.#storage.get(sessionKey(sid)));
    if (record === undefined) return;
    const expiresAt = Math.min(wanted, record.createdAt + this.#absoluteMs);
    if (expiresAt <= record.expiresAt) return;
    if (expiresAt <= now) {
      await this.#storage.delete(sessionKey(sid));
      await this.#changed(sid);
      return;
    }
    // Only over the stored copy: a logout elsewhere may have deleted it since it was read here.
    if (!(await this.#storage.setIfPresent(sessionKey(sid), JSON.stringify({ ...record, expiresAt }), { ttlMs: ttlUntil(expiresAt) }))) return;
    await this.#changed(sid);
    sess.storedUntil = expiresAt;
  }

  async #destroy(sid: string): Promise<void> {
    this.#forget(sid);
    const record = parseRecord(await this.#storage.take(sessionKey(sid)));
    await this.#changed(sid);
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

function cookieDeadline(sess: SessionData): number | undefined {
  const expires: unknown = sess.cookie?.expires;
  if (expires instanceof Date) return expires.getTime();
  if (typeof expires === 'string') {
    const at = Date.parse(expires);
    return Number.isNaN(at) ? undefined : at;
  }
  return undefined;
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

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
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
