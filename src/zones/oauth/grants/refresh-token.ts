/**
 * grant_type=refresh_token (RFC 6749 §6) with rotation and reuse detection. Scopes are re-checked
 * against the user's current role collections, so removing a role takes effect at the next refresh.
 */
import type { Application } from '../../directory/types.js';
import type { ZoneContext } from '../context.js';
import { InvalidGrant, InvalidRequest } from '../errors.js';
import { single } from '../http.js';
import { consumeRefreshToken, peekRefreshToken, revokeFamily } from '../refresh-tokens.js';
import { issueForUser, type TokenResponse } from './issue.js';
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

  const rotation = await consumeRefreshToken(ctx.services, token);
  if (rotation.kind === 'reused') throw new InvalidGrant('The refresh token was already used; its token family is revoked');
  if (rotation.kind === 'unknown') throw new InvalidGrant('Invalid refresh token');
  const record = rotation.record;
  if (record.zoneId !== ctx.zone.id || record.clientId !== application.clientId) {
    // A token stolen from another client: it is burnt, and so is its family.
    await revokeFamily(ctx.services, record.familyId);
    throw new InvalidGrant('The refresh token was issued to another client');
  }
  const user = await ctx.services.directory.getUser(ctx.zone.id, record.userId);
  if (!user) throw new InvalidGrant('The user no longer exists');
  const current = await ctx.services.directory.userScopes(application, user);
  // RFC 6749 §6: the new refresh token keeps the old one's scope; only the access token is narrowed.
  const refreshScopes = record.scopes.filter((s) => current.includes(s));
  const { response } = await issueForUser(ctx, {
    application,
    user,
    scopes: narrowScopes(refreshScopes, form),
    refreshScopes,
    grantType: 'refresh_token',
    authTime: record.authTime,
    familyId: record.familyId,
    forceRefresh: true,
  });
  return response;
}
