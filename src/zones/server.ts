/**
 * The identity server: one request handler for the uaadomain and every `<subdomain>.<uaadomain>`.
 * The gateway calls `handle` for requests whose host is one of those; `zonegate zones start` puts it
 * on its own HTTP server. Zone hosts serve the OAuth/OpenID endpoints of that zone (REFERENCE.md §4);
 * the bare uaadomain serves what XSUAA serves there for a zone named by id: `/token_keys?zid=` and
 * `/oauth/token` with `x-zid` (that is where @sap/xssec 4 goes), plus the zones admin API. Zone hosts
 * honour the same two (`?zid=`, `x-zid` on the token endpoint: @sap/xssec 3 sends it to the provider's
 * host); any other endpoint refuses an `x-zid` naming another zone rather than ignore it.
 *
 * Creating the server ensures the built-in admin client (directory/admin-client.ts), so zone
 * administrators can log in with it at once; nothing else has to be wired for that.
 */
import type { Destination } from '../config/types.js';
import { createTenantConfigurations } from '../tenant/configuration.js';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt } from 'jose';
import { GatewayError } from '../errors.js';
import { sendError } from '../http/render-error.js';
import type { Logger } from '../log.js';
import type { ZoneMetrics } from '../metrics/types.js';
import { parseTrustedProxies, type TrustedProxies } from '../tenant/trusted-proxies.js';
import { requestOrigin } from '../tenant/resolve.js';
import { requestIdOf } from '../server/context.js';
import type { RecordsDatabase } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import { createAdminApi, type AdminApiHandler, type AdminPrincipal } from './admin/api.js';
import type { Zone, ZoneDirectory } from './directory/types.js';
import { isSubdomain, isZoneId } from './directory/validation.js';
import { createKeyStore, type KeyStore } from './keys/keystore.js';
import { removeZone, type ZoneRemovalParts } from './removal.js';
import { handleAuthorize } from './oauth/authorize.js';
import { bearerToken } from './oauth/bearer.js';
import type { ZoneContext, ZoneServices } from './oauth/context.js';
import { handleDiscovery } from './oauth/discovery.js';
import { InvalidRequest, OAuthError, toOAuthError } from './oauth/errors.js';
import { sendJson, zoneErrorPage, zonePage } from './oauth/http.js';
import { handleIntrospect } from './oauth/introspect.js';
import { handleLogin } from './oauth/login.js';
import { handleInvitationPage, handleInvitationSubmit } from './oauth/invitation.js';
import { createInvitationStore, INVITATION_PATH, type InvitationStore } from './invitations.js';
import { handleLogout } from './oauth/logout.js';
import { compileRedirectPattern } from './oauth/redirect-uri.js';
import { DEFAULT_THROTTLE, type ThrottleOptions } from './oauth/throttle.js';
import { handleToken } from './oauth/token.js';
import { verifyZoneToken } from './oauth/tokens.js';
import { handleUserinfo } from './oauth/userinfo.js';
import { identityProviderAdminRoutes } from './idp/admin.js';
import { html5AppsAdminRoutes } from '../html5-apps/admin.js';
import { createHtml5AppStore } from '../html5-apps/store.js';
import { handleIdpEndpoint, startIdpLogin, startIdpLogout } from './idp/endpoints.js';
import { CALLBACK_PREFIX, LOGOUT_CALLBACK_PREFIX } from './idp/login.js';
import { checkPasswordAtBackend } from './idp/password-login.js';
import { createRelyingParties } from './idp/relying-party.js';
import { createSamlMetadataCache } from './idp/saml-metadata.js';
import { createIdentityProviderStore } from './idp/store.js';
import type { ZoneRelay } from './idp/services.js';
import { platformAdminRoutes } from '../platform/admin.js';
import { createAudit } from '../platform/audit.js';
import { handleOneTimeLogin, ONE_TIME_LOGIN_PATH } from '../platform/one-time-login.js';
import { createClientStore, type ClientStore } from './clients/store.js';
import { withClients } from './clients/view.js';
import { clientAdminRoutes } from './clients/admin.js';

