/**
 * grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer (RFC 7523 §2.1) as XSUAA does it: the
 * assertion is a user token of this same zone (any client's); the answer is a token for the calling
 * client with the user's scopes for it, and a refresh token.
 */
import type { Application } from '../../directory/types.js';
import type { ZoneContext } from '../context.js';
import { InvalidGrant, InvalidRequest, OAuthError } from '../errors.js';
import { single } from '../http.js';
import { newFamilyId } from '../refresh-tokens.js';
import { verifyZoneToken, type ZoneTokenClaims } from '../tokens.js';
import { issueForUser, type TokenResponse } from './issue.js';
import { JWT_BEARER } from './allowed.js';
import { narrowScopes } from './scope.js';

export async function jwtBearerGrant(ctx: ZoneContext, application: Application, form: URLSearchParams): Promise<TokenResponse> {
  const assertion = single(form, 'assertion');
  if (!assertion) throw new InvalidRequest('assertion is required');
  let claims: ZoneTokenClaims;
  try {
    claims = await verifyZoneToken(ctx, assertion);
  } catch (err) {
    // RFC 7523 §3.1: an assertion that does not verify is invalid_grant, not invalid_token.
    throw new InvalidGrant(err instanceof OAuthError ? err.message : 'Invalid assertion', { cause: err });
  }
  if (!claims.user_id) throw new InvalidGrant('The assertion is not a user token');
  const user = await ctx.services.directory.getUser(ctx.zone.id, claims.user_id);
  if (!user) throw new InvalidGrant('The user no longer exists');
  const scopes = narrowScopes(await ctx.services.directory.userScopes(application, user), form);
  const { response } = await issueForUser(ctx, {
    application,
    user,
    scopes,
    grantType: JWT_BEARER,
    authTime: claims.auth_time ?? claims.iat,
    familyId: newFamilyId(),
  });
  return response;
}
