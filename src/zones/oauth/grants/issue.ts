/**
 * The token endpoint's answer for a user (REFERENCE.md §2): access token, id token when `openid`
 * was granted, a refresh token in the login's family when the client may refresh.
 */
import type { Application, User } from '../../directory/types.js';
import type { ZoneContext } from '../context.js';
import { issueRefreshToken, rememberAccessToken } from '../refresh-tokens.js';
import { issueIdToken, issueUserAccessToken, type GrantType, type IssuedToken } from '../tokens.js';
import { grantAllowed, JWT_BEARER } from './allowed.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  id_token?: string;
  refresh_token?: string;
  expires_in: number;
  /** Space-separated in the response, although the JWT's `scope` claim is an array. */
  scope: string;
  jti: string;
}

export function tokenResponse(ctx: ZoneContext, access: IssuedToken, extra: { idToken?: string; refreshToken?: string } = {}): TokenResponse {
  return {
    access_token: access.jwt,
    token_type: 'bearer',
    ...(extra.idToken !== undefined ? { id_token: extra.idToken } : {}),
    ...(extra.refreshToken !== undefined ? { refresh_token: extra.refreshToken } : {}),
    expires_in: Math.max(access.exp - Math.floor(ctx.services.now() / 1000), 0),
    scope: access.scopes.join(' '),
    jti: access.jti,
  };
}

export async function issueForUser(
  ctx: ZoneContext,
  input: {
    application: Application;
    user: User;
    scopes: string[];
    grantType: GrantType;
    authTime: number;
    familyId: string;
    nonce?: string;
    /** jwt-bearer answers include a refresh token whatever the client's grant list says (XSUAA does). */
    forceRefresh?: boolean;
    /** Scope of the refresh token when it differs from the access token's (a narrowed refresh). */
    refreshScopes?: string[];
  },
): Promise<{ response: TokenResponse; access: IssuedToken }> {
  const { application, user } = input;
  const access = await issueUserAccessToken(ctx, input);
  const idToken = input.scopes.includes('openid')
    ? await issueIdToken(ctx, { application, user, authTime: input.authTime, ...(input.nonce !== undefined ? { nonce: input.nonce } : {}) })
    : undefined;
  const refreshValidityMs = (application.refreshTokenValiditySeconds || 2592000) * 1000;
  let refreshToken: string | undefined;
  if (input.forceRefresh || input.grantType === JWT_BEARER || grantAllowed(application, 'refresh_token')) {
    refreshToken = await issueRefreshToken(
      ctx.services,
      {
        familyId: input.familyId,
        zoneId: ctx.zone.id,
        clientId: application.clientId,
        userId: user.id,
        scopes: input.refreshScopes ?? input.scopes,
        authTime: input.authTime,
        expiresAt: ctx.services.now() + refreshValidityMs,
      },
      { jti: access.jti, exp: access.exp },
    );
  } else {
    await rememberAccessToken(ctx.services, input.familyId, { jti: access.jti, exp: access.exp }, refreshValidityMs);
  }
  return {
    response: tokenResponse(ctx, access, {
      ...(idToken !== undefined ? { idToken } : {}),
      ...(refreshToken !== undefined ? { refreshToken } : {}),
    }),
    access,
  };
}
