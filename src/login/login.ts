import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oidc from 'openid-client';
import { GatewayError } from '../errors.js';
import { wantsHtml } from '../http/render-error.js';
import type { Logger } from '../log.js';
import { normalizeRequestTarget } from '../routing/request-target.js';
import { requiredScopes, type CompiledRoute } from '../routing/route-table.js';
import type { RequestContext } from '../server/context.js';
import { DOMAIN_SESSION_COOKIE, SECURE_SESSION_COOKIE, SESSION_COOKIE, type ForwardAuthLogin, type LoginFeature, type LoginRedirect, type Verdict } from './contract.js';
import { LOGGED_OUT_PATH, loggedOutPage } from './logged-out-page.js';
import type { Storage } from '../storage/types.js';
import type { CookieDomains } from '../sessions/cookie-domain.js';
import { withinPrefix } from '../tenant/path.js';
import type { Keyring } from '../sessions/crypto.js';
import { createSessionOpener, type CookieScope, type OpenedSession, type RecentSession } from '../sessions/request-session.js';
import type { StorageSessionStore } from '../sessions/store.js';
import type { SessionUser } from '../sessions/types.js';
import { LockTimeoutError, withLock } from '../storage/lock.js';
import { applyCsrf, asksForCsrfToken } from './csrf.js';
import { bindLoginCookie, LOGIN_COOKIE_PREFIX, settleLoginCookies, type LoginCookieOptions } from './login-binding.js';
import type { RelyingParty } from './relying-party.js';
import { userFromClaims } from './session-data.js';
import { applyChanges } from '../proxy/backend-cookies.js';
import type { LoginMetrics } from '../metrics/types.js';

export const CALLBACK_PATH = '/login/callback';
const LOGIN_TTL_MS = 10 * 60_000;
/** How long one session's refresh holds its lock: longer than a refresh and its save can take. */
const REFRESH_LOCK_TTL_MS = 15_000;
/**
 * How long after taking the refresh lock a save of renewed tokens is still retried. With one more
 * attempt after it (a write and its change notice, each bounded by the Redis command timeout, 2 s)
 * it stays within the lock's TTL, so no other request can refresh meanwhile with the spent token.
 */
const RENEWED_SAVE_RETRY_MS = 10_000;

export interface LoginOptions {
  relyingParty: RelyingParty;
  storage: Storage;
  sessionStore: StorageSessionStore;
  /** Seals pending logins (PKCE verifier, nonce) in storage: the session store's keyring. */
  keyring: Keyring;
  /** Cookie signing secrets; the first signs, all verify (rotation). */
  sessionSecrets: string[];
  /** Refresh the access token this long before it expires (default 5 minutes). */
  refreshAheadMs?: number;
  /** routes.json `logout`; without a `page`, logout ends on the gateway's own logged-out page (LOGGED_OUT_PATH). */
  logout: { endpoint?: string; page?: string; methods: readonly ('GET' | 'POST')[]; csrfProtection?: boolean };
  /**
   * The role collections that grant each scope (expanded, as routes require it), from xs-security.json:
   * a 403 page names the ones to ask the administrator for. Empty without an xs-security.json.
   */
  roleCollections?: ReadonlyMap<string, readonly string[]>;
  /** The zone used without TENANT_HOST_PATTERN (single-tenant): the binding's own zone. */
  providerTenant: string;
  clientId: string;
  /** SESSION_COOKIE_DOMAIN: the session cookie's Domain per tenant; host-only without it. */
  cookieDomains?: CookieDomains;
  logger: Logger;
  /** Counts logins started, succeeded and failed (src/metrics/); undefined when metrics are off. */
  metrics?: LoginMetrics;
  now?: () => number;
}

/** Authenticated through the session: one opened for this request, or a recent read (frozen). */
interface SessionVerdict {
  authorization: string;
  user: SessionUser;
  session: OpenedSession | RecentSession;
}

/** Authenticated by a bearer token (service-to-service), no session. */
interface BearerVerdict {
  authorization: string;
  user: SessionUser;
  session: undefined;
}

interface PendingLogin {
  tenant: string;
  verifier: string;
  nonce: string;
  redirectUri: string;
  returnTo: string;
}

/**
 * The gateway's login (the relying-party side): OpenID Connect code flow with PKCE against the
 * tenant's zone, tokens kept server-side in an express-session whose cookie holds only the id,
 * route scopes, SAP's CSRF protocol, the user API and logout. All login state lives in storage, so
 * any instance finishes a login another began.
 */
