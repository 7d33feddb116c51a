/**
 * Further OAuth clients of an application (issue 14; Uitsmijter's clients, UAA's `/oauth/clients`):
 * beside its own client `sb-<xsappname>!t<N>`, an application may have a web portal, a mobile app,
 * an SPA, a partner's server, each with its own redirect patterns, grants, scopes and zones. They act
 * for the application: their tokens carry the application's scopes (narrowed to the client's) and its
 * instance name in `aud`, so the application's gateway and @sap/xssec accept them.
 *
 * Internal names are camelCase; ./wire.ts converts to and from UAA's wire names once.
 */

/** What the zones keep of a client (migration 5, `oauth_clients.client`); never a secret. */
export interface OAuthClient {
  /** Unique; never `sb-...` (application clients) nor `zonegate-admin`. */
  clientId: string;
  name: string;
  /** The application the client belongs to (its registration, not the instance name). */
  xsappname: string;
  /** A public client (an SPA, a mobile app, an installation at a customer) has no secret and must use PKCE. */
  public: boolean;
  /** A confidential client that must use PKCE too. Public clients always must. */
  pkceOnly: boolean;
  /** `subscribed`: every zone the application may be used in; else those zones (subdomains or ids) among them. */
  zones: 'subscribed' | string[];
  /** Redirect URI patterns in XSUAA's wildcard form (`*` one host label, `**` any path). */
  redirectUris: string[];
  /** Redirect URI patterns as regular expressions, matched whole (anchored), checked for catastrophic backtracking. */
  redirectUriRegex: string[];
  /** Exactly the grants the client may use; `password` only when listed. */
  grantTypes: string[];
  /**
   * The application's scopes the client's tokens may carry, as written (`$XSAPPNAME.Read` or the
   * expanded `myapp!t7.Read`); undefined: all of the application's. A token's scopes are the user's,
   * filtered to these: never more than the application's own client would get.
   */
  scopes?: string[];
  /** Authorities a client-credentials token may carry: only those the application's own client has too. */
  authorities: string[];
  /** When set, /oauth/authorize accepts only requests whose Referer matches one of these (wildcard form). */
  referrers: string[];
  source: 'api' | 'file';
  /** Whether a secret is set (a confidential client declared in clients.json has none until its first rotation). */
  hasSecret: boolean;
  /** Epoch ms until which the secret before the last rotation is still accepted. */
  previousSecretExpiresAt?: number;
  createdAt: string;
  updatedAt: string;
}

/** A client as created or declared (no timestamps, no secret state). */
export type ClientInput = Omit<OAuthClient, 'source' | 'hasSecret' | 'previousSecretExpiresAt' | 'createdAt' | 'updatedAt'>;

/** What the OAuth endpoints need of a further client, on the Application view they work with (./view.ts). */
export interface ClientProfile {
  clientId: string;
  name: string;
  public: boolean;
  pkceOnly: boolean;
  zones: 'subscribed' | string[];
  redirectUriRegex: string[];
  referrers: string[];
  /** Expanded (`myapp!t7.Callback`). */
  authorities: string[];
}
