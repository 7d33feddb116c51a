/**
 * Types of the configuration documents, as validated by the loaders in this folder.
 * Wire names keep their spelling in the *File types (they mirror the JSON); the loaders convert
 * once, at the boundary, into the camelCase types the rest of the code receives.
 */

// ---- routes.json (SAP's xs-app.json schema, REFERENCE.md §6) ----------------------------------

export type AuthenticationType = 'xsuaa' | 'none' | 'basic' | 'ias';
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'TRACE' | 'CONNECT';

/** A route's `scope`: one scope, any of several, or per HTTP method (with or without a `default`). */
export type ScopeSpec = string | string[] | { [method: string]: string | string[] };

export interface RouteSourceObject {
  path: string;
  matchCase?: boolean;
}

export interface RouteFile {
  source: string | RouteSourceObject;
  target?: string;
  destination?: string;
  localDir?: string;
  service?: string;
  endpoint?: string;
  authenticationType?: AuthenticationType;
  scope?: ScopeSpec;
  csrfProtection?: boolean;
  httpMethods?: HttpMethod[];
  cacheControl?: string;
  identityProvider?: string;
  /** Accepted for compatibility; zonegate reports these as not supported where they matter. */
  replace?: { pathSuffixes?: string[]; vars?: string[]; services?: Record<string, unknown> };
  preferLocal?: boolean;
  dynamicIdentityProvider?: boolean;
  /** Accepted for compatibility with SAP's approuter; ignored (the loader warns). */
  setBackendSessionCookies?: boolean;
  description?: string;
}

/** One rule of routes.json's `cors` (SAP's cors schema); validated and typed, not yet enforced. */
export interface CorsRule {
  uriPattern: string | RouteSourceObject;
  allowedOrigin: (string | { protocol?: string; host: string; port?: number | string })[];
  hostPattern?: string | string[] | Record<string, unknown>;
  allowedMethods?: HttpMethod[];
  allowedHeaders?: string[];
  allowedCredentials?: boolean;
  exposeHeaders?: string[];
  maxAge?: number;
}

export interface RoutesFile {
  welcomeFile?: string;
  authenticationMethod?: 'route' | 'none';
  sessionTimeout?: number;
  logout?: {
    logoutEndpoint?: string;
    logoutPage?: string;
    /** The loader fills this from SAP's single `logoutMethod` when only that is given. */
    logoutMethods?: ('GET' | 'POST')[];
    /** SAP 21.x's spelling (one method); read `logoutMethods` instead. */
    logoutMethod?: 'GET' | 'POST';
    /** Only with POST (SAP's rule). */
    csrfProtection?: boolean;
    /** Accepted; ignored (the loader warns). */
    backChannelLogoutEndpoint?: string;
  };
  login?: { callbackEndpoint?: string };
  routes?: RouteFile[];
  websockets?: { enabled?: boolean };
  responseHeaders?: { name: string; value: string }[];
  compression?: { enabled?: boolean; minSize?: number; compressResponseMixedTypeContent?: boolean };
  errorPage?: { status: number | number[]; file: string }[];
  /** Accepted; ignored (the loader warns). */
  whitelistService?: { endpoint: string };
  /** Typed and validated; not yet enforced (the loader warns). */
  cors?: CorsRule[];
  // The loader may accept further SAP properties (cors, whitelistService, ...) for compatibility.
  [other: string]: unknown;
}

// ---- destinations (environment variable `destinations`) ---------------------------------------

export interface Destination {
  name: string;
  url: URL;
  forwardAuthToken: boolean;
  /** Milliseconds; SAP's default is 30000. */
  timeout: number;
  /**
   * How many requests may use the destination's connections at once (zonegate's own property,
   * default 256); the others wait at most BACKEND_QUEUE_TIMEOUT_MS.
   */
  maxSockets: number;
  setXForwardedHeaders: boolean;
  strictSSL: boolean;
  proxyHost?: string;
  proxyPort?: number;
  /** Set on a tenant's override of the destination (src/tenant/configuration.ts): whose it is. */
  tenant?: string;
}

// ---- xs-security.json (REFERENCE.md §5) -------------------------------------------------------

export type TenantMode = 'dedicated' | 'shared';

export interface XsScope {
  /** As written, e.g. `$XSAPPNAME.Admin`. */
  name: string;
  description?: string;
  grantedApps: string[];
  grantAsAuthorityToApps: string[];
}

export interface XsAttribute {
  name: string;
  description?: string;
  valueType: 'string' | 'int' | 's4hana' | 'date';
  valueRequired: boolean;
}

export interface XsRoleTemplate {
  name: string;
  description?: string;
  /** As written, e.g. `$XSAPPNAME.Admin`. */
  scopeReferences: string[];
  /** Names of the attributes the template's roles carry (both written forms, `"Country"` and `{name}`). */
  attributeReferences: string[];
  /**
   * `default-values` of the object form (`{ "name": "Country", "default-values": ["DE"] }`), by attribute
   * name: the values the template's default role carries. Absent for references without them.
   */
  attributeDefaultValues?: Record<string, string[]>;
  defaultRoleName?: string;
}

export interface XsRoleCollection {
  name: string;
  description?: string;
  /** As written, e.g. `$XSAPPNAME.Administrator` (`<app>.<role template name>`). */
  roleTemplateReferences: string[];
}

export interface XsOAuth2Configuration {
  /** Seconds; default 43200. */
  tokenValidity: number;
  /** Seconds; default 2592000. */
  refreshTokenValidity: number;
  redirectUris: string[];
  grantTypes: string[];
}

export interface XsSecurity {
  /** The file it came from, for messages. */
  file: string;
  xsappname: string;
  tenantMode: TenantMode;
  description?: string;
  scopes: XsScope[];
  attributes: XsAttribute[];
  roleTemplates: XsRoleTemplate[];
  roleCollections: XsRoleCollection[];
  authorities: string[];
  foreignScopeReferences: string[];
  oauth2Configuration: XsOAuth2Configuration;
}
