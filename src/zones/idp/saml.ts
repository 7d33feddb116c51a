/**
 * Login through a zone's SAML 2.0 IdP (issue 13), the zone a service provider (SAML 2.0 Web Browser
 * SSO Profile, saml-profiles-2.0-os §4.1): /oauth/authorize hands the pending authorization request to
 * `startSamlLogin`, which sends the browser to the IdP with an AuthnRequest (HTTP-Redirect binding);
 * the IdP posts its signed Response to the zone's assertion consumer service `POST
 * /login/callback/<origin>` (HTTP-POST binding), and the zone answers with a redirect to `GET
 * /login/callback/<origin>?saml=<handle>`, where the login is completed as an OpenID one is.
 *
 * node-saml (a well-kept SAML library) checks the XML: the assertion's signature against the IdP's
 * certificates from its metadata (an unsigned assertion is refused, a signed Response alone is not
 * enough), the audience (the zone's entity id for this IdP), NotBefore/NotOnOrAfter, and InResponseTo
 * against the requests this zone sent (its cache provider is the shared Storage, so any instance
 * knows them). On top of that, from the signed assertion only: the Issuer is the IdP's entity id; a
 * bearer SubjectConfirmation names this ACS as Recipient and this request as InResponseTo
 * (§4.1.4.3, node-saml does not check the Recipient); each assertion ID is accepted once (replay,
 * §4.1.4.5), and each request completes at most one login (an atomic `take`).
 *
 * Why the extra hop: the IdP's POST is a cross-site request, so the zone's SameSite=Lax cookie that
 * binds the login to the browser that started it is not sent with it; the redirect that follows is a
 * top-level GET, which carries it. A response posted from another browser (login CSRF, an attacker's
 * own assertion) thus ends without a session.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateServiceProviderMetadata, SAML, SamlStatusError, ValidateInResponseTo, type CacheProvider, type Profile } from '@node-saml/node-saml';
import { GatewayError } from '../../errors.js';
import { sameSecret } from '../../constant-time.js';
import { completeAuthorization, type PendingAuthorization } from '../oauth/authorize.js';
import type { ZoneContext } from '../oauth/context.js';
import { cookie, readCookie, readForm, redirect, sendErrorPage, single, zoneErrorPage } from '../oauth/http.js';
import { startSso } from '../oauth/sso.js';
import { CALLBACK_PREFIX, IDP_COOKIE, callbackUrl, groupsOf, postLogoutUrl, profileOf } from './login.js';
import { SamlMetadataError, type IdpMetadata } from './saml-metadata.js';
import type { ShadowProfile } from './store.js';
import { NAME_ID, type SamlIdentityProvider } from './types.js';

type AuthorizationRequest = Omit<PendingAuthorization, 'csrf' | 'browser' | 'zoneId'>;

export const SAML_METADATA_PREFIX = '/saml/metadata/';
/** Clock skew allowed on NotBefore / NotOnOrAfter (UAA allows 60 s too). */
const CLOCK_SKEW_MS = 60_000;
/** How long the handle between the ACS and the completing GET lives. */
const HANDOFF_TTL_MS = 120_000;
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

interface SamlLogin {
  zoneId: string;
  idpId: string;
  originKey: string;
  requestId: string;
  /** SHA-256 of the browser-binding cookie's value. */
  browser: string;
  request: AuthorizationRequest;
}

interface Handoff {
  login: SamlLogin;
  profile: ShadowProfile;
  groups: string[];
  authTime: number;
  /** The subject and session at the IdP, for a LogoutRequest later (./logout.ts). */
  subject: { nameID: string; nameIDFormat?: string; sessionIndex?: string };
}

const sha = (v: string) => createHash('sha256').update(v).digest('base64url');
/** Every key names zone and origin: a request of zone A is unknown at zone B's ACS. */
export const scoped = (ctx: ZoneContext, originKey: string, what: string, id: string) => `zsaml:${what}:${sha(`${ctx.zone.id}\u0000${originKey}\u0000${id}`)}`;
const cookieName = (ctx: ZoneContext, requestId: string) => `${ctx.secure ? '__Host-' : ''}${IDP_COOKIE}${sha(`saml-cookie:${requestId}`).slice(0, 22)}`;

