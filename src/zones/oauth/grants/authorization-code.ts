/**
 * grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.6). The code is taken first (single use,
 * even when a check below fails: a code that was attacked is burnt), then checked against everything it
 * was bound to: zone, client, redirect URI, PKCE challenge.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Application } from '../../directory/types.js';
import { recordTokensOfCode, redeemCode } from '../codes.js';
import type { ZoneContext } from '../context.js';
import { InvalidGrant, InvalidRequest } from '../errors.js';
import { single } from '../http.js';
import { newFamilyId } from '../refresh-tokens.js';
import { issueForUser, type TokenResponse } from './issue.js';

const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export async function authorizationCodeGrant(ctx: ZoneContext, application: Application, form: URLSearchParams): Promise<TokenResponse> {
  const code = single(form, 'code');
  if (!code) throw new InvalidRequest('code is required');
  const verifier = single(form, 'code_verifier');
  const redirectUri = single(form, 'redirect_uri');

  const familyId = newFamilyId();
  const redemption = await redeemCode(ctx, code, familyId);
  if (redemption.kind === 'replayed') throw new InvalidGrant('The authorization code was already used');
  if (redemption.kind === 'unknown') throw new InvalidGrant('Invalid authorization code');
  const record = redemption.record;

  if (record.zoneId !== ctx.zone.id || record.clientId !== application.clientId) {
    throw new InvalidGrant('The authorization code was issued to another client');
  }
  // §4.1.3: identical to the authorization request's, when that one carried a redirect_uri.
  if (record.redirectUri !== undefined && redirectUri !== record.redirectUri) {
    throw new InvalidGrant('redirect_uri does not match the authorization request');
  }
  if (record.codeChallenge !== undefined) {
    if (!verifier || !VERIFIER.test(verifier)) throw new InvalidGrant('code_verifier is required');
    const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
    const expected = Buffer.from(record.codeChallenge);
    if (computed.length !== expected.length || !timingSafeEqual(computed, expected)) {
      throw new InvalidGrant('code_verifier does not match the code challenge');
    }
  } else if (application.client?.pkceOnly) {
    // authorize.ts refuses such a request already; a code without a challenge is never this client's.
    throw new InvalidGrant('The client must use PKCE');
  } else if (verifier !== undefined) {
    // RFC 9700 §2.1.1: a verifier for a code issued without a challenge signals a downgrade attempt.
    throw new InvalidGrant('The authorization request had no code_challenge');
  }

  const user = await ctx.services.directory.getUser(ctx.zone.id, record.userId);
  if (!user) throw new InvalidGrant('The user no longer exists');
  const { response, access } = await issueForUser(ctx, {
    application,
    user,
    scopes: record.scopes,
    grantType: 'authorization_code',
    authTime: record.authTime,
    familyId,
    ...(record.nonce !== undefined ? { nonce: record.nonce } : {}),
  });
  await recordTokensOfCode(ctx, code, familyId, [{ jti: access.jti, exp: access.exp }]);
  return response;
}
