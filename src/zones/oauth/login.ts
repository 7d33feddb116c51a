/**
 * POST /login.do: the zone's login form. The form only works with the pending authorization it was
 * rendered for, in the browser that opened it, with its CSRF token (login CSRF, RFC 6749 §10.12).
 * Attempts are throttled per (user name, address) and per address, and slowed per user name
 * (throttle.ts); every failure shows the same text whether or not the user exists.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { completeAuthorization, endFormBinding, readPendingAuthorization, takePendingAuthorization } from './authorize.js';
import type { ZoneContext } from './context.js';
import { GatewayError } from '../../errors.js';
import { readForm, sendErrorPage, zoneErrorPage } from './http.js';
import { displayName, loginPage } from './login-page.js';
import { startSso } from './sso.js';
import { admitAttempt } from './throttle.js';

const BAD_CREDENTIALS = 'The user name or password is incorrect.';

export function lockedMessage(retryAfterSeconds: number): string {
  const minutes = Math.max(1, Math.ceil(retryAfterSeconds / 60));
  return `Too many failed sign-in attempts. Sign-in is locked; try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}

export async function handleLogin(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  const id = form.get('auth_request') ?? '';
  const csrf = form.get('X-Uaa-Csrf') ?? '';
  const userName = (form.get('username') ?? '').trim();
  const password = form.get('password') ?? '';
  const pending = await readPendingAuthorization(ctx, req, id, csrf);
  if (!pending) {
    sendErrorPage(res, new GatewayError('ZG_ERR_FORM_EXPIRED', 'This sign-in form has expired or was not opened in this browser.'), zoneErrorPage(ctx.zone, 'Sign-in expired'));
    return;
  }
  // The form again, with why: a wrong password is the zone's ZG_ERR_LOGIN_FAILED, a lock ZG_ERR_TOO_MANY_ATTEMPTS.
  // The application is looked up only for the form shown again: the pending authorization keeps its client id alone.
  const again = async (status: number, message: string) => {
    const application = await ctx.services.directory.getApplicationByClientId(pending.clientId);
    const appName = application ? displayName(application) : 'the application';
    sendErrorPage(res, new GatewayError(status === 429 ? 'ZG_ERR_TOO_MANY_ATTEMPTS' : 'ZG_ERR_LOGIN_FAILED', message, { status }), (shown) =>
      loginPage(ctx.zone, { authRequestId: id, csrf, appName, userName, message: shown, ...(pending.accountName ? { accountName: pending.accountName } : {}) }),
    );
  };

  if (!userName || !password) {
    await again(400, BAD_CREDENTIALS);
    return;
  }
  // Reserved before the password is checked, so a parallel burst cannot outrun the lock (throttle.ts).
  const admission = await admitAttempt(ctx, userName);
  if (!admission.admitted) {
    ctx.services.logger.warn('zone login refused: throttled', { zoneId: ctx.zone.id, clientIp: ctx.clientIp });
    ctx.services.metrics?.passwordLogin('form', 'locked');
    await again(429, lockedMessage(admission.retryAfterSeconds));
    return;
  }
  const { attempt } = admission;
  if (attempt.delayMs > 0) await new Promise((r) => setTimeout(r, attempt.delayMs));

  let user: { id: string } | undefined;
  if (pending.passwordOrigin !== undefined) {
    // Issue 13: the tenant's user backend decides (src/zones/idp/password-login.ts). Cannot decide:
    // 503, and the attempt is given back (throttle.ts: undecided).
    const checked = await ctx.services.identityProviders!.checkPassword(ctx, pending.passwordOrigin, userName, password);
    if (checked.kind === 'unavailable') {
      await attempt.undecided();
      sendErrorPage(res, new GatewayError('ZG_ERR_IDP_UNAVAILABLE', `The sign-in service "${checked.name}" cannot be reached. Try again later.`, { expose: true }), zoneErrorPage(ctx.zone, 'Sign-in unavailable'));
      return;
    }
    user = checked.kind === 'valid' ? { id: checked.userId } : undefined;
  } else {
    user = await ctx.services.directory.verifyPassword(ctx.zone.id, userName, password);
  }
  if (!user) {
    // No user name in the log line: a mistyped password often sits in that field.
    ctx.services.logger.info('zone login failed', { zoneId: ctx.zone.id, clientIp: ctx.clientIp, clientId: pending.clientId });
    const after = await attempt.failed();
    ctx.services.metrics?.passwordLogin('form', 'failed');
    await again(after.locked ? 429 : 401, after.locked ? lockedMessage(after.retryAfterSeconds) : BAD_CREDENTIALS);
    return;
  }
  await attempt.succeeded();
  ctx.services.metrics?.passwordLogin('form', 'succeeded');
  if (!(await takePendingAuthorization(ctx, id))) {
    sendErrorPage(res, new GatewayError('ZG_ERR_FORM_EXPIRED', 'This sign-in form was already used.'), zoneErrorPage(ctx.zone, 'Sign-in expired'), {
      'set-cookie': endFormBinding(ctx, id),
    });
    return;
  }
  const authTime = Math.floor(ctx.services.now() / 1000);
  const setCookie = await startSso(ctx, { zoneId: ctx.zone.id, userId: user.id, authTime });
  ctx.services.logger.info('zone login', { zoneId: ctx.zone.id, userId: user.id, clientId: pending.clientId });
  await completeAuthorization(ctx, res, pending, { userId: user.id, authTime }, { 'set-cookie': [setCookie, endFormBinding(ctx, id)] });
}
