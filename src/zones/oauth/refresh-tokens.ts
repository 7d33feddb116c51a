/**
 * Refresh tokens: opaque, stored by SHA-256, rotated on every use (RFC 9700 §4.14.2). All tokens
 * descending from one login form a family; presenting a rotated-out token again means it leaked,
 * so the whole family is revoked, including the access tokens it produced.
 *
 * One exception, for clients that retry: SAP's application router repeats a refresh up to three
 * times with the same refresh token when it sees no answer (a timeout, a dropped connection), so the
 * first attempt may have rotated the token although the router never saw the successor. A reuse of
 * the family's immediately previous token within `reuseGraceMs` of its rotation therefore gets the
 * family's current refresh token again (with a fresh access token) instead of revoking the family;
 * an older token, or the previous one after the window, still revokes it. This is the grace period
 * of Auth0's "reuse interval" and Keycloak's "refresh token max reuse", with one difference: the
 * retry does not mint another refresh token but repeats the one the first attempt minted. Every
 * attempt thus answers with the same refresh token, so whichever answer reaches the client, the
 * client holds the family's live token: parallel or repeated refreshes never fork the family, and
 * no answer that got lost leaves the client with a token whose later use would read as theft.
 *
 * To repeat the successor without keeping a usable token in storage (a store dump must yield none),
 * the successor is kept only sealed with a key derived from the token it replaced: only whoever
 * presents that old token can open it, and only for the window (the sealed copy expires with it).
 *
 * Every change of a family (rotation, retry, an access token added, revocation) runs under the
 * family's lock (src/sessions/lock.ts) and re-reads the family inside it. Without it two parallel
 * refreshes could both rotate one token, or a rotation that read the family before a revocation
 * could write it back unrevoked.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { LockTimeoutError, withLock } from '../../storage/lock.js';
import type { ZoneServices } from './context.js';
import { TemporarilyUnavailable } from './errors.js';
import { revokeTokens } from './tokens.js';

export interface RefreshRecord {
  familyId: string;
  zoneId: string;
  clientId: string;
  userId: string;
  scopes: string[];
  authTime: number;
  /** Epoch ms; the refresh-token validity of the client, counted from issuance. */
  expiresAt: number;
}

interface FamilyRecord {
  revoked: boolean;
  /** Hash of the family's current refresh token. */
  current?: string;
  tokens: { jti: string; exp: number }[];
}

/** What a rotated-out token leaves for a retry within the grace window. */
interface RetryRecord {
  /** The successor token, sealed under a key derived from the rotated-out token (see seal). */
  sealed: string;
  /** Epoch ms (services.now) of the rotation. */
  rotatedAt: number;
}

export type Redemption =
  /** `token` is the family's new current refresh token; `record` is its record. */
  | { kind: 'rotated'; token: string; record: RefreshRecord }
  /** A retry within the grace window: `token` is the current refresh token the first attempt minted. */
  | { kind: 'retried'; token: string; record: RefreshRecord }
  /** Used before, outside the grace window or older than the previous token; the family is now revoked. */
  | { kind: 'reused' }
  /** Another client's or zone's token; its family is now revoked. */
  | { kind: 'foreign' }
  | { kind: 'unknown' };

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
const tokenKey = (h: string) => `zrt:${h}`;
const usedKey = (h: string) => `zrt-used:${h}`;
const retryKey = (h: string) => `zrt-retry:${h}`;
const familyKey = (familyId: string) => `zrt-family:${familyId}`;
/** Families outlive their tokens by a day so late reuse is still recognised. */
const FAMILY_GRACE_MS = 24 * 3600 * 1000;
/** Revoked families are remembered this long (a revoked family never issues again). */
const REVOKED_FAMILY_TTL_MS = 30 * 24 * 3600 * 1000;
/**
 * The critical sections are a handful of storage calls (revocation: one per live access token). A
 * parallel refresh of the same family waits its turn rather than fail: that is the retry case.
 */
const FAMILY_LOCK = { ttlMs: 10_000, waitMs: 5_000 };

export function newFamilyId(): string {
  return randomBytes(16).toString('hex');
}

async function lockedFamily<T>(services: ZoneServices, familyId: string, fn: (family: FamilyRecord) => Promise<T>): Promise<T> {
  try {
    return await withLock(services.storage, familyKey(familyId), FAMILY_LOCK, async () => fn(await readFamily(services, familyId)));
  } catch (err) {
    if (err instanceof LockTimeoutError) throw new TemporarilyUnavailable('The refresh token is being used by another request; try again', { cause: err });
    throw err;
  }
}