export interface IdentityServerOptions {
  /** Short-lived shared state: codes, login forms, SSO sessions, refresh-token families, throttles. */
  storage: Storage;
  /** The application's destinations: the admin API's tenant configurations may override them (src/tenant/configuration.ts). */
  destinations?: readonly Destination[];
  /** The records database the directory is on; the zones' signing keys live there too (issue 19). */
  records: RecordsDatabase;
  directory: ZoneDirectory;
  /** Host name only (`auth.example.com`, `localhost`); zones live at `<subdomain>.<uaaDomain>`. */
  uaaDomain: string;
  /** Public base URL of a zone (or of the bare uaadomain without a subdomain), e.g. `http://acme.auth.localhost:8080`. */
  publicUrlFor(subdomain?: string): string;
  logger: Logger;
  /**
   * 32 bytes that seal the zones' private signing keys in the records (ZONEGATE_SECRET_KEY, the key the
   * directory seals client secrets with). The entry point always passes it; unset keeps keys in clear.
   */
  secretKey?: Uint8Array;
  /**
   * Ends the gateway sessions of a removed zone's tenant (by subdomain) on every instance. The gateway
   * wires it; `zonegate zones start` has no gateway sessions.
   */
  revokeTenantSessions?: (subdomain: string) => Promise<void>;
  /** Password of the admin API's bootstrap `admin` user (>= 16 characters). Unset: only tokens. */
  bootstrapSecret?: string;
  /** Zone whose administrators may manage zones on the bare uaadomain (and get `zones.*` in their tokens). */
  zonesAdminZoneId?: string;
  /** Redirect URIs of the admin client (XSUAA patterns); default loopback only (RFC 8252 §7.3). Unset: keep the stored ones. */
  adminClientRedirectUris?: string[];
  /**
   * Which peers may tell the client's address in `X-Forwarded-For` (the gateway's TRUSTED_PROXIES);
   * the address is what login throttling locks. Default: nobody, the socket's peer is the client.
   */
  trustedProxies?: TrustedProxies;
  /** Authorization code lifetime, seconds; at most 300 (default 300). */
  codeTtlSeconds?: number;
  /** How long a login form stays usable, seconds (default 600). */
  loginTtlSeconds?: number;
  /** Zone SSO session lifetime, seconds (default 8 h). */
  ssoTtlSeconds?: number;
  /** Upper bound on access/id token validity and the key rotation overlap, seconds (default 43200, XSUAA's default). */
  maxTokenValiditySeconds?: number;
  /**
   * Grace window for a client's retry of a refresh, seconds (default 10, at most 60; 0 disables it):
   * the immediately previous refresh token, presented again this soon after its rotation, gets the
   * family's current refresh token instead of revoking the family. SAP's application router retries
   * a refresh up to 3 times with the same token. Longer windows give a stolen token longer use.
   */
  refreshTokenReuseSeconds?: number;
  throttle?: Partial<ThrottleOptions>;
  /** Counts password checks and issued tokens (src/metrics/). */
  metrics?: ZoneMetrics;
  /** The gateway's redirect relay, for identity providers with `useRelay` (src/platform/relay.ts). */
  relay?: ZoneRelay;
  now?: () => number;
}

export interface IdentityServer {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Removes a zone and everything it owns (./removal.ts); the removed zone, or undefined if there was none. */
  removeZone(zoneId: string): Promise<Zone | undefined>;
  /** Rotates the signing key of one zone, or of every zone; returns the new kids. */
  rotateKeys(zoneId?: string): Promise<string[]>;
  /** Verifies a bearer token of a zone: its principal, or undefined (for the gateway's own checks). */
  authenticateToken(zone: Zone, token: string): Promise<AdminPrincipal | undefined>;
  /** The built-in admin client `zonegate-admin` and its secret, for the operator to hand to admin tooling. */
  readonly adminClient: { clientId: string; clientSecret: string };
  readonly keys: KeyStore;
  /** The applications' further OAuth clients (issue 14, ./clients/). */
  readonly clients: ClientStore;
  /** One-time set-password links for users without a password (provisioning issues them). */
  readonly invitations: InvitationStore;
  close(): Promise<void>;
}

