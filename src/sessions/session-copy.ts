/**
 * What a process keeps in memory of a session it read (StorageSessionStore.peek), in as little heap
 * as it can (issue 18: at most 2 KiB per recently active session, of which the access token alone
 * takes about 1.5). Found with heap snapshots of a gateway holding 5,000 and 10,000 sessions (2.9 KiB
 * each before, 1.7 after, then 1.6, with the caches' entries and keys):
 *
 * - One shape for every copy: an object built field by field from a spread got a hidden class of its
 *   own (about 280 bytes each, with its out-of-object properties).
 * - One instance of what many sessions share: the tenant, the zone id, the origin, the list of
 *   scopes, no user attributes, and the access token's header (the same for every token a zone key
 *   signs, about 150 characters).
 * - The access token's payload and signature as bytes, not base64url (CopiedTokens).
 * - Strings of their own: a slice of a longer string keeps all of it (a session id sliced from its
 *   cookie, a cookie sliced from the whole `Cookie` header).
 * - No express-session cookie: its `expires` Date and the object around it took about 130 bytes; the
 *   deadline is a number (expiresOf). A user name that is the e-mail address is kept once.
 * - No second cache of verified cookies (about 150 bytes with the cookie as its key): the store keeps
 *   the checked signature beside the copy (StorageSessionStore.peek's proof), and its times are small
 *   integers rather than epoch milliseconds in boxes of their own.
 */
import type { SessionData } from 'express-session';
import { LruMap } from '../lru-map.js';
import type { SessionTokens, SessionUser } from './types.js';
import './types.js';

/** Distinct shared strings and scope lists remembered (tenants, zones, role collections); more are only stored once more. */
const SHARED_SIZE = 4096;
const NO_ATTRIBUTES: Readonly<Record<string, string[]>> = Object.freeze({});

/** A string that shares no memory with the one it was cut from (JSON.parse makes a new, flat one). */
export function ownCopy(value: string): string {
  return JSON.parse(JSON.stringify(value)) as string;
}

/**
 * One instance of each string and string list that many sessions hold, per process; bounded (the
 * oldest is forgotten first: a value that fell out is only stored once more, and every copy is frozen).
 */
export class SharedValues {
  readonly #strings = new LruMap<string, string>(SHARED_SIZE);
  readonly #lists = new LruMap<string, readonly string[]>(SHARED_SIZE);

  string(value: string): string;
  string(value: string | undefined): string | undefined;
  string(value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    const known = this.#strings.peek(value);
    if (known !== undefined) return known;
    const own = ownCopy(value);
    this.#strings.set(own, own);
    return own;
  }

  list(values: readonly string[]): readonly string[] {
    const key = JSON.stringify(values);
    const known = this.#lists.peek(key);
    if (known !== undefined) return known;
    const list = Object.freeze(values.map((v) => this.string(v)));
    this.#lists.set(key, list);
    return list;
  }
}

/**
 * The access token and its expiry. A JWT is kept as its header, shared with every token of the same
 * zone key, and its payload and signature as the bytes they encode (a one-byte string, a quarter
 * smaller than their base64url); the token is encoded again on each use (about a microsecond for a
 * 1.5 KB token). Anything else, or a JWT whose base64url would not come back exactly, is kept as it is.
 */
class CopiedTokens implements SessionTokens {
  readonly #header: string;
  /** The payload's and the signature's bytes, one character each (latin1); or the token as it came. */
  readonly #body: string;
  /** How many of #body's characters are the payload's; -1 when #body is the token as it came. */
  readonly #payloadBytes: number;
  readonly expiresAt: number | undefined;

