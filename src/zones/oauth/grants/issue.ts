/**
 * The token endpoint's answer for a user (REFERENCE.md §2): access token, id token when `openid`
 * was granted, a refresh token in the login's family when the client may refresh.
 */
import type { Application, User } from '../../directory/types.js';
import type { ZoneContext } from '../context.js';
import { InvalidGrant } from '../errors.js';
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

/** The client's refresh-token validity (xs-security.json `refresh-token-validity`), ms. */
export function refreshTokenValidityMs(application: Application): number {
  return (application.refreshTokenValiditySeconds || 2592000) * 1000;
}

/**
 * The grant was revoked while its tokens were being issued (its code replayed, its refresh token
 * reused): the tokens just made are revoked with it and are not handed out.
 */
function revoked(): InvalidGrant {
  return new InvalidGrant('The grant was revoked while the tokens were issued');
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
    /**
     * The refresh grant's answer: the refresh token it rotated to (or, for a retry, the one the first
     * attempt rotated to), already stored. The answer carries it instead of a new one.
     */
    refreshToken?: string;
  },
): Promise<{ response: TokenResponse; access: IssuedToken }> {
  const { application, user } = input;
  const access = await issueUserAccessToken(ctx, input);
  const idToken = input.scopes.includes('openid')
    ? await issueIdToken(ctx, { application, user, authTime: input.authTime, ...(input.nonce !== undefined ? { nonce: input.nonce } : {}) })
    : undefined;
  const refreshValidityMs = refreshTokenValidityMs(application);
  const accessRef = { jti: access.jti, exp: access.exp };
  let refreshToken: string | undefined;
  if (input.refreshToken !== undefined) {
    refreshToken = input.refreshToken;
    if (!(await rememberAccessToken(ctx.services, input.familyId, accessRef, refreshValidityMs))) throw revoked();
  } else if (input.grantType === JWT_BEARER || grantAllowed(application, 'refresh_token')) {
    // jwt-bearer answers include a refresh token whatever the client's grant list says (XSUAA does).
    refreshToken = await issueRefreshToken(
      ctx.services,
      {
        familyId: input.familyId,
        zoneId: ctx.zone.id,
        clientId: application.clientId,
        userId: user.id,
        scopes: input.scopes,
        authTime: input.authTime,
        expiresAt: ctx.services.now() + refreshValidityMs,
      },
      accessRef,
    );
    if (refreshToken === undefined) throw revoked();
  } else if (!(await rememberAccessToken(ctx.services, input.familyId, accessRef, refreshValidityMs))) {
    throw revoked();
  }
  return {
    response: tokenResponse(ctx, access, {
      ...(idToken !== undefined ? { idToken } : {}),
      ...(refreshToken !== undefined ? { refreshToken } : {}),
    }),
    access,
  };
}