/** The zone's entity id towards this IdP: the URL its SP metadata is served at. */
export function spEntityId(ctx: ZoneContext, originKey: string): string {
  return `${ctx.baseUrl}${SAML_METADATA_PREFIX}${encodeURIComponent(originKey)}`;
}

/**
 * node-saml's request-id cache on the shared Storage: the AuthnRequests (`req`) or LogoutRequests
 * (`logoutreq`, kept apart: a login Response cannot answer a LogoutRequest) this zone sent to this
 * IdP, each for as long as a login may take.
 */
function requestCache(ctx: ZoneContext, originKey: string, kind: 'req' | 'logoutreq'): CacheProvider {
  const { storage } = ctx.services;
  const key = (id: string) => scoped(ctx, originKey, kind, id);
  return {
    async saveAsync(id, value) {
      await storage.set(key(id), value, { ttlMs: ctx.services.loginTtlMs });
      return { value, createdAt: Date.now() };
    },
    async getAsync(id) {
      return (await storage.get(key(id))) ?? null;
    },
    async removeAsync(id) {
      if (id === null) return null;
      return (await storage.take(key(id))) ?? null;
    },
  };
}

export function serviceProvider(ctx: ZoneContext, idp: SamlIdentityProvider, metadata: IdpMetadata, requestId?: string, purpose: 'login' | 'logout' = 'login'): SAML {
  const entityId = spEntityId(ctx, idp.originKey);
  return new SAML({
    entryPoint: metadata.ssoUrl,
    ...(purpose === 'logout' && metadata.sloUrl ? { logoutUrl: metadata.sloUrl, idpIssuer: metadata.entityId } : {}),
    issuer: entityId,
    audience: entityId,
    callbackUrl: callbackUrl(ctx, idp.originKey),
    idpCert: metadata.signingCerts,
    identifierFormat: idp.config.nameID,
    // The assertion must carry the IdP's signature; a signature on the Response alone does not do
    // (most IdPs sign the assertion, and that is what the attributes are read from).
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    // node-saml 5.1 reads InResponseTo only from a login Response: on a LogoutResponse "always" refuses
    // every answer, so ./logout.ts checks it against the LogoutRequests it sent.
    validateInResponseTo: purpose === 'logout' ? ValidateInResponseTo.never : ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: ctx.services.loginTtlMs,
    cacheProvider: requestCache(ctx, idp.originKey, purpose === 'logout' ? 'logoutreq' : 'req'),
    acceptedClockSkewMs: CLOCK_SKEW_MS,
    disableRequestedAuthnContext: true,
    ...(requestId !== undefined ? { generateUniqueId: () => requestId } : {}),
  });
}

function failed(ctx: ZoneContext, res: ServerResponse, err: GatewayError, headers: Record<string, string | string[]> = {}): void {
  sendErrorPage(res, err, zoneErrorPage(ctx.zone, 'Sign-in failed'), headers);
}

function expired(ctx: ZoneContext, res: ServerResponse, message: string, headers: Record<string, string | string[]> = {}): void {
  sendErrorPage(res, new GatewayError('ZG_ERR_FORM_EXPIRED', message), zoneErrorPage(ctx.zone, 'Sign-in expired'), headers);
}

export async function metadataOf(ctx: ZoneContext, res: ServerResponse, idp: SamlIdentityProvider): Promise<IdpMetadata | undefined> {
  try {
    return await ctx.services.identityProviders!.samlMetadata.metadata(idp);
  } catch (err) {
    if (!(err instanceof SamlMetadataError)) throw err;
    ctx.services.logger.warn('identity provider unavailable', { zoneId: ctx.zone.id, origin: idp.originKey, error: err.message });
    failed(ctx, res, new GatewayError('ZG_ERR_IDP_UNAVAILABLE', `The identity provider "${idp.name}" cannot be reached. Try again later.`, { expose: true, cause: err }));
    return undefined;
  }
}

