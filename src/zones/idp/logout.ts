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
 * - SAML 2.0 Single Logout (saml-profiles-2.0-os §4.4), SP-initiated: when the IdP's metadata names a
 *   SingleLogoutService with the HTTP-Redirect binding, the browser takes a LogoutRequest there with
 *   the NameID and SessionIndex of that login; the IdP posts its LogoutResponse to the zone's single
 *   logout service (`POST <zone>/logout/callback/<origin>`, HTTP-POST binding, named in the zone's SP
 *   metadata). node-saml checks its signature (over the whole LogoutResponse: on that binding it
 *   refuses one without); it does not check a LogoutResponse's InResponseTo (5.1 reads it from login
 *   Responses only), so the zone checks it, with the Issuer and Destination: it must name a
 *   LogoutRequest this zone sent to this IdP and not yet answered.
 *
 * The state (for SAML: the LogoutRequest's ID) is random, in storage under a key scoped to zone and
 * origin, and single use (an atomic `take`): it carries the logout's target, already checked against
 * the client's redirect URIs. A forged or replayed state, or one of another zone or IdP, ends on an
 * error page, never at a target from the request (the zone would otherwise be an open redirector).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Profile } from '@node-saml/node-saml';
import { DOMParser } from '@xmldom/xmldom';
import { GatewayError } from '../../errors.js';
import type { ZoneContext } from '../oauth/context.js';
import { readForm, redirect, sendErrorPage, single, zoneErrorPage } from '../oauth/http.js';
import { finishLogout } from '../oauth/logout.js';
import type { UpstreamSession } from '../oauth/sso.js';
import { LOGOUT_CALLBACK_PREFIX, postLogoutUrl } from './login.js';
import { client, IdpUnavailable } from './relying-party.js';
import { scoped, serviceProvider, spEntityId } from './saml.js';
import { SamlMetadataError, type IdpMetadata } from './saml-metadata.js';
import type { OidcIdentityProvider, SamlIdentityProvider } from './types.js';

const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

interface PendingLogout {
  /** Where the logout ends: the `redirect` /logout.do checked, or the signed-out page. */
  target?: string;
}

export { LOGOUT_CALLBACK_PREFIX };

const stateKey = (ctx: ZoneContext, originKey: string, state: string) =>
  `zidplogout:${createHash('sha256').update(`${ctx.zone.id}\u0000${originKey}\u0000${state}`).digest('base64url')}`;