/** XSUAA's default token validity (12 h): the longest a token lives, and so the overlap of a key rotation. */
export const DEFAULT_MAX_TOKEN_VALIDITY_SECONDS = 43200;
/** Covers SAP's router's three quick retries of a refresh with room to spare; see IdentityServerOptions. */
export const DEFAULT_REFRESH_TOKEN_REUSE_SECONDS = 10;

/** Endpoints that answer a browser with pages rather than JSON. */
const PAGE_PATHS = new Set(['/oauth/authorize', '/login.do', '/logout.do', INVITATION_PATH, ONE_TIME_LOGIN_PATH]);

export async function createIdentityServer(options: IdentityServerOptions): Promise<IdentityServer> {
  const uaaDomain = options.uaaDomain.toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(uaaDomain) || uaaDomain.includes(':')) {
    throw new RangeError(`uaaDomain must be a host name without scheme or port, got ${JSON.stringify(options.uaaDomain)}`);
  }
  const codeTtlSeconds = options.codeTtlSeconds ?? 300;
  const maxTokenValiditySeconds = options.maxTokenValiditySeconds ?? DEFAULT_MAX_TOKEN_VALIDITY_SECONDS;
  const refreshTokenReuseSeconds = options.refreshTokenReuseSeconds ?? DEFAULT_REFRESH_TOKEN_REUSE_SECONDS;
  const throttle = { ...DEFAULT_THROTTLE, ...options.throttle };
  const trustedProxies = options.trustedProxies ?? (parseTrustedProxies('none') as TrustedProxies);
  // Every problem at once, as for the configuration files.
  const problems: string[] = [];
  if (!(codeTtlSeconds > 0 && codeTtlSeconds <= 300)) problems.push('codeTtlSeconds must be within 1..300 (RFC 6749 §4.1.2)');
  if (!(maxTokenValiditySeconds > 0)) problems.push('maxTokenValiditySeconds must be positive');
  if (!(refreshTokenReuseSeconds >= 0 && refreshTokenReuseSeconds <= 60)) {
    problems.push('refreshTokenReuseSeconds must be within 0..60 (a retry comes within seconds; 0 disables the grace)');
  }
  for (const [name, value] of Object.entries(throttle)) if (!(value >= 0)) problems.push(`throttle.${name} must be a non-negative number`);
  if (throttle.lockAfter < 1) problems.push('throttle.lockAfter must be at least 1');
  for (const uri of options.adminClientRedirectUris ?? []) {
    try {
      compileRedirectPattern(uri);
    } catch (err) {
      problems.push(`adminClientRedirectUris: ${JSON.stringify(uri)} is not a redirect URI pattern (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  if (problems.length > 0) throw new RangeError(`Invalid identity server options:\n  ${problems.join('\n  ')}`);
  const now = options.now ?? Date.now;
  const logger = options.logger.child({ component: 'zones' });
  const bareUrl = options.publicUrlFor();
  if (bareUrl.startsWith('http:') && uaaDomain !== 'localhost' && !uaaDomain.endsWith('.localhost')) {
    logger.warn('identity zones are served over plain http: SSO cookies are not Secure and tokens travel in clear', { uaaDomain });
  }
  const keys = createKeyStore({
    records: options.records,
    logger,
    maxTokenValiditySeconds,
    now,
    notices: options.storage,
    ...(options.secretKey !== undefined ? { secretKey: options.secretKey } : {}),
  });
  const admin = await options.directory.ensureAdminClient({
    ...(options.zonesAdminZoneId !== undefined ? { zonesAdminZoneId: options.zonesAdminZoneId } : {}),
    ...(options.adminClientRedirectUris !== undefined ? { redirectUris: options.adminClientRedirectUris } : {}),
  });

  const invitations = createInvitationStore(options.storage, { now });
  // Issue 13: each zone's external identity providers, sealed with the key that seals client secrets.
  const idpStore = createIdentityProviderStore(options.records, options.directory, options.secretKey !== undefined ? { secretKey: options.secretKey } : {});
  // Issue 14: the applications' further clients, known to every endpoint through the directory's client lookups.
  const clients = createClientStore(options.records, { ...(options.secretKey !== undefined ? { secretKey: options.secretKey } : {}), now });
  const services: ZoneServices = {
    storage: options.storage,
    directory: withClients(options.directory, clients),
    keys,
    invitations,
    logger,
    uaaDomain,
    publicUrlFor: options.publicUrlFor,
    codeTtlMs: codeTtlSeconds * 1000,
    loginTtlMs: (options.loginTtlSeconds ?? 600) * 1000,
    ssoTtlMs: (options.ssoTtlSeconds ?? 8 * 3600) * 1000,
    throttle,
    maxTokenValiditySeconds,
    refreshTokenReuseMs: refreshTokenReuseSeconds * 1000,
    metrics: options.metrics,
    identityProviders: {
      store: idpStore,
      relyingParties: createRelyingParties(now),
      samlMetadata: createSamlMetadataCache(now),
      startLogin: startIdpLogin,
      startLogout: startIdpLogout,
      checkPassword: checkPasswordAtBackend,
      ...(options.relay ? { relay: options.relay } : {}),
    },
    now,
  };

  function contextFor(zone: Zone, req: IncomingMessage | undefined, zoneFromHeader = false): ZoneContext {
    const baseUrl = options.publicUrlFor(zone.subdomain).replace(/\/+$/, '');
    return {
      services,
      zone,
      baseUrl,
      issuer: `${baseUrl}/oauth/token`,
      secure: baseUrl.startsWith('https:'),
      // TRUSTED_PROXIES' resolver, as for the gateway: a peer that is not a trusted proxy cannot pick
      // the address its failed logins are counted under (it would escape the lockout by rotating it).
      clientIp: req ? trustedProxies.clientAddress(req) : 'unknown',
      ...(zoneFromHeader ? { zoneFromHeader } : {}),
    };
  }

  /**
   * The zone an `x-zid` header names (XSUAA's way of asking for a tenant's token by zone id): undefined
   * without the header, `invalid_request` when it is malformed or names no zone. A token request
   * carrying it is answered for that zone or refused, never silently for another one.
   */
  async function zoneOfHeader(req: IncomingMessage): Promise<Zone | undefined> {
    const zid = req.headers['x-zid'];
    if (zid === undefined) return undefined;
    if (typeof zid !== 'string' || !isZoneId(zid)) throw new InvalidRequest('x-zid must be the id of an identity zone');
    const zone = await options.directory.getZone(zid);
    if (!zone) throw new InvalidRequest('x-zid names no identity zone');
    return zone;
  }

  async function principalOf(zone: Zone, token: string): Promise<AdminPrincipal | undefined> {
    try {
      const claims = await verifyZoneToken(contextFor(zone, undefined), token);
      return { zoneId: claims.zid, scopes: claims.scope, clientId: claims.cid, ...(claims.user_id !== undefined ? { userId: claims.user_id } : {}) };
    } catch (err) {
      if (err instanceof OAuthError) return undefined;
      throw err;
    }
  }

  /**
   * For the admin API a token is verified with the keys of the zone it names (its unverified `zid`
   * only picks the keys; the signature, issuer and `zid` are then checked against that zone). So a
   * genuine token of zone A at zone B is a known caller without rights there (403), and a token that
   * verifies nowhere is 401.
   */
  async function adminPrincipalOf(token: string): Promise<AdminPrincipal | undefined> {
    let zid: unknown;
    try {
      zid = decodeJwt(token).zid;
    } catch {
      return undefined;
    }
    if (typeof zid !== 'string' || !isZoneId(zid)) return undefined;
    const zone = await options.directory.getZone(zid);
    return zone ? principalOf(zone, token) : undefined;
  }

  const removal: ZoneRemovalParts = {
    directory: options.directory,
    keys,
    ...(options.revokeTenantSessions !== undefined ? { revokeTenantSessions: options.revokeTenantSessions } : {}),
  };

  const adminApi: AdminApiHandler = createAdminApi({
    directory: options.directory,
    removeZone: (zoneId) => removeZone(removal, zoneId),
    zoneRoutes: identityProviderAdminRoutes(idpStore),
    domainRoutes: [
      platformAdminRoutes(options.records, createAudit(logger)),
      html5AppsAdminRoutes(createHtml5AppStore(options.records), { notices: options.storage }),
      clientAdminRoutes(clients, options.directory),
    ],
    tenantConfigurations: { store: createTenantConfigurations(options.records, options.storage), destinations: options.destinations ?? [] },
    ...(options.bootstrapSecret !== undefined ? { bootstrapSecret: options.bootstrapSecret } : {}),
    ...(options.zonesAdminZoneId !== undefined ? { zonesAdminZoneId: options.zonesAdminZoneId } : {}),
    logger,
    authenticate: async (req) => {
      const token = bearerToken(req);
      return token ? adminPrincipalOf(token) : undefined;
    },
  });

  /** 404 as the gateway's codes say it: no zone at this host, or no such endpoint of it. */
  function notFound(req: IncomingMessage, res: ServerResponse, code: 'ZG_ERR_HOST_UNMATCHED' | 'ZG_ERR_ROUTE_NOT_FOUND', what: string): void {
    sendError(req, res, new GatewayError(code, what), { oauth: true, page: zonePage(zoneErrorPage(undefined)) });
  }

  async function zoneEndpoint(ctx: ZoneContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const method = req.method ?? 'GET';
    switch (url.pathname) {
      case '/oauth/authorize':
        if (method !== 'GET') return false;
        await handleAuthorize(ctx, req, res, url);
        return true;
      case '/login.do':
        if (method !== 'POST') return false;
        await handleLogin(ctx, req, res);
        return true;
      case '/oauth/token':
        await handleToken(ctx, req, res);
        return true;
      case INVITATION_PATH:
        if (method === 'GET') await handleInvitationPage(ctx, res, url);
        else if (method === 'POST') await handleInvitationSubmit(ctx, req, res);
        else return false;
        return true;
      case ONE_TIME_LOGIN_PATH:
        if (method !== 'GET') return false;
        await handleOneTimeLogin(ctx, res, url);
        return true;
      case '/token_keys':
        await sendTokenKeys(res, url.searchParams.has('zid') ? await zoneOfQuery(url) : ctx.zone);
        return true;
      case '/userinfo':
        if (method !== 'GET' && method !== 'POST') return false;
        await handleUserinfo(ctx, req, res);
        return true;
      case '/logout.do':
        if (method !== 'GET') return false;
        await handleLogout(ctx, req, res, url);
        return true;
      case '/.well-known/openid-configuration':
      case '/oauth/token/.well-known/openid-configuration':
        handleDiscovery(ctx, res);
        return true;
      case '/introspect':
        await handleIntrospect(ctx, req, res);
        return true;
      default:
        // Issue 13: the IdPs' callbacks, the SAML ACS and SP metadata (src/zones/idp/endpoints.ts).
        return handleIdpEndpoint(ctx, req, res, url);
    }
  }

  /** `/token_keys?zid=`: xssec reads a 400 as "this zone is not vouched for" and rejects the token (REFERENCE.md §3). */
  async function zoneOfQuery(url: URL): Promise<Zone> {
    const zid = url.searchParams.get('zid');
    const zone = zid && isZoneId(zid) ? await options.directory.getZone(zid) : undefined;
    if (!zone) throw new InvalidRequest('Unknown or missing zid');
    return zone;
  }

  async function sendTokenKeys(res: ServerResponse, zone: Zone): Promise<void> {
    sendJson(res, 200, { keys: await keys.tokenKeys(zone.id) }, { 'cache-control': 'public, max-age=60' });
  }

  async function bareDomain(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.pathname === '/token_keys') {
      await sendTokenKeys(res, await zoneOfQuery(url));
      return;
    }
    const named = await zoneOfHeader(req);
    if (url.pathname === '/oauth/token') {
      // @sap/xssec 4 asks here for a tenant's token: the bare uaadomain with x-zid.
      if (!named) throw new InvalidRequest('Missing x-zid: the uaadomain issues tokens only for a zone named by id');
      await handleToken(contextFor(named, req, true), req, res);
      return;
    }
    if (named) throw new InvalidRequest('x-zid is honoured by /oauth/token only');
    if (await adminApi(req, res, undefined)) return;
    notFound(req, res, 'ZG_ERR_ROUTE_NOT_FOUND', 'No such endpoint.');
  }

  /**
   * The request's host name read as the gateway reads it (the same function, the same trusted
   * proxies), so that the gateway hands over exactly the hosts the zones then serve (issue 11).
   */
  function hostOf(req: IncomingMessage): string {
    try {
      return requestOrigin(req, trustedProxies).hostname;
    } catch (err) {
      throw new InvalidRequest(err instanceof Error ? err.message : 'The request has no valid Host header');
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = hostOf(req);
    const url = new URL(req.url ?? '/', 'http://zone.invalid');
    if (host === uaaDomain) {
      await bareDomain(req, res, url);
      return;
    }
    const subdomain = host.endsWith(`.${uaaDomain}`) ? host.slice(0, -uaaDomain.length - 1) : '';
    const zone = isSubdomain(subdomain) ? await options.directory.getZoneBySubdomain(subdomain) : undefined;
    if (!zone) {
      notFound(req, res, 'ZG_ERR_HOST_UNMATCHED', 'There is no identity zone at this address.');
      return;
    }
    // x-zid on a zone host: @sap/xssec 3 sends it to the provider's URL to get a tenant's token. The
    // token endpoint answers for the zone it names (or refuses); every other endpoint would answer
    // for the host's zone while the caller asked about another, so it refuses instead (UAA, too,
    // switches zones by header only where it documents it).
    const named = await zoneOfHeader(req);
    if (named && url.pathname === '/oauth/token') {
      await handleToken(contextFor(named, req, true), req, res);
      return;
    }
    if (named && named.id !== zone.id) throw new InvalidRequest(`x-zid names another zone than this host's; only /oauth/token honours it`);
    const ctx = contextFor(zone, req);
    if (await zoneEndpoint(ctx, req, res, url)) return;
    if (await adminApi(req, res, zone)) return;
    notFound(req, res, 'ZG_ERR_ROUTE_NOT_FOUND', 'No such endpoint.');
  }

  function fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const oauthErr = toOAuthError(err);
    if (!oauthErr.expose) logger.error('identity server error', { path: req.url?.split('?')[0], err: err instanceof Error ? err.stack : String(err) });
    const path = (req.url ?? '/').split('?')[0]!;
    sendError(req, res, oauthErr, { oauth: true, html: PAGE_PATHS.has(path) || path.startsWith(CALLBACK_PREFIX) || path.startsWith(LOGOUT_CALLBACK_PREFIX) ? 'browsers' : 'never', page: zonePage(zoneErrorPage(undefined)) });
  }

  return {
    handle(req, res) {
      // Inside the gateway the request is named already (its x-request-id); standalone, here, so that
      // an error page can give support an id to look for.
      if (!res.hasHeader('x-request-id')) res.setHeader('x-request-id', requestIdOf(req.headers) ?? randomUUID());
      route(req, res).catch((err: unknown) => fail(req, res, err));
    },
    removeZone(zoneId) {
      return removeZone(removal, zoneId);
    },
    async rotateKeys(zoneId) {
      const ids = zoneId ? [zoneId] : (await options.directory.listZones()).map((z) => z.id);
      const kids: string[] = [];
      for (const id of ids) kids.push(await keys.rotateKeys(id));
      return kids;
    },
    authenticateToken(zone, token) {
      return principalOf(zone, token);
    },
    adminClient: { clientId: admin.application.clientId, clientSecret: admin.clientSecret },
    keys,
    clients,
    invitations,
    async close() {
      // Nothing of its own to release: storage and directory belong to the caller.
    },
  };
}