/** Sends the browser to the IdP with an AuthnRequest (HTTP-Redirect binding), bound to this browser by a cookie. */
export async function startSamlLogin(ctx: ZoneContext, res: ServerResponse, idp: SamlIdentityProvider, request: AuthorizationRequest): Promise<void> {
  const metadata = await metadataOf(ctx, res, idp);
  if (!metadata) return;
  // xs:ID: must not start with a digit.
  const requestId = `_${randomBytes(20).toString('hex')}`;
  const secret = `${ctx.services.now()}.${randomBytes(24).toString('base64url')}`;
  const login: SamlLogin = { zoneId: ctx.zone.id, idpId: idp.id, originKey: idp.originKey, requestId, browser: sha(secret), request };
  await ctx.services.storage.set(scoped(ctx, idp.originKey, 'login', requestId), JSON.stringify(login), { ttlMs: ctx.services.loginTtlMs });
  // node-saml stores the request id through requestCache as it builds the request.
  const url = await serviceProvider(ctx, idp, metadata, requestId).getAuthorizeUrlAsync('', undefined, {});
  ctx.services.logger.info('zone login sent to identity provider', { zoneId: ctx.zone.id, origin: idp.originKey, clientId: request.clientId, protocol: 'saml' });
  redirect(res, url, {
    'set-cookie': cookie(cookieName(ctx, requestId), secret, { secure: ctx.secure, maxAgeSeconds: Math.ceil(ctx.services.loginTtlMs / 1000) }),
  });
}

type Checked = { ok: true; requestId: string; assertionId: string; notOnOrAfterMs: number } | { ok: false; reason: string };

type XmlNode = { $?: Record<string, string>; _?: string } & Record<string, unknown>;
const children = (node: XmlNode | undefined, name: string): XmlNode[] => (Array.isArray(node?.[name]) ? (node![name] as XmlNode[]) : []);

/** The checks node-saml leaves to its caller, on the signed assertion it returned (never the unsigned envelope). */
export function checkAssertion(profile: Profile, expected: { issuer: string; recipient: string }): Checked {
  if (profile.issuer !== expected.issuer) return { ok: false, reason: `issuer ${JSON.stringify(profile.issuer)} is not the IdP's entity id` };
  const inResponseTo = typeof profile.inResponseTo === 'string' ? profile.inResponseTo : undefined;
  if (!inResponseTo) return { ok: false, reason: 'the response answers no request (unsolicited responses are not accepted)' };
  const assertion = (profile.getAssertion?.() as { Assertion?: XmlNode } | undefined)?.Assertion;
  const assertionId = assertion?.$?.ID;
  if (!assertion || !assertionId) return { ok: false, reason: 'the assertion has no ID' };
  let notOnOrAfterMs: number | undefined;
  for (const subject of children(assertion, 'Subject')) {
    for (const confirmation of children(subject, 'SubjectConfirmation')) {
      if (confirmation.$?.Method !== BEARER) continue;
      for (const data of children(confirmation, 'SubjectConfirmationData')) {
        const a = data.$ ?? {};
        const until = a.NotOnOrAfter === undefined ? NaN : Date.parse(a.NotOnOrAfter);
        if (a.Recipient === expected.recipient && a.InResponseTo === inResponseTo && Number.isFinite(until)) notOnOrAfterMs = until;
      }
    }
  }
  if (notOnOrAfterMs === undefined) {
    return { ok: false, reason: 'no bearer SubjectConfirmation names this ACS as Recipient, this request as InResponseTo and a NotOnOrAfter' };
  }
  return { ok: true, requestId: inResponseTo, assertionId, notOnOrAfterMs };
}

/** The assertion's attributes as claims: single values as strings, several as lists; the subject as `NameID`. */
function claimsOf(profile: Profile): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  const attributes = (profile.attributes ?? {}) as Record<string, unknown>;
  for (const [name, value] of Object.entries(attributes)) {
    const values = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
    claims[name] = values.length === 1 ? values[0] : values;
  }
  claims[NAME_ID] = profile.nameID;
  return claims;
}

