/**
 * A zone's external identity providers (issue 13), in UAA's model (REFERENCE.md §9): each has an
 * `originKey`, unique in its zone, which becomes the `origin` of its users and of their tokens. This
 * slice knows one kind, OpenID Connect (`oidc1.0`); SAML and tenants' user backends come later.
 */

/** What the zone, as a relying party, needs to know about an OpenID provider. */
export interface OidcConfig {
  /**
   * The IdP's discovery document (`.../.well-known/openid-configuration`) or its issuer URL (the
   * document is then looked up under it, OpenID Connect Discovery §4).
   */
  discoveryUrl: string;
  /** The zone's client id at the IdP (UAA: `relyingPartyId`). */
  relyingPartyId: string;
  /** Scopes asked for; always includes `openid`. */
  scopes: string[];
  /** RFC 7636 PKCE with S256 (default on; RFC 9700 §2.1.1 asks every client to use it). */
  pkce: boolean;
  /** Client authentication at the IdP's token endpoint: in the body (client_secret_post) or HTTP Basic (default). */
  clientAuthInBody: boolean;
  /** Which ID token claim holds each part of the shadow user (UAA's `attributeMappings`). */
  attributeMappings: AttributeMappings;
  /**
   * The IdP answers at the gateway's redirect relay (src/platform/relay.ts) instead of the zone's
   * own `/login/callback/<origin>`: one redirect URI registered at the IdP serves every zone (issue
   * 15). Absent in providers stored before it: false.
   */
  useRelay?: boolean;
}

export interface AttributeMappings {
  user_name: string;
  email: string;
  given_name: string;
  family_name: string;
  /** Claims whose values are the user's groups, matched by the role collection mappings. */
  external_groups: string[];
}

export const DEFAULT_ATTRIBUTE_MAPPINGS: AttributeMappings = {
  user_name: 'preferred_username',
  email: 'email',
  given_name: 'given_name',
  family_name: 'family_name',
  external_groups: ['groups'],
};

export interface IdentityProvider {
  /** GUID, as UAA's `id`. */
  id: string;
  zoneId: string;
  originKey: string;
  type: 'oidc1.0';
  name: string;
  active: boolean;
  config: OidcConfig;
  /** Whether a client secret is stored (it is never returned). */
  hasSecret: boolean;
  createdAt: string;
  updatedAt: string;
}

/** XSUAA's role collection mapping: a user whose IdP asserts `group` gets `roleCollection`. */
export interface RoleCollectionMapping {
  group: string;
  roleCollection: string;
}