async function readFamily(services: ZoneServices, familyId: string): Promise<FamilyRecord> {
  const raw = await services.storage.get(familyKey(familyId));
  return raw ? (JSON.parse(raw) as FamilyRecord) : { revoked: false, tokens: [] };
}

async function writeFamily(services: ZoneServices, familyId: string, family: FamilyRecord, ttlMs: number): Promise<void> {
  await services.storage.set(familyKey(familyId), JSON.stringify(family), { ttlMs: Math.max(ttlMs, 0) + FAMILY_GRACE_MS });
}

/** The access tokens still alive, plus the new one. */
function withAccessToken(services: ZoneServices, family: FamilyRecord, accessToken: { jti: string; exp: number }): FamilyRecord['tokens'] {
  const now = Math.floor(services.now() / 1000);
  return [...family.tokens.filter((t) => t.exp > now), accessToken];
}

/**
 * Stores a new refresh token, the family's first (a login, a code, an assertion), and the access
 * token issued with it. Undefined if the family was revoked meanwhile (a replayed code): then the
 * access token is revoked too, and the caller must not hand either out.
 */
export async function issueRefreshToken(
  services: ZoneServices,
  record: RefreshRecord,
  accessToken: { jti: string; exp: number },
): Promise<string | undefined> {
  return lockedFamily(services, record.familyId, async (family) => {
    if (family.revoked) {
      await revokeTokens(services, [accessToken]);
      return undefined;
    }
    const token = randomBytes(32).toString('base64url');
    const h = hash(token);
    const ttlMs = record.expiresAt - services.now();
    await services.storage.set(tokenKey(h), JSON.stringify(record), { ttlMs });
    await writeFamily(services, record.familyId, { ...family, current: h, tokens: withAccessToken(services, family, accessToken) }, ttlMs);
    return token;
  });
}

/**
 * Adds an access token to its family, so that revoking the family revokes it: tokens of a client
 * without the refresh grant, and those a refresh answers with. False if the family was revoked
 * meanwhile; the access token is then revoked at once and must not be handed out.
 */
export async function rememberAccessToken(services: ZoneServices, familyId: string, accessToken: { jti: string; exp: number }, ttlMs: number): Promise<boolean> {
  return lockedFamily(services, familyId, async (family) => {
    if (family.revoked) {
      await revokeTokens(services, [accessToken]);
      return false;
    }
    await writeFamily(services, familyId, { ...family, tokens: withAccessToken(services, family, accessToken) }, ttlMs);
    return true;
  });
}

/** Reads a refresh token without using it up (to validate a request before rotating). */
export async function peekRefreshToken(services: ZoneServices, token: string): Promise<RefreshRecord | undefined> {
  const raw = await services.storage.get(tokenKey(hash(token)));
  return raw === undefined ? undefined : (JSON.parse(raw) as RefreshRecord);
}

/**
 * Uses a refresh token (RFC 6749 §6): rotates it, repeats the successor for a retry within the
 * grace window, or revokes the family (reuse; another client's token). The refresh token stays
 * bound to the client and zone it was issued to.
 */
export async function redeemRefreshToken(
  services: ZoneServices,
  token: string,
  options: {
    clientId: string;
    zoneId: string;
    /** The client's refresh-token validity: the successor is valid this long from now (as a login's token). */
    validityMs: number;
    /** How long after its rotation the previous token may be presented again (a retry); 0: never. */
    reuseGraceMs: number;
  },
): Promise<Redemption> {
  const h = hash(token);
  const familyId = await familyOf(services, h);
  if (familyId === undefined) return { kind: 'unknown' };
  const boundHere = (record: RefreshRecord) => record.clientId === options.clientId && record.zoneId === options.zoneId;

  return lockedFamily(services, familyId, async (family): Promise<Redemption> => {
    if (family.revoked) return { kind: 'reused' };
    if (family.current === h) {
      const raw = await services.storage.get(tokenKey(h));
      // Still the current token, but it expired since familyOf read it: unknown, as any expired token.
      if (raw === undefined) return { kind: 'unknown' };
      const record = JSON.parse(raw) as RefreshRecord;
      if (!boundHere(record)) {
        // A token stolen from another client: it is burnt, and so is its family.
        await revokeLocked(services, familyId, family);
        return { kind: 'foreign' };
      }
      const successor = await rotateLocked(services, family, token, { ...record, expiresAt: services.now() + options.validityMs }, options.reuseGraceMs);
      return { kind: 'rotated', ...successor };
    }

    const retry = await openRetry(services, token);
    if (retry && family.current === hash(retry.token) && services.now() - retry.rotatedAt <= options.reuseGraceMs) {
      const current = await services.storage.get(tokenKey(family.current));
      if (current !== undefined) {
        const record = JSON.parse(current) as RefreshRecord;
        if (!boundHere(record)) {
          await revokeLocked(services, familyId, family);
          return { kind: 'foreign' };
        }
        services.logger.info('refresh token retried within the grace window; current token repeated', { familyId });
        return { kind: 'retried', token: retry.token, record };
      }
    }
    await revokeLocked(services, familyId, family);
    services.logger.warn('refresh token reused; token family revoked', { familyId });
    return { kind: 'reused' };
  });
}

