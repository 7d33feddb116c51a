/**
 * GET /logout.do?redirect=&client_id= (UAA): ends the zone's SSO session, then redirects only to a URL
 * the named client registered (same matcher as /oauth/authorize), else shows the signed-out page: an
 * unchecked `redirect` would make the zone an open redirector.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientForZone } from './client-auth.js';
import type { ZoneContext } from './context.js';
import { redirect, sendHtml } from './http.js';
import { loggedOutPage } from './login-page.js';
import { clientRedirectPatterns, isAllowedRedirectUri } from './redirect-uri.js';
import { endSso } from './sso.js';

export async function handleLogout(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const clear = await endSso(ctx, req);
  const target = url.searchParams.get('redirect') ?? url.searchParams.get('post_logout_redirect_uri') ?? undefined;
  const application = await clientForZone(ctx, url.searchParams.get('client_id') ?? undefined);
  if (target && application && isAllowedRedirectUri(clientRedirectPatterns(application), target)) {
    redirect(res, target, { 'set-cookie': clear });
    return;
  }
  sendHtml(res, 200, loggedOutPage(ctx.zone), { 'set-cookie': clear });
}
