/**
 * grant_type=refresh_token (RFC 6749 §6) with rotation, reuse detection and a grace window for a
 * client's retry (../refresh-tokens.ts). Scopes are re-checked against the user's current role
 * collections, so removing a role takes effect at the next refresh.
 */
import type { Application } from '../../directory/types.js';
import type { ZoneContext } from '../context.js';
import { InvalidGrant, InvalidRequest } from '../errors.js';
import { single } from '../http.js';
import { peekRefreshToken, redeemRefreshToken } from '../refresh-tokens.js';
import { issueForUser, refreshTokenValidityMs, type TokenResponse } from './issue.js';
import { narrowScopes } from './scope.js';

export async function refreshTokenGrant(ctx: ZoneContext, application: Application, form: URLSearchParams): Promise<TokenResponse> {
  const token = single(form, 'refresh_token');
  if (!token) throw new InvalidRequest('refresh_token is required');
  // SAP's clients send `app_tid=` empty when they have no tenant; only a different tenant is an error.
  const appTid = single(form, 'app_tid');
  if (appTid !== undefined && appTid !== '' && appTid !== ctx.zone.id) throw new InvalidGrant('app_tid does not match the zone');

  // A request the token cannot satisfy (scope too wide) is refused before rotation, so a client's
  // mistake does not cost the user the session.
  const peeked = await peekRefreshToken(ctx.services, token);
  if (peeked && peeked.clientId === application.clientId && peeked.zoneId === ctx.zone.id) narrowScopes(peeked.scopes, form);

  const redemption = await redeemRefreshToken(ctx.services, token, {
    clientId: application.clientId,
    zoneId: ctx.zone.id,
    validityMs: refreshTokenValidityMs(application),
    reuseGraceMs: ctx.services.refreshTokenReuseMs,
  });
  if (redemption.kind === 'reused') throw new InvalidGrant('The refresh token was already used; its token family is revoked');
  if (redemption.kind === 'foreign') throw new InvalidGrant('The refresh token was issued to another client');
  if (redemption.kind === 'unknown') throw new InvalidGrant('Invalid refresh token');
  const record = redemption.record;
  const user = await ctx.services.directory.getUser(ctx.zone.id, record.userId);
  if (!user) throw new InvalidGrant('The user no longer exists');
  // RFC 6749 §6: the refresh token keeps the scope of the original grant; the access token gets the
  // part the user still holds, narrowed further by a `scope` parameter.
  const current = await ctx.services.directory.userScopes(application, user);
  const { response } = await issueForUser(ctx, {
    application,
    user,
    scopes: narrowScopes(record.scopes.filter((s) => current.includes(s)), form),
    grantType: 'refresh_token',
    authTime: record.authTime,
    familyId: record.familyId,
    refreshToken: redemption.token,
  });
  return response;
}