/** POST /login/callback/<origin>: the IdP's SAMLResponse (HTTP-POST binding). */
export async function handleSamlResponse(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse, originKey: string): Promise<void> {
  const idps = ctx.services.identityProviders;
  const form = await readForm(req);
  const samlResponse = single(form, 'SAMLResponse');
  const idp = idps && (await idps.store.getByOrigin(ctx.zone.id, originKey));
  if (!idp || idp.type !== 'saml' || !idp.active || !samlResponse) {
    expired(ctx, res, 'This sign-in is not known here. Go back to the application and start again.');
    return;
  }
  const metadata = await metadataOf(ctx, res, idp);
  if (!metadata) return;
  const refuse = (reason: string, err?: unknown) => {
    // Details to the log only: an attacker learns nothing about which check stopped the answer.
    ctx.services.logger.warn('identity provider answer refused', { zoneId: ctx.zone.id, origin: originKey, protocol: 'saml', error: reason.slice(0, 300) });
    failed(ctx, res, new GatewayError('ZG_ERR_LOGIN_FAILED', `The answer of the identity provider "${idp.name}" could not be verified. Go back to the application and start again.`, err === undefined ? {} : { cause: err }));
  };
  let profile: Profile | null;
  try {
    ({ profile } = await serviceProvider(ctx, idp, metadata).validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    if (err instanceof SamlStatusError) {
      // The IdP's own words are not shown: only the status code's last part.
      const code = /[A-Za-z]+(?=\s+error)/.exec(err.message)?.[0] ?? 'error';
      ctx.services.logger.info('identity provider refused the sign-in', { zoneId: ctx.zone.id, origin: originKey, error: code });
      failed(ctx, res, new GatewayError('ZG_ERR_IDP_REFUSED', `The identity provider "${idp.name}" did not sign you in (${code}). Go back to the application to try again.`));
      return;
    }
    refuse(err instanceof Error ? err.message : String(err), err);
    return;
  }
  if (!profile) {
    refuse('no assertion');
    return;
  }
  const checked = checkAssertion(profile, { issuer: metadata.entityId, recipient: callbackUrl(ctx, originKey) });
  if (!checked.ok) {
    refuse(checked.reason);
    return;
  }
  const { storage } = ctx.services;
  // Replay (§4.1.4.5): an assertion ID is accepted once, for as long as the assertion is valid.
  const ttlMs = Math.min(Math.max(checked.notOnOrAfterMs - Date.now() + CLOCK_SKEW_MS, 1000), 24 * 3600_000);
  if (!(await storage.setIfAbsent(scoped(ctx, originKey, 'seen', `${metadata.entityId}\u0000${checked.assertionId}`), '1', { ttlMs }))) {
    refuse('assertion replayed');
    return;
  }
  // Of two responses to one request only one proceeds.
  const raw = await storage.take(scoped(ctx, originKey, 'login', checked.requestId));
  const login = raw === undefined ? undefined : (JSON.parse(raw) as SamlLogin);
  if (!login || login.zoneId !== ctx.zone.id || login.originKey !== originKey || login.idpId !== idp.id) {
    expired(ctx, res, 'This sign-in has expired or was already completed. Go back to the application and start again.');
    return;
  }
  const claims = claimsOf(profile);
  const shadow = profileOf(claims, idp);
  if (!shadow) {
    ctx.services.logger.warn('identity provider answer lacks the user name', { zoneId: ctx.zone.id, origin: originKey, attribute: idp.config.attributeMappings.user_name });
    failed(ctx, res, new GatewayError('ZG_ERR_LOGIN_FAILED', `The identity provider "${idp.name}" did not say who you are (${idp.config.attributeMappings.user_name}).`));
    return;
  }
  const handoff: Handoff = {
    login,
    profile: shadow,
    groups: groupsOf(claims, idp.config.attributeMappings.external_groups),
    authTime: Math.floor(ctx.services.now() / 1000),
    subject: {
      nameID: profile.nameID,
      ...(typeof profile.nameIDFormat === 'string' ? { nameIDFormat: profile.nameIDFormat } : {}),
      ...(typeof profile.sessionIndex === 'string' ? { sessionIndex: profile.sessionIndex } : {}),
    },
  };
  const handle = randomBytes(32).toString('base64url');
  await storage.set(scoped(ctx, originKey, 'handoff', handle), JSON.stringify(handoff), { ttlMs: HANDOFF_TTL_MS });
  // 303: the browser turns the POST into a GET, which carries the Lax binding cookie.
  res.statusCode = 303;
  res.setHeader('location', `${CALLBACK_PREFIX}${encodeURIComponent(originKey)}?saml=${handle}`);
  res.setHeader('cache-control', 'no-store');
  res.end();
}

/** GET /login/callback/<origin>?saml=<handle>: the checked assertion, in the browser that started the login. */
export async function finishSamlLogin(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse, url: URL, originKey: string): Promise<void> {
  const idps = ctx.services.identityProviders;
  const handle = url.searchParams.get('saml') ?? '';
  const raw = idps && handle && url.searchParams.getAll('saml').length === 1 ? await ctx.services.storage.take(scoped(ctx, originKey, 'handoff', handle)) : undefined;
  const handoff = raw === undefined ? undefined : (JSON.parse(raw) as Handoff);
  const login = handoff?.login;
  const binding = login && readCookie(req, cookieName(ctx, login.requestId));
  if (!handoff || !login || login.zoneId !== ctx.zone.id || login.originKey !== originKey || !binding || !sameSecret(sha(binding), login.browser)) {
    ctx.services.logger.warn('identity provider answer refused: unknown handle or not this browser', { zoneId: ctx.zone.id, origin: originKey, protocol: 'saml', known: handoff !== undefined });
    expired(ctx, res, 'This sign-in has expired or was not started in this browser. Go back to the application and start again.');
    return;
  }
  const clearBinding = cookie(cookieName(ctx, login.requestId), '', { secure: ctx.secure, maxAgeSeconds: 0 });
  const idp = await idps!.store.get(ctx.zone.id, login.idpId);
  if (!idp || !idp.active || idp.originKey !== originKey || idp.type !== 'saml') {
    failed(ctx, res, new GatewayError('ZG_ERR_LOGIN_FAILED', 'This identity provider is no longer available in this zone.'), { 'set-cookie': clearBinding });
    return;
  }
  const userId = await idps!.store.recordLogin(ctx.zone.id, originKey, handoff.profile, handoff.groups);
  // NameID and SessionIndex stay with the zone's session (sealed, ../oauth/sso.ts): a later LogoutRequest names them (./logout.ts).
  const upstream = handoff.subject ? { protocol: 'saml' as const, idpId: idp.id, originKey, ...handoff.subject } : undefined;
  const sso = await startSso(ctx, { zoneId: ctx.zone.id, userId, authTime: handoff.authTime }, upstream);
  ctx.services.logger.info('zone login', { zoneId: ctx.zone.id, userId, origin: originKey, clientId: login.request.clientId, protocol: 'saml' });
  await completeAuthorization(ctx, res, login.request, { userId, authTime: handoff.authTime }, { 'set-cookie': [sso, clearBinding] });
}

/** GET /saml/metadata/<origin>: the zone's SP metadata for that IdP (entity id, ACS, signed assertions wanted). */
export async function handleSpMetadata(ctx: ZoneContext, res: ServerResponse, originKey: string): Promise<boolean> {
  const idp = await ctx.services.identityProviders?.store.getByOrigin(ctx.zone.id, originKey);
  if (!idp || idp.type !== 'saml') return false;
  const xml = generateServiceProviderMetadata({
    issuer: spEntityId(ctx, originKey),
    callbackUrl: callbackUrl(ctx, originKey),
    // Where the IdP posts its LogoutResponse (HTTP-POST binding, ./logout.ts).
    logoutCallbackUrl: postLogoutUrl(ctx, originKey),
    identifierFormat: idp.config.nameID,
    wantAssertionsSigned: true,
  });
  res.writeHead(200, { 'content-type': 'application/samlmetadata+xml; charset=utf-8', 'cache-control': 'no-cache' });
  res.end(xml);
  return true;
}
