/**
 * A zone's external identity providers (issue 13), in UAA's model (REFERENCE.md §9): each has an
 * `originKey`, unique in its zone, which becomes the `origin` of its users and of their tokens. Three
 * kinds: OpenID Connect (`oidc1.0`), SAML 2.0 (`saml`, the zone a SAML service provider), and a
 * tenant's user backend (`userbackend`: the zone's own form, the password checked by the tenant's
 * HTTPS endpoint, as Uitsmijter's providers do).
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
  /**
   * Logout at the zone logs out at the IdP too (OpenID Connect RP-Initiated Logout 1.0), when its
   * discovery document names an `end_session_endpoint`. Absent: true.
   */
  logout?: boolean;
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

/**
 * What the zone, as a SAML 2.0 service provider, needs to know about an IdP (UAA's SAML config:
 * `metaDataLocation`, `nameID`, `attributeMappings`).
 */
export interface SamlConfig {
  /** The IdP's metadata: an https URL (http on a loopback host) or the EntityDescriptor XML itself. */
  metaDataLocation: string;
  /** The NameID format asked for in the AuthnRequest (UAA's `nameID`). */
  nameID: string;
  /**
   * Which attribute holds each part of the shadow user; `user_name` "NameID" (the default) takes the
   * assertion's subject NameID, as UAA does.
   */
  attributeMappings: AttributeMappings;
}

export const SAML_NAME_ID_UNSPECIFIED = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';
/** The `user_name` mapping that names the subject's NameID rather than an attribute. */
export const NAME_ID = 'NameID';

export const DEFAULT_SAML_ATTRIBUTE_MAPPINGS: AttributeMappings = {
  user_name: NAME_ID,
  email: 'email',
  given_name: 'given_name',
  family_name: 'family_name',
  external_groups: ['groups'],
};

/**
 * A tenant's user backend: the zone shows its own login form and asks this endpoint whether the user
 * name and password are valid (POST, JSON, HMAC-signed with the shared secret; ./user-backend.ts).
 * The zone never stores the password.
 */
export interface UserBackendConfig {
  /** https (http only on a loopback host). */
  url: string;
  /** PEM of the CA(s) the endpoint's certificate must chain to; unset: the system's CAs. */
  caCertificate?: string;
  /** How long the zone waits for the answer. */
  timeoutMs: number;
  /** Which field of the answer's `user` object holds each part of the shadow user. */
  attributeMappings: AttributeMappings;
}

export const DEFAULT_USER_BACKEND_TIMEOUT_MS = 5000;

interface IdentityProviderBase {
  /** GUID, as UAA's `id`. */
  id: string;
  zoneId: string;
  originKey: string;
  name: string;
  active: boolean;
  /** Whether a secret is stored (the OIDC client secret, the user backend's shared secret; never returned). */
  hasSecret: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface OidcIdentityProvider extends IdentityProviderBase {
  type: 'oidc1.0';
  config: OidcConfig;
}

export interface SamlIdentityProvider extends IdentityProviderBase {
  type: 'saml';
  config: SamlConfig;
}

export interface UserBackendIdentityProvider extends IdentityProviderBase {
  type: 'userbackend';
  config: UserBackendConfig;
}

export type IdentityProvider = OidcIdentityProvider | SamlIdentityProvider | UserBackendIdentityProvider;
/** The providers the browser is sent to (a user backend is asked by the zone itself, behind its own form). */
export type RedirectingIdentityProvider = OidcIdentityProvider | SamlIdentityProvider;
export type IdentityProviderType = IdentityProvider['type'];

/** XSUAA's role collection mapping: a user whose IdP asserts `group` gets `roleCollection`. */
export interface RoleCollectionMapping {
  group: string;
  roleCollection: string;
}
