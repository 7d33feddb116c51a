/**
 * Login through a zone's external OpenID provider (issue 13): /oauth/authorize hands the pending
 * authorization request to `startExternalLogin`, which sends the browser to the IdP; the IdP sends
 * it back to `GET /login/callback/<origin>` (handleIdpCallback), where the zone checks the answer,
 * records the shadow user and its mapped role collections, starts its SSO session and completes the
 * original authorization request exactly as a password login does.
 *
 * Security state lives in storage, keyed by a hash of `state` (single use): the nonce, the PKCE
 * verifier, the zone, the provider and the authorization request. The login is bound to the
 * browser that started it with a cookie of its own (as the zone's forms are, ../oauth/authorize.ts):
 * a callback URL opened in another browser (login CSRF, RFC 6749 §10.12) or at another zone is
 * refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../errors.js';
import { sameSecret } from '../../constant-time.js';
import { checkEmail, checkUserName } from '../directory/validation.js';
import { completeAuthorization, type PendingAuthorization } from '../oauth/authorize.js';
import type { ZoneContext } from '../oauth/context.js';
import { cookie, readCookie, redirect, sendErrorPage, zoneErrorPage } from '../oauth/http.js';
import { startSso } from '../oauth/sso.js';
import { client, IdpUnavailable } from './relying-party.js';
import type { ShadowProfile } from './store.js';
import type { IdentityProvider, OidcIdentityProvider } from './types.js';


type AuthorizationRequest = Omit<PendingAuthorization, 'csrf' | 'browser' | 'zoneId'>;

interface ExternalLogin {
  zoneId: string;
  idpId: string;
  originKey: string;
  nonce: string;
  codeVerifier?: string;
  /** SHA-256 of the browser-binding cookie's value. */
  browser: string;
  request: AuthorizationRequest;
  /** The redirect_uri sent to the IdP, when it is the relay's (the token request must repeat it, RFC 6749 §4.1.3). */
  redirectUri?: string;
}

export const CALLBACK_PREFIX = '/login/callback/';
export const IDP_COOKIE = 'zg_zone_idp_';

const sha = (v: string) => createHash('sha256').update(v).digest('base64url');
const loginKey = (state: string) => `zidp:${sha(state)}`;
/** One cookie per login (tabs started at once each keep theirs), named after the state's hash, never the state. */
const cookieName = (ctx: ZoneContext, state: string) => `${ctx.secure ? '__Host-' : ''}${IDP_COOKIE}${sha(`cookie:${state}`).slice(0, 22)}`;

export function callbackUrl(ctx: ZoneContext, originKey: string): string {
  return `${ctx.baseUrl}${CALLBACK_PREFIX}${encodeURIComponent(originKey)}`;
}

/** Where the IdP returns the browser after a logout there (./logout.ts). */
export const LOGOUT_CALLBACK_PREFIX = '/logout/callback/';

/** The zone's post-logout redirect URI (OpenID) and single logout service (SAML) for this IdP; to be registered at the IdP. */
export function postLogoutUrl(ctx: ZoneContext, originKey: string): string {
  return `${ctx.baseUrl}${LOGOUT_CALLBACK_PREFIX}${encodeURIComponent(originKey)}`;
}

function failed(ctx: ZoneContext, res: ServerResponse, err: GatewayError, headers: Record<string, string | string[]> = {}): void {
  sendErrorPage(res, err, zoneErrorPage(ctx.zone, 'Sign-in failed'), headers);
}

