import type { BackendCookies } from '../proxy/backend-cookies.js';
import type { AccessTokenClaims } from './relying-party.js';
import type {} from '../sessions/types.js';

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

declare module 'express-session' {
  interface SessionData {
    user?: SessionUser;
    csrfToken?: string;
    /** Backend session cookies, per destination (src/proxy/backend-cookies.ts), sealed like the tokens. */
    backendCookies?: BackendCookies;
  }
}

export function userFromClaims(claims: AccessTokenClaims): SessionUser {
  const client = claims.grant_type === 'client_credentials' || claims.user_name === undefined;
  return {
    ...(client ? { client: true as const } : {}),
    name: claims.user_name ?? String(claims.sub ?? ''),
    email: claims.email,
    givenName: claims.given_name,
    familyName: claims.family_name,
    origin: claims.origin,
    zoneId: claims.zid,
    scopes: claims.scope,
    attributes: claims['xs.user.attributes'] ?? {},
  };
}