/** The family of a live or a rotated-out token. */
async function familyOf(services: ZoneServices, h: string): Promise<string | undefined> {
  const live = await services.storage.get(tokenKey(h));
  if (live !== undefined) return (JSON.parse(live) as RefreshRecord).familyId;
  return services.storage.get(usedKey(h));
}

/** Replaces the family's current token `token` by a new one with `nextRecord`'s grant. Under the family lock. */
async function rotateLocked(
  services: ZoneServices,
  family: FamilyRecord,
  token: string,
  nextRecord: RefreshRecord,
  reuseGraceMs: number,
): Promise<{ token: string; record: RefreshRecord }> {
  const { storage } = services;
  const h = hash(token);
  const next = randomBytes(32).toString('base64url');
  const nextHash = hash(next);
  const ttlMs = nextRecord.expiresAt - services.now();

  // The "used" marker first: from here on the old token can only be a retry or a reuse. It lives as
  // long as the family can, so a late reuse is still recognised.
  await storage.set(usedKey(h), nextRecord.familyId, { ttlMs: ttlMs + FAMILY_GRACE_MS });
  if (reuseGraceMs > 0) {
    const retry: RetryRecord = { sealed: seal(token, next), rotatedAt: services.now() };
    await storage.set(retryKey(h), JSON.stringify(retry), { ttlMs: reuseGraceMs });
  }
  await storage.set(tokenKey(nextHash), JSON.stringify(nextRecord), { ttlMs });
  await writeFamily(services, nextRecord.familyId, { ...family, current: nextHash }, ttlMs);
  await storage.delete(tokenKey(h));
  return { token: next, record: nextRecord };
}

/** Revokes a family: its current refresh token and every access token it issued. */
export async function revokeFamily(services: ZoneServices, familyId: string): Promise<void> {
  await lockedFamily(services, familyId, (family) => revokeLocked(services, familyId, family));
}

async function revokeLocked(services: ZoneServices, familyId: string, family: FamilyRecord): Promise<void> {
  if (family.current) await services.storage.delete(tokenKey(family.current));
  await revokeTokens(services, family.tokens);
  await writeFamily(services, familyId, { revoked: true, tokens: [] }, REVOKED_FAMILY_TTL_MS);
}

// ---- the sealed successor ------------------------------------------------------------------------

/**
 * AES-256-GCM under a key derived (HKDF-SHA256) from the rotated-out token: 256 random bits, so the
 * key is as strong as the token, and the store holds no key that opens it.
 */
function sealingKey(token: string): Buffer {
  return Buffer.from(hkdfSync('sha256', token, '', 'zonegate refresh-token successor', 32));
}

function seal(token: string, successor: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(token), iv);
  cipher.setAAD(Buffer.from(hash(token)));
  const body = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The successor and rotation time left for `token`, or undefined (no retry record, or it does not open). */
async function openRetry(services: ZoneServices, token: string): Promise<{ token: string; rotatedAt: number } | undefined> {
  const raw = await services.storage.get(retryKey(hash(token)));
  if (raw === undefined) return undefined;
  const retry = JSON.parse(raw) as RetryRecord;
  try {
    const data = Buffer.from(retry.sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(token), data.subarray(0, 12));
    decipher.setAAD(Buffer.from(hash(token)));
    decipher.setAuthTag(data.subarray(12, 28));
    const successor = Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]).toString('utf8');
    return { token: successor, rotatedAt: retry.rotatedAt };
  } catch {
    return undefined;
  }
}
