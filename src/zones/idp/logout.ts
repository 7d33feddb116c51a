/**
 * Logout at the IdP a zone session came from (issue 13). /logout.do ends the zone's own session
 * first (../oauth/logout.ts), then hands the IdP login behind it to `startIdpLogout`:
 *
 * - OpenID Connect RP-Initiated Logout 1.0: when the IdP's discovery document names an
 *   `end_session_endpoint` (and the provider's `config.logout` is not false), the browser goes there
 *   with `id_token_hint` (the ID token of that login, §2), `client_id`, `post_logout_redirect_uri`
 *   (`<zone>/logout/callback/<origin>`, which the IdP must have registered, §3) and a `state` of the
 *   zone's; the IdP sends the browser back there with the state (§3), and the zone ends the logout
 *   where it would have ended without the detour.
 *
 * The state is random, in storage under its hash scoped to zone and origin, and single use (an atomic
 * `take`): it carries the logout's target, already checked against the client's redirect URIs. A
 * forged or replayed state, or one of another zone or IdP, ends on an error page, never at a target
 * from the query (the zone would otherwise be an open redirector).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors.js';
import type { ZoneContext } from '../oauth/context.js';
import { redirect, sendErrorPage, zoneErrorPage } from '../oauth/http.js';
import { finishLogout } from '../oauth/logout.js';
import type { UpstreamSession } from '../oauth/sso.js';
import { client, IdpUnavailable } from './relying-party.js';
import type { OidcIdentityProvider } from './types.js';

export const LOGOUT_CALLBACK_PREFIX = '/logout/callback/';

interface PendingLogout {
  /** Where the logout ends: the `redirect` /logout.do checked, or the signed-out page. */
  target?: string;
}

const stateKey = (ctx: ZoneContext, originKey: string, state: string) =>
  `zidplogout:${createHash('sha256').update(`${ctx.zone.id}\u0000${originKey}\u0000${state}`).digest('base64url')}`;

/** The zone's post-logout redirect URI for this IdP (to be registered at the IdP). */
export function postLogoutUrl(ctx: ZoneContext, originKey: string): string {
  return `${ctx.baseUrl}${LOGOUT_CALLBACK_PREFIX}${encodeURIComponent(originKey)}`;
}

/** After the zone's session ended: to the IdP's logout, if it offers one; false leaves the logout as before. */
export async function startIdpLogout(ctx: ZoneContext, res: ServerResponse, upstream: UpstreamSession, target: string | undefined, headers: Record<string, string | string[]>): Promise<boolean> {
  const idps = ctx.services.identityProviders;
  const idp = idps && (await idps.store.get(ctx.zone.id, upstream.idpId));
  // A provider deleted, deactivated or replaced under the same id since the login: nothing to end there.
  if (!idp || !idp.active || idp.originKey !== upstream.originKey) return false;
  if (upstream.protocol === 'oidc' && idp.type === 'oidc1.0') return startOidcLogout(ctx, res, idp, upstream.idToken, target, headers);
  return false;
}

async function startOidcLogout(ctx: ZoneContext, res: ServerResponse, idp: OidcIdentityProvider, idToken: string, target: string | undefined, headers: Record<string, string | string[]>): Promise<boolean> {
  if (idp.config.logout === false) return false;
  const idps = ctx.services.identityProviders!;
  let config: client.Configuration;
  try {
    config = await idps.relyingParties.configuration(idp, await idps.store.clientSecret(idp));
  } catch (err) {
    if (!(err instanceof IdpUnavailable)) throw err;
    // The zone's session is already gone; an unreachable IdP must not keep the user from leaving.
    ctx.services.logger.warn('identity provider unavailable for logout', { zoneId: ctx.zone.id, origin: idp.originKey, error: err.message });
    return false;
  }
  if (typeof config.serverMetadata().end_session_endpoint !== 'string') return false;
  const state = randomBytes(32).toString('base64url');
  const pending: PendingLogout = target === undefined ? {} : { target };
  await ctx.services.storage.set(stateKey(ctx, idp.originKey, state), JSON.stringify(pending), { ttlMs: ctx.services.loginTtlMs });
  const url = client.buildEndSessionUrl(config, {
    id_token_hint: idToken,
    post_logout_redirect_uri: postLogoutUrl(ctx, idp.originKey),
    state,
  });
  ctx.services.logger.info('zone logout sent to identity provider', { zoneId: ctx.zone.id, origin: idp.originKey });
  redirect(res, url.href, headers);
  return true;
}

/** GET /logout/callback/<origin>?state=: the IdP's return after its logout. */
export async function handlePostLogout(ctx: ZoneContext, _req: IncomingMessage, res: ServerResponse, url: URL, originKey: string): Promise<void> {
  const state = url.searchParams.get('state') ?? '';
  const raw = state !== '' && url.searchParams.getAll('state').length === 1 ? await ctx.services.storage.take(stateKey(ctx, originKey, state)) : undefined;
  if (raw === undefined) {
    ctx.services.logger.warn('post-logout return refused: unknown or used state', { zoneId: ctx.zone.id, origin: originKey });
    sendErrorPage(
      res,
      new GatewayError('ZG_ERR_FORM_EXPIRED', 'This sign-out is not known here or was already completed. You are signed out of this zone; go back to the application.'),
      zoneErrorPage(ctx.zone, 'Sign-out expired'),
    );
    return;
  }
  const pending = JSON.parse(raw) as PendingLogout;
  ctx.services.logger.info('zone logout returned from identity provider', { zoneId: ctx.zone.id, origin: originKey });
  finishLogout(ctx, res, pending.target);
}
