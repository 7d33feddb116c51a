/**
 * Refresh tokens: opaque, stored by SHA-256, rotated on every use (RFC 9700 §4.14.2). All tokens
 * descending from one login form a family; presenting a rotated-out token again means it leaked,
 * so the whole family is revoked, including the access tokens it produced.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ZoneServices } from './context.js';
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

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
const tokenKey = (h: string) => `zrt:${h}`;
const usedKey = (h: string) => `zrt-used:${h}`;
const familyKey = (familyId: string) => `zrt-family:${familyId}`;
/** Families outlive their tokens by a day so late reuse is still recognised. */
const FAMILY_GRACE_MS = 24 * 3600 * 1000;

export function newFamilyId(): string {
  return randomBytes(16).toString('hex');
}

async function readFamily(services: ZoneServices, familyId: string): Promise<FamilyRecord> {
  const raw = await services.storage.get(familyKey(familyId));
  return raw ? (JSON.parse(raw) as FamilyRecord) : { revoked: false, tokens: [] };
}

async function writeFamily(services: ZoneServices, familyId: string, family: FamilyRecord, ttlMs: number): Promise<void> {
  await services.storage.set(familyKey(familyId), JSON.stringify(family), { ttlMs: ttlMs + FAMILY_GRACE_MS });
}

/** Stores a new refresh token of the family and the access token issued with it. */
export async function issueRefreshToken(
  services: ZoneServices,
  record: RefreshRecord,
  accessToken: { jti: string; exp: number },
): Promise<string | undefined> {
  const family = await readFamily(services, record.familyId);
  if (family.revoked) return undefined;
  const token = randomBytes(32).toString('base64url');
  const h = hash(token);
  const ttlMs = record.expiresAt - services.now();
  await services.storage.set(tokenKey(h), JSON.stringify(record), { ttlMs });
  const now = Math.floor(services.now() / 1000);
  family.current = h;
  family.tokens = [...family.tokens.filter((t) => t.exp > now), accessToken];
  await writeFamily(services, record.familyId, family, ttlMs);
  return token;
}

/** Adds an access token to a family that issues no refresh token (client without the refresh grant). */
export async function rememberAccessToken(services: ZoneServices, familyId: string, accessToken: { jti: string; exp: number }, ttlMs: number): Promise<void> {
  const family = await readFamily(services, familyId);
  family.tokens.push(accessToken);
  await writeFamily(services, familyId, family, ttlMs);
}

export type Rotation = { kind: 'ok'; record: RefreshRecord } | { kind: 'reused' } | { kind: 'unknown' };

/** Reads a refresh token without using it up (to validate a request before rotating). */
export async function peekRefreshToken(services: ZoneServices, token: string): Promise<RefreshRecord | undefined> {
  const raw = await services.storage.get(tokenKey(hash(token)));
  return raw === undefined ? undefined : (JSON.parse(raw) as RefreshRecord);
}

/** Consumes a refresh token; the caller issues its successor in the same family. */
export async function consumeRefreshToken(services: ZoneServices, token: string): Promise<Rotation> {
  const h = hash(token);
  const raw = await services.storage.take(tokenKey(h));
  if (raw === undefined) {
    const familyId = await services.storage.get(usedKey(h));
    if (familyId === undefined) return { kind: 'unknown' };
    await revokeFamily(services, familyId);
    services.logger.warn('refresh token reused; token family revoked', { familyId });
    return { kind: 'reused' };
  }
  const record = JSON.parse(raw) as RefreshRecord;
  await services.storage.set(usedKey(h), record.familyId, { ttlMs: Math.max(record.expiresAt - services.now(), 0) + FAMILY_GRACE_MS });
  const family = await readFamily(services, record.familyId);
  if (family.revoked) return { kind: 'reused' };
  return { kind: 'ok', record };
}

export async function revokeFamily(services: ZoneServices, familyId: string): Promise<void> {
  const family = await readFamily(services, familyId);
  if (family.current) await services.storage.delete(tokenKey(family.current));
  await revokeTokens(services, family.tokens);
  await writeFamily(services, familyId, { revoked: true, tokens: [] }, 30 * 24 * 3600 * 1000);
}
