/**
 * Authorization codes (RFC 6749 §4.1.2, §10.5): opaque, single-use, short-lived, bound to the zone,
 * client, redirect URI, PKCE challenge and nonce. Stored by their SHA-256 only, so a storage dump
 * yields no redeemable code. Redemption is an atomic `take`; a second redemption finds the "used"
 * marker, and §4.1.2 says the server should then revoke the tokens issued from that code.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ZoneContext } from './context.js';
import { revokeTokens } from './tokens.js';
import { revokeFamily } from './refresh-tokens.js';

export interface CodeRecord {
  zoneId: string;
  clientId: string;
  /** The redirect_uri of the authorization request, if it carried one (§4.1.3 then requires it again). */
  redirectUri?: string;
  userId: string;
  scopes: string[];
  authTime: number;
  nonce?: string;
  codeChallenge?: string;
}

interface UsedMarker {
  familyId: string;
  tokens: { jti: string; exp: number }[];
}

const hash = (code: string) => createHash('sha256').update(code).digest('base64url');
const codeKey = (code: string) => `zcode:${hash(code)}`;
const usedKey = (code: string) => `zcode-used:${hash(code)}`;

export async function issueCode(ctx: ZoneContext, record: CodeRecord): Promise<string> {
  const code = randomBytes(32).toString('base64url');
  await ctx.services.storage.set(codeKey(code), JSON.stringify(record), { ttlMs: ctx.services.codeTtlMs });
  return code;
}

export type Redemption = { kind: 'ok'; record: CodeRecord; familyId: string } | { kind: 'replayed' } | { kind: 'unknown' };

/**
 * Takes the code. The "used" marker is written before any token is minted, naming the refresh-token
 * family the tokens will belong to, so a replay racing the first redemption still revokes them.
 */
export async function redeemCode(ctx: ZoneContext, code: string, familyId: string): Promise<Redemption> {
  const { storage, maxTokenValiditySeconds } = ctx.services;
  const raw = await storage.take(codeKey(code));
  if (raw === undefined) {
    const used = await storage.get(usedKey(code));
    if (used === undefined) return { kind: 'unknown' };
    const marker = JSON.parse(used) as UsedMarker;
    await revokeFamily(ctx.services, marker.familyId);
    await revokeTokens(ctx.services, marker.tokens);
    ctx.services.logger.warn('authorization code replayed; tokens issued from it revoked', { zoneId: ctx.zone.id });
    return { kind: 'replayed' };
  }
  const marker: UsedMarker = { familyId, tokens: [] };
  await storage.set(usedKey(code), JSON.stringify(marker), { ttlMs: (maxTokenValiditySeconds + 60) * 1000 });
  return { kind: 'ok', record: JSON.parse(raw) as CodeRecord, familyId };
}

export async function recordTokensOfCode(ctx: ZoneContext, code: string, familyId: string, tokens: { jti: string; exp: number }[]): Promise<void> {
  const marker: UsedMarker = { familyId, tokens };
  await ctx.services.storage.set(usedKey(code), JSON.stringify(marker), { ttlMs: (ctx.services.maxTokenValiditySeconds + 60) * 1000 });
}
