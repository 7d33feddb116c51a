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
}

declare module 'express-session' {
  interface SessionData {
    user?: SessionUser;
    csrfToken?: string;
  }
}

export function userFromClaims(claims: AccessTokenClaims): SessionUser {
  return {
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
