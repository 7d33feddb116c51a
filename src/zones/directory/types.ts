/**
 * The zone directory: the data model of the built-in authorization server (identity zones, the
 * registered application and its client, users, role collections). Persisted through the Storage
 * contract, so it survives restarts and is shared between instances.
 *
 * The OAuth endpoints (src/zones/oauth/) only read it through this interface; the admin API, the CLI
 * and provisioning write it. Implementation: src/zones/directory/directory.ts.
 */
import type { XsSecurity } from '../../config/types.js';
import type { ClientProfile } from '../clients/types.js';

export interface Zone {
  /** GUID; also the tenant id (SaaS `subscribedTenantId`). */
  id: string;
  /** Unique, lower case; the zone's host is `<subdomain>.<uaadomain>`. */
  subdomain: string;
  name: string;
  branding?: { title?: string; color?: string; logoUrl?: string };
  createdAt: string;
}

/** The registered application (one per xsappname); `instanceName` is `<xsappname>!t<N>`. */
export interface Application {
  xsappname: string;
  instanceName: string;
  clientId: string; // sb-<instanceName>
  /**
   * xs-security.json's `description`: the name people see for the application (the zone's sign-in
   * page). Absent in records written before it was kept, and where the file has none.
   */
  description?: string;
  tenantMode: 'dedicated' | 'shared';
  /** Zone the application was registered in (the provider's zone). */
  providerZoneId: string;
  /** Scopes expanded: `myapp!t7.Admin`. */
  scopes: string[];
  /**
   * The client's own authorities, expanded: this application's scopes (`myapp!t7.Callback`) and
   * `uaa.resource`. Never another application's: those come only from that application's grant
   * (`authorityGrants` below), decided by ZoneDirectory.clientAuthorities.
   */
  authorities: string[];
  /** Per own scope, the xsappnames its xs-security.json grants it to as an authority (grant-as-authority-to-apps). */
  authorityGrants?: { scope: string; apps: string[] }[];
  /** Other applications' scopes this client asks for as authorities: `$XSAPPNAME(<plan>,<xsappname>).<scope>`. */
  foreignAuthorities?: { xsappname: string; scope: string }[];
  /** `$ACCEPT_GRANTED_AUTHORITIES`: every authority another application grants this one. */
  acceptGrantedAuthorities?: boolean;
  roleTemplates: RoleTemplate[];
  roleCollections: { name: string; roleTemplates: string[] }[];
  redirectUris: string[];
  grantTypes: string[];
  tokenValiditySeconds: number;
  refreshTokenValiditySeconds: number;
  /**
   * Set on the view of a further client of the application (issue 14, src/zones/clients/view.ts):
   * then `clientId`, `redirectUris`, `grantTypes` and `scopes` are that client's. Never stored.
   */
  client?: ClientProfile;
}

/**
 * A role template of the application. A role collection names templates, and zonegate keeps no roles
 * apart from them: each template stands for its default role (XSUAA's role of the same name, created
 * from the template with its default values), so its attribute values are the template's defaults.
 */
export interface RoleTemplate {
  name: string;
  scopes: string[];
  /** Attributes the role carries (xs-security.json `attribute-references`). */
  attributes: string[];
  /** `default-values` per attribute; absent where the reference has none (and in records written before them). */
  attributeDefaults?: Record<string, string[]>;
}

export interface User {
  id: string; // GUID
  zoneId: string;
  userName: string;
  email: string;
  givenName?: string;
  familyName?: string;
  origin: string; // 'sap.default' for users created here, as XSUAA names its default IdP
  /**
   * The user's own attribute values, as an identity provider would assert them. They reach tokens only
   * through a role that references the attribute without default values (XSUAA's attribute source
   * "Identity Provider"); see ZoneDirectory.userAttributes.
   */
  attributes: Record<string, string[]>;
  roleCollections: string[];
}

export interface NewUser {
  userName: string;
  email: string;
  givenName?: string;
  familyName?: string;
  origin?: string;
  password?: string;
  attributes?: Record<string, string[]>;
  roleCollections?: string[];
}

