import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '../server/context.js';
import type { SessionUser } from './session-data.js';

/** The session cookie (login feature). Listed here so that it never reaches a backend, login or not. */
export const SESSION_COOKIE = 'zonegate.sid';
/**
 * Its name when the request's trusted origin is https. A `__Host-` cookie is accepted by a browser
 * only with Secure, Path=/ and no Domain, from a secure origin (RFC 6265bis §4.1.3.2), so neither a
 * sibling subdomain (another tenant's host) nor a plain-http page of this host can set or shadow it
 * (cookie tossing); an unprefixed cookie could be set by either.
 */
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
/** One cookie per pending login, `zonegate.login.<id>` (login-binding.ts): backends neither see nor set any. */
export const LOGIN_COOKIE_PREFIX = 'zonegate.login.';

/** What the login decided for a request on a protected route. */
export interface Verdict {
  /** `Authorization` to forward to destinations with forwardAuthToken. */
  authorization?: string;
  user?: SessionUser;
}

/**
 * The login feature (src/login/): decides whether a request may use a protected route (session or
 * bearer token, scopes, CSRF) and answers the gateway's own login paths. `check` resolves with the
 * verdict, or 'answered' when it has already answered (a redirect to the login page); it rejects
 * with a GatewayError (401/403/503).
 */
export interface LoginFeature {
  /** The gateway's cookies: names, or `prefix*` for a family of names. Backends neither see nor set them. */
  readonly ownCookies: ReadonlySet<string>;
  /** The paths handleOwnPath answers (`/login/callback`, the logout endpoint): the gateway asks only for these. */
  readonly ownPaths: ReadonlySet<string>;
  /** Answers `/login/callback` and the logout endpoint; false for any other path. */
  handleOwnPath(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, pathname: string): Promise<boolean>;
  /** The verdict itself, without a promise, when it needs no I/O (a session read moments ago). */
  check(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Verdict | Promise<Verdict | 'answered'>;
  checkUpgrade(req: IncomingMessage, ctx: RequestContext): Promise<Verdict>;
  /** Ends every session of a tenant and forgets its zone (unsubscription). */
  forgetTenant(tenant: string): Promise<void>;
  /** `/user-api/currentUser` and `/user-api/attributes` (service sap-approuter-userapi). */
  serveUserApi(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, path: string, verdict: Verdict): Promise<void>;
}

