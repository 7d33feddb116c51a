/**
 * What a gateway session holds, merged into express-session's `SessionData` (the library's documented
 * way to type `req.session`). The cookie carries only the signed session id; all of this stays in
 * the store, the tokens sealed (./crypto.ts).
 */
export interface SessionTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** When the access token expires, epoch milliseconds (drives the refresh before expiry). */
  expiresAt?: number;
}

declare module 'express-session' {
  interface SessionData {
    /** The tenant (subdomain) the session was established for; another tenant's host must refuse it. */
    tenant?: string;
    tokens?: SessionTokens;
    /** Set by StorageSessionStore: when the session began (epoch ms); the absolute lifetime counts from here. */
    createdAt?: number;
    /** Set by StorageSessionStore: until when the stored copy lives (epoch ms); spares most touches a write. */
    storedUntil?: number;
  }
}