export interface ZoneDirectory {
  /**
   * Registers (or re-registers, keeping N and the secret) the application of an xs-security.json.
   * INVALID_INPUT for the reserved xsappname `zonegate-admin`, the admin scopes, or a role collection
   * named `Zone Administrator`.
   */
  registerApplication(security: XsSecurity, providerZoneId: string): Promise<{ application: Application; clientSecret: string }>;
  /**
   * Creates (once) or updates the built-in administration client `zonegate-admin` (./admin-client.ts),
   * keeping its secret. `zonesAdminZoneId`: the zone whose administrators also get `zones.*`;
   * `redirectUris`: default loopback only. Unset inputs keep the stored values. Idempotent.
   */
  ensureAdminClient(input?: { zonesAdminZoneId?: string; redirectUris?: readonly string[] }): Promise<{ application: Application; clientSecret: string }>;
  /** Also the admin client. Applications never come back with the admin client's scopes (`scim.*`, `zones.*`). */
  getApplicationByClientId(clientId: string): Promise<Application | undefined>;
  /** Constant-time check of a client secret. */
  verifyClientSecret(clientId: string, secret: string): Promise<boolean>;
  /**
   * What a client-credentials token of the client carries (XSUAA's rules): its own authorities, plus
   * each scope another application grants it as an authority (`grant-as-authority-to-apps`) and it
   * asked for (`$XSAPPNAME(<plan>,<xsappname>).<scope>` or `$ACCEPT_GRANTED_AUTHORITIES`); with none
   * of these, `uaa.resource`.
   */
  clientAuthorities(application: Application): Promise<string[]>;
  /** Whether the application's client may be used in this zone (provider zone, or subscribed in shared mode; the admin client everywhere). */
  isClientAllowedInZone(application: Application, zoneId: string): Promise<boolean>;
  getApplication(xsappname: string): Promise<Application | undefined>;
  /**
   * Records that a zone subscribed to a `shared` application (SaaS provisioning calls this): its
   * client then works in the zone, and the app's role collections become available there.
   * Idempotent. Throws DirectoryError ZONE_NOT_FOUND, or INVALID_INPUT for a `dedicated` app.
   */
  subscribe(application: Application, zoneId: string): Promise<void>;
  /** Ends a subscription; true if there was one. The zone's users keep their assignments. */
  unsubscribe(application: Application, zoneId: string): Promise<boolean>;
  /** Zone ids subscribed to the application (not counting its provider zone). */
  listSubscriptions(application: Application): Promise<string[]>;
  /**
   * The applications whose role collections apply in a zone, by xsappname: those registered there
   * (`provider`) and the shared ones subscribed there. Empty for a zone made with `zones create`:
   * an identity zone, but no tenant of any application.
   */
  applicationsInZone(zoneId: string): Promise<{ xsappname: string; provider: boolean }[]>;

  createZone(input: { id?: string; subdomain: string; name?: string; branding?: Zone['branding'] }): Promise<Zone>;
  getZone(id: string): Promise<Zone | undefined>;
  getZoneBySubdomain(subdomain: string): Promise<Zone | undefined>;
  listZones(): Promise<Zone[]>;
  deleteZone(id: string): Promise<boolean>;

  createUser(zoneId: string, input: NewUser): Promise<User>;
  getUser(zoneId: string, userId: string): Promise<User | undefined>;
  getUserByName(zoneId: string, userName: string): Promise<User | undefined>;
  listUsers(zoneId: string): Promise<User[]>;
  deleteUser(zoneId: string, userId: string): Promise<boolean>;
  /** What the password policy (length) says against a password, or undefined when it is acceptable. */
  passwordProblem(password: unknown): string | undefined;
  /** Sets (or replaces) a user's password; INVALID_INPUT when the policy refuses it, USER_NOT_FOUND. */
  setPassword(zoneId: string, userId: string, password: string): Promise<User>;
  /** Whether the user can sign in with a password here (an invited user cannot until they set one). */
  hasPassword(zoneId: string, userId: string): Promise<boolean>;
  /** Returns the user if the password is right; undefined otherwise (no hint which part was wrong). */
  verifyPassword(zoneId: string, userName: string, password: string): Promise<User | undefined>;
  assignRoleCollection(zoneId: string, userId: string, roleCollection: string): Promise<User>;
  unassignRoleCollection(zoneId: string, userId: string, roleCollection: string): Promise<User>;

  /**
   * Role collections available in a zone: the applications' plus those its administrators created;
   * with `includeBuiltIn`, first the built-in `Zone Administrator` every zone has.
   */
  listRoleCollections(zoneId: string, options?: { includeBuiltIn?: boolean }): Promise<{ name: string; roleTemplates: string[] }[]>;
  createRoleCollection(zoneId: string, input: { name: string; roleTemplates: string[] }): Promise<void>;

  /**
   * The scopes a user token carries: client scopes ∩ scopes of the user's role collections, plus `openid`.
   * For the admin client only the built-in role collection counts; for applications never `scim.*`/`zones.*`.
   */
  userScopes(application: Application, user: User): Promise<string[]>;
  /**
   * A user token's `xs.user.attributes` (and `/userinfo`'s `user_attributes`) for the application: per
   * attribute, the union of the values of the roles the user holds through role collections, as XSUAA
   * computes it. A role's value for an attribute is the template's `default-values`, or, for a
   * reference without them, the user's own values of that attribute. An attribute no held role
   * references is not in the result; nor is one whose roles yield no value.
   */
  userAttributes(application: Application, user: User): Promise<Record<string, string[]>>;
}