/** After the zone's session ended: to the IdP's logout, if it offers one; false leaves the logout as before. */
export async function startIdpLogout(ctx: ZoneContext, res: ServerResponse, upstream: UpstreamSession, target: string | undefined, headers: Record<string, string | string[]>): Promise<boolean> {
  const idps = ctx.services.identityProviders;
  const idp = idps && (await idps.store.get(ctx.zone.id, upstream.idpId));
  // A provider deleted, deactivated or replaced under the same id since the login: nothing to end there.
  if (!idp || !idp.active || idp.originKey !== upstream.originKey) return false;
  if (upstream.protocol === 'oidc' && idp.type === 'oidc1.0') return startOidcLogout(ctx, res, idp, upstream.idToken, target, headers);
  if (upstream.protocol === 'saml' && idp.type === 'saml') return startSamlLogout(ctx, res, idp, upstream, target, headers);
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

async function startSamlLogout(
  ctx: ZoneContext,
  res: ServerResponse,
  idp: SamlIdentityProvider,
  subject: { nameID: string; nameIDFormat?: string; sessionIndex?: string },
  target: string | undefined,
  headers: Record<string, string | string[]>,
): Promise<boolean> {
  let metadata: IdpMetadata;
  try {
    metadata = await ctx.services.identityProviders!.samlMetadata.metadata(idp);
  } catch (err) {
    if (!(err instanceof SamlMetadataError)) throw err;
    ctx.services.logger.warn('identity provider unavailable for logout', { zoneId: ctx.zone.id, origin: idp.originKey, protocol: 'saml', error: err.message });
    return false;
  }
  if (!metadata.sloUrl) return false;
  // xs:ID: must not start with a digit.
  const requestId = `_${randomBytes(20).toString('hex')}`;
  const pending: PendingLogout = target === undefined ? {} : { target };
  await ctx.services.storage.set(scoped(ctx, idp.originKey, 'logout', requestId), JSON.stringify(pending), { ttlMs: ctx.services.loginTtlMs });
  const user = { issuer: spEntityId(ctx, idp.originKey), nameID: subject.nameID, nameIDFormat: subject.nameIDFormat, sessionIndex: subject.sessionIndex } as Profile;
  const url = await serviceProvider(ctx, idp, metadata, requestId, 'logout').getLogoutUrlAsync(user, '', {});
  ctx.services.logger.info('zone logout sent to identity provider', { zoneId: ctx.zone.id, origin: idp.originKey, protocol: 'saml' });
  redirect(res, url, headers);
  return true;
}

function refused(ctx: ZoneContext, res: ServerResponse): void {
  sendErrorPage(
    res,
    new GatewayError('ZG_ERR_FORM_EXPIRED', 'This sign-out is not known here or was already completed. You are signed out of this zone; go back to the application.'),
    zoneErrorPage(ctx.zone, 'Sign-out expired'),
  );
}

/** POST /logout/callback/<origin>: a SAML IdP's LogoutResponse (HTTP-POST binding). */
export async function handleSamlLogoutResponse(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse, originKey: string): Promise<void> {
  const idps = ctx.services.identityProviders;
  const samlResponse = single(await readForm(req), 'SAMLResponse');
  const idp = idps && (await idps.store.getByOrigin(ctx.zone.id, originKey));
  const refuse = (reason: string) => {
    // Details to the log only.
    ctx.services.logger.warn('logout response refused', { zoneId: ctx.zone.id, origin: originKey, protocol: 'saml', error: reason.slice(0, 300) });
    refused(ctx, res);
  };
  if (!idp || idp.type !== 'saml' || !idp.active || !samlResponse) {
    refuse('unknown identity provider or no SAMLResponse');
    return;
  }
  let metadata: IdpMetadata;
  try {
    metadata = await idps!.samlMetadata.metadata(idp);
  } catch (err) {
    if (!(err instanceof SamlMetadataError)) throw err;
    refuse(err.message);
    return;
  }
  try {
    const result = await serviceProvider(ctx, idp, metadata, undefined, 'logout').validatePostResponseAsync({ SAMLResponse: samlResponse });
    if (!result.loggedOut || result.profile) throw new Error('not a LogoutResponse');
  } catch (err) {
    refuse(err instanceof Error ? err.message : String(err));
    return;
  }
  // Signed as a whole (checked above): its root's InResponseTo, Issuer, Destination and status are the IdP's.
  const root = new DOMParser({ errorHandler: { warning: () => undefined, error: () => undefined, fatalError: () => undefined } })
    .parseFromString(Buffer.from(samlResponse, 'base64').toString('utf8'), 'text/xml').documentElement;
  const issuers = root ? Array.from(root.getElementsByTagNameNS(SAML, 'Issuer')).filter((n) => n.parentNode === root) : [];
  const inResponseTo = root?.getAttribute('InResponseTo') ?? '';
  const destination = root?.getAttribute('Destination');
  if (!root || root.namespaceURI !== SAMLP || root.localName !== 'LogoutResponse') return refuse('not a LogoutResponse');
  if (issuers.length !== 1 || issuers[0]!.textContent?.trim() !== metadata.entityId) return refuse("the issuer is not the IdP's entity id");
  if (destination && destination !== postLogoutUrl(ctx, originKey)) return refuse('the Destination is not this single logout service');
  // InResponseTo a LogoutRequest of this zone to this IdP, once (a replayed response finds nothing).
  const raw = inResponseTo ? await ctx.services.storage.take(scoped(ctx, originKey, 'logout', inResponseTo)) : undefined;
  if (raw === undefined) return refuse('the response answers no pending LogoutRequest of this zone');
  await ctx.services.storage.take(scoped(ctx, originKey, 'logoutreq', inResponseTo));
  const status = root.getElementsByTagNameNS(SAMLP, 'StatusCode')[0]?.getAttribute('Value');
  // A partial logout at the IdP: the zone's own session is gone all the same, so the logout ends as planned.
  if (status !== SUCCESS) ctx.services.logger.warn('identity provider reported an incomplete logout', { zoneId: ctx.zone.id, origin: originKey, status: String(status).slice(0, 100) });
  else ctx.services.logger.info('zone logout returned from identity provider', { zoneId: ctx.zone.id, origin: originKey, protocol: 'saml' });
  finishLogout(ctx, res, (JSON.parse(raw) as PendingLogout).target);
}

/** GET /logout/callback/<origin>?state=: the IdP's return after its logout. */
export async function handlePostLogout(ctx: ZoneContext, _req: IncomingMessage, res: ServerResponse, url: URL, originKey: string): Promise<void> {
  const state = url.searchParams.get('state') ?? '';
  const raw = state !== '' && url.searchParams.getAll('state').length === 1 ? await ctx.services.storage.take(stateKey(ctx, originKey, state)) : undefined;
  if (raw === undefined) {
    ctx.services.logger.warn('post-logout return refused: unknown or used state', { zoneId: ctx.zone.id, origin: originKey });
    refused(ctx, res);
    return;
  }
  const pending = JSON.parse(raw) as PendingLogout;
  ctx.services.logger.info('zone logout returned from identity provider', { zoneId: ctx.zone.id, origin: originKey });
  finishLogout(ctx, res, pending.target);
}
