/**
 * GET /logout.do?redirect=&client_id= (UAA): ends the zone's SSO session, then redirects only to a URL
 * the named client registered (same matcher as /oauth/authorize), else shows the signed-out page: an
 * unchecked `redirect` would make the zone an open redirector. A session that came from an external
 * IdP is ended there too, where the IdP offers it (issue 13, ../idp/logout.ts); the IdP then returns
 * the browser to the zone, which finishes here as it would have without the detour.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientForZone } from './client-auth.js';
import type { ZoneContext } from './context.js';
import { redirect, sendHtml } from './http.js';
import { loggedOutPage } from './login-page.js';
import { clientRedirectPatterns, isAllowedRedirectUri } from './redirect-uri.js';
import { endSso } from './sso.js';

export async function handleLogout(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const { clear, upstream } = await endSso(ctx, req);
  const requested = url.searchParams.get('redirect') ?? url.searchParams.get('post_logout_redirect_uri') ?? undefined;
  const application = await clientForZone(ctx, url.searchParams.get('client_id') ?? undefined);
  const target = requested && application && isAllowedRedirectUri(clientRedirectPatterns(application), requested) ? requested : undefined;
  if (upstream && (await ctx.services.identityProviders?.startLogout(ctx, res, upstream, target, { 'set-cookie': clear }))) return;
  finishLogout(ctx, res, target, { 'set-cookie': clear });
}

/** Where every logout ends: the checked `redirect`, else the zone's signed-out page. */
export function finishLogout(ctx: ZoneContext, res: ServerResponse, target: string | undefined, headers: Record<string, string | string[]> = {}): void {
  if (target) redirect(res, target, headers);
  else sendHtml(res, 200, loggedOutPage(ctx.zone), headers);
}
