/**
 * XSUAA's tokens (REFERENCE.md §2): RS256 JWTs whose header carries `kid` and `jku`, with XSUAA's
 * claim set, signed with the zone's own key; and their verification for the zone's own endpoints
 * (userinfo, introspect, jwt-bearer, the admin API).
 */
import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Application, User } from '../directory/types.js';
import type { ZoneContext, ZoneServices } from './context.js';
import { InvalidToken } from './errors.js';

export type GrantType =
  | 'authorization_code'
  | 'refresh_token'
  | 'client_credentials'
  | 'password'
  | 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface ZoneTokenClaims extends JWTPayload {
  jti: string;
  iss: string;
  iat: number;
  exp: number;
  zid: string;
  cid: string;
  client_id: string;
  azp: string;
  scope: string[];
  grant_type: string;
  sub: string;
  ext_attr: { enhancer: 'XSUAA'; subaccountid: string; zdn: string };
  user_id?: string;
  user_name?: string;
  origin?: string;
  email?: string;
  given_name?: string;
  family_name?: string;
  auth_time?: number;
  authorities?: string[];
  'xs.user.attributes'?: Record<string, string[]>;
  'xs.system.attributes'?: { 'xs.rolecollections': string[] };
}

export interface IssuedToken {
  jwt: string;
  jti: string;
  exp: number;
  scopes: string[];
}

/**
 * UAA's audience rule: the client id plus every scope's part before its first `.` (the whole scope if
 * none). `also`: further audiences first (a further client's tokens name its application's instance,
 * issue 14, so the application's gateway and @sap/xssec accept them whatever scopes they carry).
 */
export function audienceFor(clientId: string, scopes: readonly string[], also: readonly string[] = []): string[] {
  const aud = new Set<string>([clientId, ...also]);
  for (const scope of scopes) {
    const dot = scope.indexOf('.');
    aud.add(dot === -1 ? scope : scope.slice(0, dot));
  }
  return [...aud];
}

export function newJti(): string {
  return randomBytes(16).toString('hex');
}

async function sign(ctx: ZoneContext, claims: JWTPayload): Promise<string> {
  const key = await ctx.services.keys.signingKey(ctx.zone.id);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT', jku: `${ctx.baseUrl}/token_keys` })
    .sign(key.privateKey);
}

function validityOf(ctx: ZoneContext, application: Application): number {
  return Math.min(application.tokenValiditySeconds || 43200, ctx.services.maxTokenValiditySeconds);
}

function zoneClaims(ctx: ZoneContext, application: Application, scopes: string[], grantType: GrantType) {
  const iat = Math.floor(ctx.services.now() / 1000);
  return {
    jti: newJti(),
    iss: ctx.issuer,
    iat,
    exp: iat + validityOf(ctx, application),
    zid: ctx.zone.id,
    ext_attr: { enhancer: 'XSUAA' as const, subaccountid: ctx.zone.id, zdn: ctx.zone.subdomain },
    cid: application.clientId,
    client_id: application.clientId,
    azp: application.clientId,
    aud: audienceFor(application.clientId, scopes, application.client ? [application.instanceName] : []),
    scope: scopes,
    grant_type: grantType,
  };
}

export async function issueUserAccessToken(
  ctx: ZoneContext,
  input: { application: Application; user: User; scopes: string[]; grantType: GrantType; authTime: number },
): Promise<IssuedToken> {
  const { application, user, scopes } = input;
  const claims: ZoneTokenClaims = {
    ...zoneClaims(ctx, application, scopes, input.grantType),
    auth_time: input.authTime,
    sub: user.id,
    user_id: user.id,
    user_name: user.userName,
    origin: user.origin,
    email: user.email,
    ...(user.givenName !== undefined ? { given_name: user.givenName } : {}),
    ...(user.familyName !== undefined ? { family_name: user.familyName } : {}),
    // The attributes of the user's roles for this client (ZoneDirectory.userAttributes), as XSUAA puts
    // them here: xssec's getAttribute() and CAP's req.user.attr read this claim.
    'xs.user.attributes': await ctx.services.directory.userAttributes(application, user),
    'xs.system.attributes': { 'xs.rolecollections': [...user.roleCollections] },
  };
  return { jwt: await sign(ctx, claims), jti: claims.jti, exp: claims.exp, scopes };
}