/** Sends the browser to the IdP's authorization endpoint with state, nonce and (unless turned off) PKCE S256. */
export async function startExternalLogin(ctx: ZoneContext, res: ServerResponse, idp: OidcIdentityProvider, request: AuthorizationRequest): Promise<void> {
  const idps = ctx.services.identityProviders!;
  let config: client.Configuration;
  try {
    config = await idps.relyingParties.configuration(idp, await idps.store.clientSecret(idp));
  } catch (err) {
    if (!(err instanceof IdpUnavailable)) throw err;
    ctx.services.logger.warn('identity provider unavailable', { zoneId: ctx.zone.id, origin: idp.originKey, error: err.message });
    failed(ctx, res, new GatewayError('ZG_ERR_IDP_UNAVAILABLE', `The identity provider "${idp.name}" cannot be reached. Try again later.`, { expose: true, cause: err }));
    return;
  }
  if (idp.config.useRelay && !idps.relay) {
    ctx.services.logger.warn('identity provider configured for the redirect relay, and no relay runs here', { zoneId: ctx.zone.id, origin: idp.originKey });
    failed(ctx, res, new GatewayError('ZG_ERR_IDP_UNAVAILABLE', `The identity provider "${idp.name}" cannot be used here. Try again later.`, { expose: true }));
    return;
  }
  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = idp.config.pkce ? client.randomPKCECodeVerifier() : undefined;
  const secret = `${ctx.services.now()}.${randomBytes(24).toString('base64url')}`;
  const login: ExternalLogin = {
    zoneId: ctx.zone.id,
    idpId: idp.id,
    originKey: idp.originKey,
    nonce,
    ...(codeVerifier !== undefined ? { codeVerifier } : {}),
    browser: sha(secret),
    request,
    ...(idp.config.useRelay ? { redirectUri: idps.relay!.callbackUrl } : {}),
  };
  await ctx.services.storage.set(loginKey(state), JSON.stringify(login), { ttlMs: ctx.services.loginTtlMs });
  // Through the relay the IdP sees the relay's URL and a relay state naming this zone's callback;
  // the relay hands the zone's own state back, so the callback below runs as without it.
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: login.redirectUri ?? callbackUrl(ctx, idp.originKey),
    response_type: 'code',
    scope: idp.config.scopes.join(' '),
    state: idp.config.useRelay ? await idps.relay!.stateFor(callbackUrl(ctx, idp.originKey), state) : state,
    nonce,
    ...(codeVerifier !== undefined ? { code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256' } : {}),
  });
  ctx.services.logger.info('zone login sent to identity provider', { zoneId: ctx.zone.id, origin: idp.originKey, clientId: request.clientId });
  redirect(res, url.href, {
    'set-cookie': cookie(cookieName(ctx, state), secret, { secure: ctx.secure, maxAgeSeconds: Math.ceil(ctx.services.loginTtlMs / 1000) }),
  });
}

/** GET /login/callback/<origin>: the IdP's answer to startExternalLogin. */
export async function handleIdpCallback(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse, url: URL, originKey: string): Promise<void> {
  const idps = ctx.services.identityProviders;
  const state = url.searchParams.get('state') ?? '';
  const expired = (message: string, headers: Record<string, string | string[]> = {}) =>
    sendErrorPage(res, new GatewayError('ZG_ERR_FORM_EXPIRED', message), zoneErrorPage(ctx.zone, 'Sign-in expired'), headers);
  if (!idps || !state || url.searchParams.getAll('state').length > 1) {
    expired('This sign-in is not known here. Go back to the application and start again.');
    return;
  }
  const raw = await ctx.services.storage.get(loginKey(state));
  const login = raw === undefined ? undefined : (JSON.parse(raw) as ExternalLogin);
  const binding = readCookie(req, cookieName(ctx, state));
  const clearBinding = cookie(cookieName(ctx, state), '', { secure: ctx.secure, maxAgeSeconds: 0 });
  // Another zone's login, another provider's callback, or not the browser that started it: the same
  // answer for all, and the login stays usable for its own browser.
  if (!login || login.zoneId !== ctx.zone.id || login.originKey !== originKey || !binding || !sameSecret(sha(binding), login.browser)) {
    ctx.services.logger.warn('identity provider callback refused: unknown state or not this browser', { zoneId: ctx.zone.id, origin: originKey, known: login !== undefined });
    expired('This sign-in has expired or was not started in this browser. Go back to the application and start again.');
    return;
  }
  // Single use: of two callbacks with the same state only one proceeds (a replayed callback URL is refused).
  if ((await ctx.services.storage.take(loginKey(state))) === undefined) {
    expired('This sign-in was already completed. Go back to the application and start again.', { 'set-cookie': clearBinding });
    return;
  }
  const headers = { 'set-cookie': clearBinding };
  const idp = await idps.store.get(ctx.zone.id, login.idpId);
  if (!idp || !idp.active || idp.originKey !== originKey || idp.type !== 'oidc1.0') {
    failed(ctx, res, new GatewayError('ZG_ERR_LOGIN_FAILED', 'This identity provider is no longer available in this zone.'), headers);
    return;
  }
  const error = url.searchParams.get('error');
  if (error !== null) {
    // The IdP's own words are not shown: only its RFC 6749 §4.1.2.1 error code, if it looks like one.
    const code = /^[a-z_]{1,64}$/.test(error) ? error : 'error';
    ctx.services.logger.info('identity provider refused the sign-in', { zoneId: ctx.zone.id, origin: originKey, error: code });
    failed(ctx, res, new GatewayError('ZG_ERR_IDP_REFUSED', `The identity provider "${idp.name}" did not sign you in (${code}). Go back to the application to try again.`), headers);
    return;
  }

  let claims: Record<string, unknown>;
  let idToken: string | undefined;
  try {
    const config = await idps.relyingParties.configuration(idp, await idps.store.clientSecret(idp));
    // openid-client sends this URL without its query as the token request's redirect_uri.
    const current = new URL(login.redirectUri ?? callbackUrl(ctx, originKey));
    current.search = url.search;
    const tokens = await client.authorizationCodeGrant(config, current, {
      expectedState: state,
      expectedNonce: login.nonce,
      idTokenExpected: true,
      ...(login.codeVerifier !== undefined ? { pkceCodeVerifier: login.codeVerifier } : {}),
    });
    claims = (tokens.claims() ?? {}) as Record<string, unknown>;
    idToken = tokens.id_token;
  } catch (err) {
    if (err instanceof IdpUnavailable || isNetworkFailure(err)) {
      ctx.services.logger.warn('identity provider unavailable', { zoneId: ctx.zone.id, origin: originKey, error: String(err) });
      failed(ctx, res, new GatewayError('ZG_ERR_IDP_UNAVAILABLE', `The identity provider "${idp.name}" cannot be reached. Try again later.`, { expose: true, cause: err }), headers);
      return;
    }
    // A code of another IdP or login, a bad signature, issuer, audience or nonce: details to the log only.
    ctx.services.logger.warn('identity provider answer refused', { zoneId: ctx.zone.id, origin: originKey, error: describe(err) });
    failed(ctx, res, new GatewayError('ZG_ERR_LOGIN_FAILED', `The answer of the identity provider "${idp.name}" could not be verified. Go back to the application and start again.`, { cause: err }), headers);
    return;
  }

  const profile = profileOf(claims, idp);
  if (!profile) {
    ctx.services.logger.warn('identity provider answer lacks the user name claim', { zoneId: ctx.zone.id, origin: originKey, claim: idp.config.attributeMappings.user_name });
    failed(ctx, res, new GatewayError('ZG_ERR_LOGIN_FAILED', `The identity provider "${idp.name}" did not say who you are (claim ${idp.config.attributeMappings.user_name}).`), headers);
    return;
  }
  const groups = groupsOf(claims, idp.config.attributeMappings.external_groups);
  const userId = await idps.store.recordLogin(ctx.zone.id, originKey, profile, groups);
  const authTime = typeof claims.auth_time === 'number' ? Math.floor(claims.auth_time) : Math.floor(ctx.services.now() / 1000);
  // The ID token stays with the zone's session (sealed, ../oauth/sso.ts): the hint of a later logout at the IdP (./logout.ts).
  const upstream = idToken === undefined ? undefined : { protocol: 'oidc' as const, idpId: idp.id, originKey, idToken };
  const sso = await startSso(ctx, { zoneId: ctx.zone.id, userId, authTime }, upstream);
  ctx.services.logger.info('zone login', { zoneId: ctx.zone.id, userId, origin: originKey, clientId: login.request.clientId });
  await completeAuthorization(ctx, res, login.request, { userId, authTime }, { 'set-cookie': [sso, clearBinding] });
}