export function createLogin(options: LoginOptions): LoginFeature & ForwardAuthLogin {
  const { relyingParty: rp, storage, logger } = options;
  const now = options.now ?? Date.now;
  const refreshAheadMs = options.refreshAheadMs ?? 5 * 60_000;
  const sessions = createSessionOpener({
    store: options.sessionStore,
    secrets: options.sessionSecrets,
    cookieNames: { plain: SESSION_COOKIE, secure: SECURE_SESSION_COOKIE, secureDomain: DOMAIN_SESSION_COOKIE },
  });
  const isSecure = (ctx: RequestContext) => ctx.origin!.protocol === 'https';
  /** The session cookie's Domain for this request's tenant and host; undefined: host-only. */
  const domainOf = (ctx: RequestContext) => options.cookieDomains?.domainFor(ctx.tenant, ctx.origin!.hostname);

  /**
   * The session cookie's scope: the tenant's Domain, and a path tenant's prefix as its Path, so that
   * the sessions of two path tenants in one browser stay apart (src/tenant/path.ts).
   */
  const scopeOf = (ctx: RequestContext): CookieScope | undefined => {
    const domain = domainOf(ctx);
    return domain === undefined && ctx.tenantPrefix === undefined ? undefined : { domain, path: ctx.tenantPrefix };
  };
  /** A path of the gateway as the client addresses it: inside a path tenant's prefix. */
  const tenantUrl = (ctx: RequestContext, path: string) => withinPrefix(ctx.tenantPrefix, path);

  const openSession = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => sessions.open(req, res, isSecure(ctx), scopeOf(ctx));

  const tenantOf = (ctx: RequestContext) => ctx.tenant ?? options.providerTenant;
  const loginCookieOptions = (ctx: RequestContext): LoginCookieOptions => ({
    path: tenantUrl(ctx, CALLBACK_PATH),
    maxAgeSeconds: LOGIN_TTL_MS / 1000,
    secure: isSecure(ctx),
  });
  /** The request's session cookie for its trusted origin: over https only the `__Host-` one counts. */
  const sessionCookieOf = (req: IncomingMessage, ctx: RequestContext) => sessions.cookieOf(req, isSecure(ctx), scopeOf(ctx));

  function unauthenticated(message: string): GatewayError {
    return new GatewayError('ZG_ERR_UNAUTHENTICATED', message, { headers: { 'www-authenticate': 'Bearer realm="zonegate"' } });
  }

  function requireScopes(route: CompiledRoute, method: string, scopes: readonly string[]): void {
    if (route.gate) requireScopes(route.gate, method, scopes);
    const needed = requiredScopes(route, method);
    if (!needed || needed.some((s) => scopes.includes(s))) return;
    const collections = [...new Set(needed.flatMap((s) => options.roleCollections?.get(s) ?? []))];
    throw new GatewayError(
      'ZG_ERR_FORBIDDEN',
      needed.length ? `This route needs the scope ${needed.join(' or ')}` : `This route admits no ${method} requests: its scope lists neither ${method} nor a default`,
      collections.length ? { advice: `Your account lacks the role for this page. Ask your administrator for the role collection ${collections.map((c) => `"${c}"`).join(' or ')}, or log in as another user.` } : {},
    );
  }

  /** Requests that must not be sent to a login page (SAP: XHR, non-GET, non-HTML clients). */
  function isApiClient(req: IncomingMessage): boolean {
    return (req.method !== 'GET' && req.method !== 'HEAD') || !wantsHtml(req);
  }

  async function startLogin(res: ServerResponse, ctx: RequestContext, returnTo = tenantReturnPath(ctx.originalUrl, ctx.tenantPrefix)): Promise<LoginRedirect> {
    const tenant = tenantOf(ctx);
    const zone = await rp.zone(tenant);
    const origin = ctx.origin!;
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const verifier = oidc.randomPKCECodeVerifier();
    const redirectUri = `${origin.protocol}://${origin.host}${tenantUrl(ctx, CALLBACK_PATH)}`;
    const pending: PendingLogin = { tenant, verifier, nonce, redirectUri, returnTo };
    // Sealed: the verifier is what makes a stolen code worthless (RFC 7636 §1), the nonce what binds
    // the id token to this login; a dump of the storage must yield neither. Bound to the state, so a
    // record moved under another login's key does not open.
    await storage.set(`login:${state}`, options.keyring.seal(JSON.stringify(pending), pendingLoginAad(state)), { ttlMs: LOGIN_TTL_MS });
    const location = oidc.buildAuthorizationUrl(zone.config, {
      redirect_uri: redirectUri,
      // No `scope`: like SAP's approuter, ask for everything the user has for this client; XSUAA
      // then narrows nothing and includes `openid` (REFERENCE.md §5).
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      // A route's identityProvider, as SAP's router passes it: XSUAA's login_hint {"origin": "<key>"} (REFERENCE.md §9).
      ...(ctx.route?.identityProvider !== undefined ? { login_hint: JSON.stringify({ origin: ctx.route.identityProvider }) } : {}),
    });
    res.setHeader('set-cookie', bindLoginCookie(state, now(), loginCookieOptions(ctx)));
    options.metrics?.loginStarted(tenant);
    return { redirect: location.href };
  }

  async function handleCallback(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<LoginRedirect> {
    const origin = ctx.origin!;
    const tenant = tenantOf(ctx);
    const url = new URL(ctx.originalUrl, `${origin.protocol}://${origin.host}`);
    const state = url.searchParams.get('state');
    const binding = settleLoginCookies(req.headers.cookie, state, loginCookieOptions(ctx));
    if (binding.setCookies.length > 0) res.setHeader('set-cookie', binding.setCookies);
    if (!state || !binding.bound) {
      throw loginFailed('This login was not started in this browser. Open the application again to log in.');
    }
    const stored = await storage.take(`login:${state}`);
    const opened = stored === undefined ? undefined : options.keyring.open(stored, pendingLoginAad(state));
    // Absent, or not sealed for this state (altered, moved, or sealed with a key since removed).
    if (opened === undefined) throw loginFailed('This login has expired or was already completed. Open the application again to log in.');
    const pending = JSON.parse(opened) as PendingLogin;
    if (pending.tenant !== tenant) throw loginFailed('This login was started for another tenant.');
    const error = url.searchParams.get('error');
    if (error) {
      throw loginFailed(`The identity zone refused the login (${error}${url.searchParams.get('error_description') ? `: ${url.searchParams.get('error_description')}` : ''}).`);
    }
    const zone = await rp.zone(tenant);
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(
        zone.config,
        new URL(pending.redirectUri + url.search),
        { pkceCodeVerifier: pending.verifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true },
        { redirect_uri: pending.redirectUri },
      );
    } catch (err) {
      logger.warn('login code exchange failed', { requestId: ctx.id, tenant, error: describe(err) });
      throw loginFailed('The identity zone did not accept this login. Open the application again to log in.', err);
    }
    // A browser at the callback gets a login failure, not a bearer challenge: the token the zone
    // issued is not one this application accepts (wrong zone, or not issued for this client).
    const claims = await zone.verifyAccessToken(tokens.access_token).catch((err: unknown) => {
      logger.warn('login token refused', { requestId: ctx.id, tenant, error: describe(err) });
      throw loginFailed('The identity zone issued a token this application does not accept. Open the application again to log in.', err);
    });
    const idClaims = tokens.claims();
    if (idClaims && typeof idClaims.zid === 'string' && idClaims.zid !== claims.zid) {
      throw loginFailed('The id token and the access token name different zones.');
    }
    const loggedIn = await openSession(req, res, ctx);
    // A fresh session id at login: an id planted before it is worthless (session fixation).
    await loggedIn.regenerate();
    const s = loggedIn.data;
    s.tenant = tenant;
    s.user = userFromClaims(claims);
    s.tokens = {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      // The id token has served its purpose (validated above); kept out of the session, which is
      // read, hashed by express-session and sealed on every request.
      expiresAt: now() + (tokens.expires_in ?? 0) * 1000,
    };
    await loggedIn.save();
    logger.info('login', { requestId: ctx.id, tenant, zoneId: claims.zid, user: s.user.name });
    return { redirect: pending.returnTo };
  }

  /** Refreshes the access token shortly before it expires, once per session across all instances. */
  async function ensureFresh(opened: OpenedSession, ctx: RequestContext): Promise<void> {
    const tokens = opened.data.tokens!;
    if (tokens.expiresAt === undefined || tokens.expiresAt - now() > refreshAheadMs) return;
    const tenant = tenantOf(ctx);
    await withLock(storage, `refresh:${opened.id}`, { ttlMs: REFRESH_LOCK_TTL_MS, waitMs: REFRESH_LOCK_TTL_MS }, async (): Promise<void> => {
      const lockedAt = Date.now();
      // Another request (or instance) may have refreshed while this one waited. A reload that fails
      // must stop here: going on with the copy read before the wait could spend a refresh token
      // another request has already rotated (reuse revokes the whole family), or spend one while the
      // new tokens cannot be stored. Storage unreachable: 503, the session stays as it is.
      try {
        await opened.reload();
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'ZG_ERR_STORAGE_UNAVAILABLE') throw err;
        // express-session's "failed to load session": it was ended (logout, elsewhere) meanwhile.
        throw unauthenticated('The session has ended');
      }
      const s = opened.data;
      const current = s.tokens;
      if (!current) throw unauthenticated('The session has ended');
      if (current.expiresAt === undefined || current.expiresAt - now() > refreshAheadMs) return;
      if (!current.refreshToken) {
        if (current.expiresAt > now()) return;
        throw await endSession(opened, 'The session has expired');
      }
      const zone = await rp.zone(tenant);
      let refreshed: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
      try {
        refreshed = await oidc.refreshTokenGrant(zone.config, current.refreshToken);
      } catch (err) {
        if (err instanceof oidc.ResponseBodyError) {
          logger.info('refresh refused; session ended', { requestId: ctx.id, tenant, error: err.error });
          throw await endSession(opened, 'The session has expired');
        }
        // The zone is unreachable: the current token still works until it really expires.
        if (current.expiresAt > now()) return;
        throw new GatewayError('ZG_ERR_IDP_UNAVAILABLE', 'The identity zone cannot be reached to renew the session', { cause: err, expose: true });
      }
      // A renewed token this application does not accept ends the session: keeping the old one
      // would outlive what the zone now says.
      const claims = await zone.verifyAccessToken(refreshed.access_token).catch(async (err: unknown) => {
        logger.warn('refreshed token refused; session ended', { requestId: ctx.id, tenant, error: describe(err) });
        throw await endSession(opened, 'The session has expired');
      });
      s.user = userFromClaims(claims);
      s.tokens = {
        accessToken: refreshed.access_token,
        refreshToken: refreshed.refresh_token ?? current.refreshToken,
        expiresAt: now() + (refreshed.expires_in ?? 0) * 1000,
      };
      await saveRenewed(opened, lockedAt + RENEWED_SAVE_RETRY_MS);
    }).catch((err: unknown) => {
      if (err instanceof LockTimeoutError) {
        throw new GatewayError('ZG_ERR_IDP_UNAVAILABLE', 'The session is being renewed by another request that did not finish in time', { cause: err, expose: true });
      }
      throw err;
    });
  }

  /**
   * Stores the tokens a refresh has just yielded. The zone has rotated the refresh token (RFC 9700
   * §4.14.2): the stored one is spent, and presenting it again revokes the whole token family, so
   * tokens lost to a storage hiccup here would end the session at its next refresh. While the
   * refresh lock holds (no other request refreshes meanwhile) a save that finds the storage
   * unavailable is tried again; the request waits, as it would for a slow zone.
   */
  async function saveRenewed(opened: OpenedSession, retryUntil: number): Promise<void> {
    for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
      try {
        await opened.save();
        return;
      } catch (err) {
        const unavailable = err instanceof GatewayError && err.code === 'ZG_ERR_STORAGE_UNAVAILABLE';
        if (!unavailable || Date.now() + delay >= retryUntil) throw err;
        await sleep(delay);
      }
    }
  }

  async function endSession(opened: OpenedSession, message: string): Promise<GatewayError> {
    await opened.destroy().catch(() => undefined);
    return unauthenticated(message);
  }

  /**
   * A request that only reads its session, answered from what this process read of it moments ago
   * (StorageSessionStore.peek) instead of through express-session again: the same verdict, without
   * the storage read, the decryption and express-session's per-request work. Undefined whenever
   * express-session has something to do: a cookie it has not verified here, no recent read, a
   * session of another tenant (logged there), a refresh due, a CSRF token to create.
   */
  function recentSession(req: IncomingMessage, ctx: RequestContext, raw: string): SessionVerdict | undefined {
    return readOnlyVerdict(req, ctx, sessions.recent(raw));
  }

  /** The verdict on a session read for a request that leaves it as it is; undefined when express-session must open it. */
  function readOnlyVerdict(req: IncomingMessage, ctx: RequestContext, recent: RecentSession | undefined): SessionVerdict | undefined {
    const s = recent?.data;
    if (s === undefined || s.tenant !== tenantOf(ctx) || !s.user || !s.tokens) return undefined;
    const expiresAt = s.tokens.expiresAt;
    if (expiresAt !== undefined && expiresAt - now() <= refreshAheadMs) return undefined;
    if (s.csrfToken === undefined && asksForCsrfToken(req)) return undefined;
    return { authorization: `Bearer ${s.tokens.accessToken}`, user: s.user, session: recent! };
  }

  /** Verdict for a request that carries a session or a bearer token; 'login' when it has neither. */
  async function authenticate(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<SessionVerdict | BearerVerdict | 'login'> {
    const tenant = tenantOf(ctx);
    // Over https only the `__Host-` cookie counts: an unprefixed one may have been planted by a
    // sibling subdomain or over plain http (RFC 6265bis §8.5).
    const raw = sessionCookieOf(req, ctx);
    if (raw === undefined) {
      // SAP's service-to-approuter header is read first (middleware/service-to-approuter-middleware.js):
      // a service sends it when its own Authorization is meant for something else on the way.
      const approuter = req.headers['x-approuter-authorization'];
      const bearer = bearerToken(typeof approuter === 'string' ? approuter : req.headers.authorization);
      // Service-to-service: a valid token of this tenant's zone, no session (REFERENCE.md §3 rules).
      if (bearer !== undefined) {
        const zone = await rp.zone(tenant);
        const claims = await zone.verifyAccessToken(bearer);
        return { authorization: `Bearer ${bearer}`, user: userFromClaims(claims), session: undefined };
      }
    } else {
      const recent = recentSession(req, ctx, raw) ?? readOnlyVerdict(req, ctx, await sessions.load(raw));
      if (recent !== undefined) return recent;
    }
    const opened = await openSession(req, res, ctx);
    const s = opened.data;
    if (s.user && s.tenant !== tenant) {
      // Host-only cookies never cross tenants by themselves: this cookie was carried over on purpose.
      logger.warn('session of another tenant ignored', { requestId: ctx.id, tenant, sessionTenant: s.tenant });
      return 'login';
    }
    if (!s.user || !s.tokens) return 'login';
    await ensureFresh(opened, ctx);
    const fresh = opened.data;
    return { authorization: `Bearer ${fresh.tokens!.accessToken}`, user: fresh.user!, session: opened };
  }

  /** Scopes and CSRF for a request the session or a bearer token has authenticated. */
  function authorize(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, verdict: SessionVerdict | BearerVerdict): Verdict {
    const route = ctx.route!;
    // Known before the scopes are checked: a 403 page says who is logged in.
    ctx.user = verdict.user;
    requireScopes(route, req.method ?? 'GET', verdict.user.scopes);
    if (!verdict.session) return { authorization: verdict.authorization, user: verdict.user };
    ctx.session = verdict.session;
    // A recent read is frozen: it serves only requests that leave the session as it is (recentSession).
    applyCsrf(req, res, verdict.session.data, route.csrfProtection);
    return { authorization: verdict.authorization, user: verdict.user, sessionId: verdict.session.id, backendCookies: verdict.session.data.backendCookies };
  }

  /**
   * The session of a request on a public route, read as a protected route reads it, but only used:
   * an access token that has expired is not refreshed (a refresh may end the session, and a public
   * request must not fail or log anyone out), and nothing is ever answered from here.
   */
  async function sessionThroughStore(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, raw: string): Promise<Verdict | undefined> {
    let opened: OpenedSession;
    try {
      const loaded = readOnlyVerdict(req, ctx, await sessions.load(raw));
      if (loaded !== undefined) return usedOnPublicRoute(ctx, loaded);
      opened = await openSession(req, res, ctx);
    } catch (err) {
      logger.info('session unreadable on a public route; request sent without it', { requestId: ctx.id, tenant: ctx.tenant, error: describe(err) });
      return undefined;
    }
    const s = opened.data;
    if (!s.user || !s.tokens || s.tenant !== tenantOf(ctx)) return undefined;
    if (s.tokens.expiresAt !== undefined && s.tokens.expiresAt <= now()) return undefined;
    ctx.session = opened;
    return { authorization: `Bearer ${s.tokens.accessToken}`, user: s.user, sessionId: opened.id, backendCookies: s.backendCookies };
  }

  /** A session read as it is, for a public route's request (no scopes, no CSRF: nothing is answered from it). */
  function usedOnPublicRoute(ctx: RequestContext, verdict: SessionVerdict): Verdict {
    ctx.session = verdict.session;
    return { authorization: verdict.authorization, user: verdict.user, sessionId: verdict.session.id, backendCookies: verdict.session.data.backendCookies };
  }

  async function checkThroughSession(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<Verdict | LoginRedirect> {
    const verdict = await authenticate(req, res, ctx);
    if (verdict === 'login') {
      if (isApiClient(req)) throw unauthenticated('This route requires a login');
      return startLogin(res, ctx);
    }
    return authorize(req, res, ctx, verdict);
  }

  return {
    // The login cookies (login-binding.ts, `zonegate.login.<id>`) are a family: listed by prefix. Their
    // Path is the callback, so browsers send them only to paths below it; a backend must still never
    // set one (it would plant a login binding).
    ownCookies: new Set([SESSION_COOKIE, SECURE_SESSION_COOKIE, DOMAIN_SESSION_COOKIE, `${LOGIN_COOKIE_PREFIX}*`]),
    ownPaths: ownPathsOf(options.logout.endpoint, options.logout.page),

    async handleOwnPath(req, res, ctx, pathname) {
      ctx.answeredBy = 'login';
      if (pathname === CALLBACK_PATH) {
        const { metrics } = options;
        // The span covers the code exchange at the zone (RFC 6749 §4.1.3) and the session it opens.
        const callback = ctx.trace === undefined ? handleCallback(req, res, ctx) : ctx.trace.inSpan('login callback', { 'zonegate.tenant': tenantOf(ctx) }, () => handleCallback(req, res, ctx));
        if (metrics === undefined) return callback;
        return callback.then(
          (done) => (metrics.loginSucceeded(tenantOf(ctx)), done),
          (err: unknown) => {
            metrics.loginFailed(tenantOf(ctx));
            throw err;
          },
        );
      }
      if (options.logout.endpoint !== undefined && pathname === options.logout.endpoint) return logout(req, res, ctx);
      if (pathname === LOGGED_OUT_PATH && options.logout.page === undefined) return { html: loggedOutPage(tenantUrl(ctx, '/')) };
      return undefined;
    },

    check(req, res, ctx) {
      // A session read moments ago: decided here and now, no promise (the common case under load).
      const raw = sessionCookieOf(req, ctx);
      const recent = raw === undefined ? undefined : recentSession(req, ctx, raw);
      if (recent === undefined) return checkThroughSession(req, res, ctx);
      try {
        return authorize(req, res, ctx, recent);
      } catch (err) {
        return Promise.reject(err);
      }
    },

    decide(req, res, ctx, route, method) {
      const permit = (verdict: SessionVerdict | BearerVerdict): Verdict => {
        requireScopes(route, method, verdict.user.scopes);
        ctx.session = verdict.session;
        return { authorization: verdict.authorization, user: verdict.user, sessionId: verdict.session?.id };
      };
      // A session read moments ago: decided without a promise, as check() does.
      const raw = sessionCookieOf(req, ctx);
      const recent = raw === undefined ? undefined : recentSession(req, ctx, raw);
      if (recent === undefined) return authenticate(req, res, ctx).then((verdict) => (verdict === 'login' ? verdict : permit(verdict)));
      try {
        return permit(recent);
      } catch (err) {
        return Promise.reject(err);
      }
    },

    startLogin: (res, ctx, returnTo) => startLogin(res, ctx, returnTo),

    returnTarget(rd, ctx) {
      const home = tenantUrl(ctx, '/');
      if (rd.startsWith('/')) return tenantReturnPath(rd, ctx.tenantPrefix);
      let url: URL;
      try {
        url = new URL(rd);
      } catch {
        return home;
      }
      const origin = ctx.origin!;
      if (url.protocol !== `${origin.protocol}:` || url.username !== '' || url.password !== '') return home;
      const path = url.pathname + url.search + url.hash;
      if (tenantReturnPath(path, ctx.tenantPrefix) !== path) return home;
      if (url.host === origin.host.toLowerCase()) return path;
      // Another host only where the tenant's session cookie reaches: the user's login is valid there,
      // and it is the tenant's own site (SESSION_COOKIE_DOMAIN holds {subdomain}).
      const domain = domainOf(ctx);
      const covered = domain !== undefined && (url.hostname === domain || url.hostname.endsWith(`.${domain}`));
      return covered ? url.href : home;
    },

    async checkUpgrade(req, ctx) {
      const origin = ctx.origin!;
      // Browsers always send Origin on WebSocket handshakes; another site's page must not ride the cookie.
      const expected = `${origin.protocol}://${origin.host}`;
      if (req.headers.origin !== undefined && req.headers.origin !== expected) {
        throw new GatewayError('ZG_ERR_FORBIDDEN', 'The WebSocket Origin is not this application');
      }
      const res = new http.ServerResponse(req);
      const verdict = await authenticate(req, res, ctx);
      if (verdict === 'login') throw unauthenticated('This WebSocket route requires a login');
      if (verdict.session && req.headers.origin === undefined) {
        throw new GatewayError('ZG_ERR_FORBIDDEN', 'A WebSocket using the session must send its Origin');
      }
      requireScopes(ctx.route!, 'GET', verdict.user.scopes);
      ctx.session = verdict.session;
      return { authorization: verdict.authorization, user: verdict.user };
    },

    sessionOnPublicRoute(req, res, ctx) {
      const raw = sessionCookieOf(req, ctx);
      if (raw === undefined) return undefined;
      const recent = recentSession(req, ctx, raw);
      return recent === undefined ? sessionThroughStore(req, res, ctx, raw) : usedOnPublicRoute(ctx, recent);
    },

    async keepBackendCookies(req, sessionId, destination, changes) {
      // Under the session's refresh lock, on the session as stored: a write from a copy read earlier
      // could put back a refresh token that a concurrent refresh has just spent (RFC 9700 §4.14.2).
      try {
        await withLock(storage, `refresh:${sessionId}`, { ttlMs: REFRESH_LOCK_TTL_MS, waitMs: REFRESH_LOCK_TTL_MS }, async () => {
          const stored = await sessions.read(sessionId);
          // Ended meanwhile (logout): nothing to keep them in.
          if (!stored?.user) return;
          const { cookies, refused } = applyChanges(stored.backendCookies, destination, changes);
          if (refused.length) logger.warn('backend cookies not kept: the session holds as many as it may', { destination, cookies: refused });
          stored.backendCookies = Object.keys(cookies).length ? cookies : undefined;
          await sessions.write(sessionId, stored);
          // A request that loaded the session through express-session saves it again at its end when
          // it changed it (a CSRF token made, as with UI5's first OData call): that copy must hold them too.
          const loaded = sessions.openedFor(req);
          if (loaded?.id === sessionId) loaded.data.backendCookies = stored.backendCookies;
        });
      } catch (err) {
        // The response goes on without them: the backend starts a new session on the next request.
        logger.warn('backend cookies could not be kept in the session', { destination, error: describe(err) });
      }
    },

    async forgetTenant(tenant) {
      rp.forget(tenant);
      const ended = await sessions.endTenant(tenant);
      logger.info('tenant sessions ended', { tenant, sessions: ended });
    },

    async serveUserApi(req, res, _ctx, path, verdict) {
      const user = verdict.user!;
      // The user API describes a user (SAP's /user-api/currentUser); a client acting for itself has
      // none, and its client id must not be answered as if it were a logon name.
      if (user.client) {
        throw new GatewayError('ZG_ERR_FORBIDDEN', 'The user API needs the token of a user; this is a client-credentials token, which names no user');
      }
      const name = path.replace(/^\/+/, '').replace(/[?#].*$/, '');
      let body: unknown;
      if (name === 'currentUser' || name === '') body = currentUser(user);
      else if (name === 'attributes') body = { ...userDetails(user), ...user.attributes };
      else throw new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', `The user API has no "${name}"`);
      const text = JSON.stringify(body);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
      res.end(req.method === 'HEAD' ? undefined : text);
    },
  };

  async function logout(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<LoginRedirect> {
    const method = req.method ?? 'GET';
    if (!options.logout.methods.includes(method as 'GET' | 'POST')) {
      throw new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `Logout accepts ${options.logout.methods.join(', ')}`, {
        headers: { allow: options.logout.methods.join(', ') },
      });
    }
    const opened = await openSession(req, res, ctx);
    const s = opened.data;
    const loggedIn = s.user !== undefined && s.tenant === tenantOf(ctx);
    if (method === 'POST' && loggedIn && options.logout.csrfProtection !== false) applyCsrf(req, res, s, true);
    if (s.user) await opened.destroy();
    const origin = ctx.origin!;
    const secure = origin.protocol === 'https' ? '; Secure' : '';
    const scope = scopeOf(ctx);
    const domain = scope?.domain;
    // The same name, Path, Domain and Secure as the cookie being removed (a `__Host-` cookie needs them all).
    res.setHeader('set-cookie', `${sessions.cookieName(isSecure(ctx), scope)}=; Path=${scope?.path ?? '/'}; Max-Age=0; HttpOnly; SameSite=Lax${secure}${domain === undefined ? '' : `; Domain=${domain}`}`);
    const page = options.logout.page ?? LOGGED_OUT_PATH;
    // A page of the gateway is the tenant's: inside a path tenant's prefix.
    const pageUrl = /^https?:\/\//.test(page) ? page : `${origin.protocol}://${origin.host}${tenantUrl(ctx, page.startsWith('/') ? page : `/${page}`)}`;
    // The zone ends its own SSO session too, then sends the browser to the logout page (REFERENCE.md §4).
    const zoneLogout = `${rp.zoneUrl(tenantOf(ctx))}/logout.do?redirect=${encodeURIComponent(pageUrl)}&client_id=${encodeURIComponent(options.clientId)}`;
    logger.info('logout', { requestId: ctx.id, tenant: ctx.tenant, user: s.user?.name });
    return { redirect: zoneLogout };
  }
}

/**
 * The user as SAP's router describes it (middleware/user-api-middleware.js), field for field: UI
 * code written against it reads these names. Absent names are left out, as SAP's JSON leaves them.
 */
function userDetails(user: SessionUser) {
  return {
    firstname: user.givenName,
    lastname: user.familyName,
    email: user.email ?? user.name,
    name: user.name,
    scopes: user.scopes,
  };
}

/** `/user-api/currentUser`: the details and a displayName, "First Last (name)" or else the name (SAP). */
function currentUser(user: SessionUser) {
  const details = userDetails(user);
  const displayName = details.firstname && details.lastname ? `${details.firstname} ${details.lastname} (${details.name})` : details.name;
  return { ...details, displayName };
}

/**
 * The paths the login answers itself: the OAuth callback, routes.json's logout endpoint, and the
 * logged-out page where that logout ends when routes.json names no page of its own.
 */
export function ownPathsOf(logoutEndpoint: string | undefined, logoutPage?: string): ReadonlySet<string> {
  if (logoutEndpoint === undefined) return new Set([CALLBACK_PATH]);
  return new Set(logoutPage === undefined ? [CALLBACK_PATH, logoutEndpoint, LOGGED_OUT_PATH] : [CALLBACK_PATH, logoutEndpoint]);
}

/** Additional data of a sealed pending login: its purpose and its state (see the session store's aadOf). */
function pendingLoginAad(state: string): string {
  return JSON.stringify(['zonegate-login', state]);
}

/**
 * Where a login of a path tenant may return: a path inside its prefix (`/t/acme/...`), judged as
 * sameOriginPath judges the path without it; anything else returns to the prefix itself, never to
 * another tenant's prefix. Without a prefix: sameOriginPath.
 */
export function tenantReturnPath(url: string, prefix: string | undefined): string {
  if (prefix === undefined) return sameOriginPath(url);
  // `/t/acme/../globex/` starts with acme's prefix and is globex's page once the browser resolves it.
  if (normalizeRequestTarget(url) !== url) return `${prefix}/`;
  const inside = url.startsWith(prefix) && (url.length === prefix.length || url[prefix.length] === '/' || url[prefix.length] === '?');
  if (!inside) return `${prefix}/`;
  const rest = url.slice(prefix.length);
  const path = rest.startsWith('/') ? rest : `/${rest}`;
  return prefix + sameOriginPath(path);
}

/** Only a path on this origin may be returned to after login (no open redirect). */
export function sameOriginPath(url: string): string {
  if (!url.startsWith('/') || url.startsWith('//') || url.startsWith('/\\') || url.startsWith(CALLBACK_PATH)) return '/';
  return url;
}

function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
  return match?.[1];
}


function loginFailed(message: string, cause?: unknown): GatewayError {
  return new GatewayError('ZG_ERR_LOGIN_FAILED', message, { cause, expose: true });
}

function describe(err: unknown): string {
  const e = err as { code?: string; error?: string; message?: string };
  return [e.code, e.error, e.message].filter(Boolean).join(': ');
}
