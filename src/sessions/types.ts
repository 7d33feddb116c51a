import type { BackendCookies } from '../proxy/backend-cookies.js';

/**
 * What a gateway session holds, merged into express-session's `SessionData` (the library's documented
 * way to type `req.session`; only src/sessions/ sees that library). The cookie carries only the
 * signed session id; all of this stays in the store, the tokens sealed (./crypto.ts).
 */
export interface SessionTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** When the access token expires, epoch milliseconds (drives the refresh before expiry). */
  expiresAt?: number;
}

/** The user as the login established it, kept in the session (never the tokens' raw claims). */
export interface SessionUser {
  name: string;
  email?: string;
  givenName?: string;
  familyName?: string;
  origin?: string;
  zoneId: string;
  scopes: string[];
  attributes: Record<string, string[]>;
  /**
   * Set when the token names no user: a client-credentials token (REFERENCE.md §2: no user claims,
   * `sub` = the client id) that a service sent as a bearer token. Never set in a session: a login is
   * always a user's.
   */
  client?: true;
}

export interface GatewaySessionData {
  /** The tenant (subdomain) the session was established for; another tenant's host must refuse it. */
  tenant?: string;
  tokens?: SessionTokens;
  user?: SessionUser;
  csrfToken?: string;
  /** Backend session cookies, per destination (src/proxy/backend-cookies.ts), sealed like the tokens. */
  backendCookies?: BackendCookies;
  /** Set by StorageSessionStore: when the session began (epoch ms); the absolute lifetime counts from here. */
  createdAt?: number;
  /** Set by StorageSessionStore: until when the stored copy lives (epoch ms); spares most touches a write. */
  storedUntil?: number;
}

declare module 'express-session' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface SessionData extends GatewaySessionData {}
}
