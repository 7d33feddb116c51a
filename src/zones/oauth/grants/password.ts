/**
 * grant_type=password (RFC 6749 §4.3), only for clients whose grant types list it (the caller checks),
 * and throttled like the login form: it is the same password guessing surface.
 */
import type { Application } from '../../directory/types.js';
import type { ZoneContext } from '../context.js';
import { InvalidGrant, InvalidRequest } from '../errors.js';
import { single } from '../http.js';
import { newFamilyId } from '../refresh-tokens.js';
import { admitAttempt } from '../throttle.js';
import { issueForUser, type TokenResponse } from './issue.js';
import { narrowScopes } from './scope.js';

const LOCKED = 'Too many failed attempts; try again later';

export async function passwordGrant(ctx: ZoneContext, application: Application, form: URLSearchParams): Promise<TokenResponse> {
  const userName = single(form, 'username');
  const password = single(form, 'password');
  if (!userName || !password) throw new InvalidRequest('username and password are required');
  // Reserved before the password is checked, so a parallel burst cannot outrun the lock (throttle.ts).
  const admission = await admitAttempt(ctx, userName);
  if (!admission.admitted) {
    ctx.services.metrics?.passwordLogin('password_grant', 'locked');
    throw new InvalidGrant(LOCKED);
  }
  const { attempt } = admission;
  if (attempt.delayMs > 0) await new Promise((r) => setTimeout(r, attempt.delayMs));
  const user = await ctx.services.directory.verifyPassword(ctx.zone.id, userName, password);
  if (!user) {
    const after = await attempt.failed();
    ctx.services.metrics?.passwordLogin('password_grant', 'failed');
    throw new InvalidGrant(after.locked ? LOCKED : 'Bad credentials');
  }
  await attempt.succeeded();
  ctx.services.metrics?.passwordLogin('password_grant', 'succeeded');
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