  constructor(accessToken: string, expiresAt: number | undefined, shared: SharedValues) {
    const parts = accessToken.split('.');
    const [header, payload, signature] = parts;
    const bytes = parts.length === 3 ? [Buffer.from(payload!, 'base64url'), Buffer.from(signature!, 'base64url')] : [];
    if (bytes.length === 2 && bytes[0]!.toString('base64url') === payload && bytes[1]!.toString('base64url') === signature) {
      this.#header = shared.string(`${header}.`);
      this.#body = Buffer.concat(bytes).toString('latin1');
      this.#payloadBytes = bytes[0]!.length;
    } else {
      this.#header = '';
      this.#body = ownCopy(accessToken);
      this.#payloadBytes = -1;
    }
    this.expiresAt = expiresAt;
    Object.freeze(this);
  }

  get accessToken(): string {
    if (this.#payloadBytes === -1) return this.#body;
    const bytes = Buffer.from(this.#body, 'latin1');
    return `${this.#header}${bytes.toString('base64url', 0, this.#payloadBytes)}.${bytes.toString('base64url', this.#payloadBytes)}`;
  }
}

/** A read-only request's session: one class, so every copy shares V8's hidden class. */
class SessionCopy {
  constructor(
    readonly tenant: string | undefined,
    readonly user: SessionUser | undefined,
    readonly tokens: SessionTokens | undefined,
    readonly csrfToken: string | undefined,
    readonly backendCookies: SessionData['backendCookies'],
    readonly createdAt: number | undefined,
    readonly storedUntil: number | undefined,
    /** The cookie's deadline (epoch ms; expiresOf): a number, not express-session's cookie with a Date (about 130 bytes). */
    readonly cookieExpires: number | undefined,
  ) {
    Object.freeze(this);
  }
}

/**
 * The session cookie's deadline (epoch ms) of a session as express-session holds it, or of a copy;
 * undefined when the cookie has no expiry.
 */
export function expiresOf(sess: Readonly<SessionData>): number | undefined {
  if (sess instanceof SessionCopy) return sess.cookieExpires;
  const expires: unknown = sess.cookie?.expires;
  if (expires instanceof Date) return expires.getTime();
  if (typeof expires === 'string') {
    const at = Date.parse(expires);
    return Number.isNaN(at) ? undefined : at;
  }
  return undefined;
}

/**
 * What a request that leaves the session as it is uses of it (src/login/login.ts): the tenant, the
 * user, the access token and its expiry, the CSRF token, the backend cookies, and what the store
 * needs to tell whether it is live and needs a touch (`expires`: the cookie's deadline, read back
 * with expiresOf; the copy has no express-session cookie); deep-frozen,
 * sharing nothing that `data` can change.
 * The refresh and ID tokens (over a kilobyte each) stay in storage: a refresh or a logout opens the
 * session through express-session.
 */
export function sessionCopy(data: SessionData, expires: number | undefined, shared: SharedValues): Readonly<SessionData> {
  const { tenant, user, tokens, csrfToken, backendCookies, createdAt, storedUntil } = data;
  return new SessionCopy(
    shared.string(tenant),
    user && copiedUser(user, shared),
    tokens && new CopiedTokens(tokens.accessToken, tokens.expiresAt, shared),
    csrfToken,
    backendCookies && deepFreeze(structuredClone(backendCookies)),
    createdAt,
    storedUntil,
    expires,
  ) as unknown as Readonly<SessionData>;
}

function copiedUser(user: SessionUser, shared: SharedValues): SessionUser {
  const attributes = Object.keys(user.attributes ?? {}).length === 0 ? NO_ATTRIBUTES : deepFreeze(structuredClone(user.attributes));
  // Every field, present or not, in one order: one hidden class for all users. A user name that is
  // the e-mail address (as SAP's identity services often have it) is kept once.
  return Object.freeze({
    name: user.name,
    email: user.email === user.name ? user.name : user.email,
    givenName: user.givenName,
    familyName: user.familyName,
    origin: shared.string(user.origin),
    zoneId: shared.string(user.zoneId),
    scopes: shared.list(user.scopes) as string[],
    attributes: attributes as Record<string, string[]>,
    client: user.client,
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
