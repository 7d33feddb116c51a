/**
 * grant_type=password (RFC 6749 §4.3), only for clients whose grant types list it (the caller checks),
 * and throttled like the login form: it is the same password guessing surface.
 */
import type { Application } from '../../directory/types.js';
import type { ZoneContext } from '../context.js';
import { InvalidGrant, InvalidRequest } from '../errors.js';
import { single } from '../http.js';
import { newFamilyId } from '../refresh-tokens.js';
import { checkThrottle, recordFailure, recordSuccess } from '../throttle.js';
import { issueForUser, type TokenResponse } from './issue.js';
import { narrowScopes } from './scope.js';

export async function passwordGrant(ctx: ZoneContext, application: Application, form: URLSearchParams): Promise<TokenResponse> {
  const userName = single(form, 'username');
  const password = single(form, 'password');
  if (!userName || !password) throw new InvalidRequest('username and password are required');
  const verdict = await checkThrottle(ctx, userName);
  if (verdict.locked) throw new InvalidGrant('Too many failed attempts; try again later');
  if (verdict.delayMs > 0) await new Promise((r) => setTimeout(r, verdict.delayMs));
  const user = await ctx.services.directory.verifyPassword(ctx.zone.id, userName, password);
  if (!user) {
    await recordFailure(ctx, userName);
    throw new InvalidGrant('Bad credentials');
  }
  await recordSuccess(ctx, userName);
  const scopes = narrowScopes(await ctx.services.directory.userScopes(application, user), form);
  const { response } = await issueForUser(ctx, {
    application,
    user,
    scopes,
    grantType: 'password',
    authTime: Math.floor(ctx.services.now() / 1000),
    familyId: newFamilyId(),
  });
  return response;
}