function isNetworkFailure(err: unknown): boolean {
  const e = err as { name?: string; code?: string; cause?: unknown } | undefined;
  if (!e) return false;
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return true;
  return e.cause instanceof Error && ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT'].includes((e.cause as { code?: string }).code ?? '');
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as { code?: string; error?: string; error_description?: string };
  return [e.code, e.error, e.error_description, err.message].filter(Boolean).join(': ').slice(0, 300);
}

function text(claims: Record<string, unknown>, name: string): string | undefined {
  const v = claims[name];
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** The shadow user's profile from the ID token, after the provider's attribute mappings; undefined without a user name. */
export function profileOf(claims: Record<string, unknown>, idp: IdentityProvider): ShadowProfile | undefined {
  const m = idp.config.attributeMappings;
  const raw = text(claims, m.user_name);
  let userName: string;
  try {
    userName = checkUserName(raw, 'user name');
  } catch {
    return undefined;
  }
  let email = text(claims, m.email);
  try {
    checkEmail(email, 'email');
  } catch {
    // The directory requires an address; UAA makes one up the same way for users without one.
    email = userName.includes('@') ? userName : `${userName.replace(/[^A-Za-z0-9._-]/g, '_')}@user.from.${idp.originKey}.invalid`;
  }
  const givenName = text(claims, m.given_name);
  const familyName = text(claims, m.family_name);
  return { userName, email: email!, ...(givenName ? { givenName } : {}), ...(familyName ? { familyName } : {}) };
}

/** Group values of the mapped claims: a string or an array of strings each (other values are ignored). */
export function groupsOf(claims: Record<string, unknown>, names: readonly string[]): string[] {
  const groups = new Set<string>();
  for (const name of names) {
    const v = claims[name];
    for (const g of Array.isArray(v) ? v : [v]) if (typeof g === 'string' && g !== '') groups.add(g);
  }
  return [...groups];
}
