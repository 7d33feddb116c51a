import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledRoute } from '../routing/route-table.js';
import type { RequestContext } from '../server/context.js';
import type { BackendCookies, CookieChange } from '../proxy/backend-cookies.js';
import type { SessionUser } from '../sessions/types.js';

/** The session cookie (login feature). Listed here so that it never reaches a backend, login or not. */
export const SESSION_COOKIE = 'zonegate.sid';
/**
 * Its name when the request's trusted origin is https. A `__Host-` cookie is accepted by a browser
 * only with Secure, Path=/ and no Domain, from a secure origin (RFC 6265bis §4.1.3.2), so neither a
 * sibling subdomain (another tenant's host) nor a plain-http page of this host can set or shadow it
 * (cookie tossing); an unprefixed cookie could be set by either.
 */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
/**
 * Its name over https where the tenant's cookie has a Domain (SESSION_COOKIE_DOMAIN): `__Host-` forbids
 * one, `__Secure-` still demands Secure, so a plain-http page cannot set it (RFC 6265bis §4.1.3.1).
 */
export const DOMAIN_SESSION_COOKIE = `__Secure-${SESSION_COOKIE}`;
/** One cookie per pending login, `zonegate.login.<id>` (login-binding.ts): backends neither see nor set any. */
export const LOGIN_COOKIE_PREFIX = 'zonegate.login.';

/** What the login decided for a request on a protected route, or found for one on a public route. */
export interface Verdict {
  /** `Authorization` to forward to destinations with forwardAuthToken. */
  authorization?: string;
  user?: SessionUser;
  /** The session's id, when the request has a session (not for a bearer token): its backend cookies are kept there. */
  sessionId?: string;
  /** The backend cookies kept in that session (src/proxy/backend-cookies.ts). */
  backendCookies?: BackendCookies;
}

/**
 * A redirect the login decided on (to the zone's authorize or logout endpoint, back after the
 * callback). The login returns it and the gateway sends it, so that it carries the gateway's security
 * headers like every other answer of the gateway (issue 11); the login's cookies are already set.
 */
export interface LoginRedirect {
  readonly redirect: string;
}

/** A page the login answers itself (the "You have been logged out" page), sent by the gateway with its headers. */
export interface LoginPage {
  readonly html: string;
}

/**
 * Whether a Cookie header may carry a session cookie (either name contains SESSION_COOKIE): a test
 * without allocation, so that public requests without one never ask the login.
 */
export function maySendSession(cookieHeader: string | undefined): boolean {
  return cookieHeader !== undefined && cookieHeader.includes(SESSION_COOKIE);
}

/**
 * The login feature (src/login/): decides whether a request may use a protected route (session or
 * bearer token, scopes, CSRF) and decides the gateway's own login paths. `check` resolves with the
 * verdict, or a redirect to the login page; it rejects with a GatewayError (401/403/503).
 */
export interface LoginFeature {
  /** The gateway's cookies: names, or `prefix*` for a family of names. Backends neither see nor set them. */
  readonly ownCookies: ReadonlySet<string>;
  /** The paths handleOwnPath answers (`/login/callback`, the logout endpoint, the logged-out page): the gateway asks only for these. */
  readonly ownPaths: ReadonlySet<string>;
  /**
   * The redirect that answers `/login/callback` or the logout endpoint, or the page of the logged-out
   * path; undefined for any other path.
   */
  handleOwnPath(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, pathname: string): Promise<LoginRedirect | LoginPage | undefined>;
  /** The verdict itself, without a promise, when it needs no I/O (a session read moments ago). */
  check(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Verdict | Promise<Verdict | LoginRedirect>;
  checkUpgrade(req: IncomingMessage, ctx: RequestContext): Promise<Verdict>;
  /**
   * The session a request on a public route carries, if any, for its token (forwardAuthToken) and
   * backend cookies: never a login, never a refresh, never an error (a missing, expired or unreadable
   * session is simply none). Without a promise when it needs no I/O.
   */
  sessionOnPublicRoute(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Verdict | undefined | Promise<Verdict | undefined>;
  /**
   * Keeps a backend's session cookies in the session `sessionId` of the request `req` (see
   * backend-cookies.ts); never rejects.
   */
  keepBackendCookies(req: IncomingMessage, sessionId: string, destination: string, changes: readonly CookieChange[]): Promise<void>;
  /** Ends every session of a tenant and forgets its zone (unsubscription). */
  forgetTenant(tenant: string): Promise<void>;
  /** `/user-api/currentUser` and `/user-api/attributes` (service sap-approuter-userapi). */
  serveUserApi(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, path: string, verdict: Verdict): Promise<void>;
}


/**
 * What forward auth (src/forward-auth/) asks of the login: the same session, bearer-token and scope
 * checks as a proxied request gets, for a request another proxy is about to pass on.
 */
export interface ForwardAuthLogin {
  /**
   * The verdict for `method` on `route` (a protected one): the session's or bearer token's user when
   * it holds one of the route's scopes (else a 403 rejection), 'login' when the request has neither.
   * No CSRF token is checked: the proxy cannot hand one back to the client. Without a promise when
   * it needs no I/O.
   */
  decide(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, route: CompiledRoute, method: string): Verdict | Promise<Verdict | 'login'>;
  /** Begins a login at the tenant's zone that returns to `returnTo` (from returnTarget) afterwards. */
  startLogin(res: ServerResponse, ctx: RequestContext, returnTo: string): Promise<LoginRedirect>;
  /**
   * Where a login may return when asked to go to `rd` (same-site only): a path of this origin, or a
   * URL of this origin or of a host the tenant's session cookie covers; `/` for anything else.
   */
  returnTarget(rd: string, ctx: RequestContext): string;
}