/**
 * Client-credentials tokens: no user claims; `sub` is the client; `authorities` = `scope` (REFERENCE.md §2).
 * `scopes` are what the directory grants the client (ZoneDirectory.clientAuthorities), possibly narrowed.
 */
export async function issueClientToken(ctx: ZoneContext, application: Application, scopes: string[]): Promise<IssuedToken> {
  const claims: ZoneTokenClaims = {
    ...zoneClaims(ctx, application, scopes, 'client_credentials'),
    sub: application.clientId,
    authorities: scopes,
  };
  return { jwt: await sign(ctx, claims), jti: claims.jti, exp: claims.exp, scopes };
}

/** OpenID Connect Core §2: `aud` is the client alone, `nonce` echoed when the request had one. */
export async function issueIdToken(
  ctx: ZoneContext,
  input: { application: Application; user: User; authTime: number; nonce?: string },
): Promise<string> {
  const { application, user } = input;
  const iat = Math.floor(ctx.services.now() / 1000);
  const claims: JWTPayload = {
    jti: newJti(),
    iss: ctx.issuer,
    sub: user.id,
    aud: [application.clientId],
    azp: application.clientId,
    cid: application.clientId,
    iat,
    exp: iat + validityOf(ctx, application),
    auth_time: input.authTime,
    amr: ['pwd'],
    zid: ctx.zone.id,
    origin: user.origin,
    user_id: user.id,
    user_name: user.userName,
    email: user.email,
    ...(user.givenName !== undefined ? { given_name: user.givenName } : {}),
    ...(user.familyName !== undefined ? { family_name: user.familyName } : {}),
    ...(input.nonce !== undefined ? { nonce: input.nonce } : {}),
  };
  return sign(ctx, claims);
}

const revokedKey = (jti: string) => `zrevoked:${jti}`;

/** Marks access tokens revoked until they would have expired anyway. */
export async function revokeTokens(services: ZoneServices, tokens: readonly { jti: string; exp: number }[]): Promise<void> {
  for (const t of tokens) {
    const ttlMs = t.exp * 1000 - services.now() + 60_000;
    if (ttlMs > 0) await services.storage.set(revokedKey(t.jti), '1', { ttlMs });
  }
}

/**
 * Verifies a token of this zone: RS256 only (no `none`, no HMAC keyed with the public key), a `kid`
 * this zone publishes, our issuer, this zone's `zid`, not expired, not revoked. Every failure is the
 * same `invalid_token` to the caller; the reason is in the message for the log.
 */
export async function verifyZoneToken(ctx: ZoneContext, jwt: string): Promise<ZoneTokenClaims> {
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(jwt);
    if (header.alg !== 'RS256') throw new InvalidToken(`Unsupported token algorithm`);
    kid = header.kid;
  } catch (err) {
    if (err instanceof InvalidToken) throw err;
    throw new InvalidToken('The token is malformed', { cause: err });
  }
  if (!kid) throw new InvalidToken('The token has no key id');
  const key = await ctx.services.keys.verificationKey(ctx.zone.id, kid);
  if (!key) throw new InvalidToken('The token was not signed by this zone');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(jwt, key, {
      algorithms: ['RS256'],
      issuer: ctx.issuer,
      requiredClaims: ['exp', 'iat', 'jti', 'zid'],
      currentDate: new Date(ctx.services.now()),
    }));
  } catch (err) {
    const reason = err instanceof joseErrors.JWTExpired ? 'The token has expired' : 'The token is invalid';
    throw new InvalidToken(reason, { cause: err });
  }
  const claims = payload as ZoneTokenClaims;
  if (claims.zid !== ctx.zone.id) throw new InvalidToken('The token belongs to another zone');
  if (!Array.isArray(claims.scope)) throw new InvalidToken('The token is not an access token');
  if ((await ctx.services.storage.get(revokedKey(claims.jti))) !== undefined) throw new InvalidToken('The token has been revoked');
  return claims;
}
