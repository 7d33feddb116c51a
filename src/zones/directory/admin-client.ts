/**
 * The built-in administration client and the role collection that makes a user a zone administrator,
 * after UAA's own design: UAA ships admin clients and the `scim.*` / `zones.*` scopes in every zone, and
 * a user holds them through group membership. Here one client serves every zone (as a `shared`
 * application would, but without a subscription), and every zone has the `Zone Administrator` role
 * collection, which grants `scim.read scim.write` in its zone and also `zones.read zones.write` in
 * the zones-admin zone (the provider's, UAA's "uaa" zone).
 *
 * Decisions:
 *  - Confidential client (id `zonegate-admin`, a generated secret handed out like an application's):
 *    the token endpoint authenticates every client, and the secret keeps strangers from using the
 *    client at all. The secret alone is worth nothing: the scopes come from the user's role collection.
 *  - Grants: `authorization_code` (with PKCE from its tooling) and `refresh_token` only. No `password`
 *    grant: RFC 9700 §2.4 forbids it, it hands the administrator's password to the tool, and it bypasses
 *    the zone's login page. No `jwt-bearer`: applications forward user tokens to their backends
 *    (`forwardAuthToken`), and with that grant any backend holding the admin secret could turn an
 *    administrator's application token into an admin token.
 *  - Redirect URIs: loopback only by default (RFC 8252 §7.3, a command-line tool listening on a port
 *    of its own choosing); an installation can add its admin UI's.
 *  - Its scopes are reserved: no application may declare or be granted them, so an application token
 *    never carries `scim.*` or `zones.*`, and this client carries nothing else (no application scopes).
 */
import type { Application } from './types.js';

export const ADMIN_XSAPPNAME = 'zonegate-admin';
export const ADMIN_CLIENT_ID = 'zonegate-admin';
export const ZONE_ADMIN_ROLE_COLLECTION = 'Zone Administrator';
const ZONE_ADMIN_TEMPLATE = 'ZoneAdministrator';

export const SCIM_SCOPES = ['scim.read', 'scim.write'] as const;
export const ZONES_SCOPES = ['zones.read', 'zones.write'] as const;

/** RFC 8252 §7.3 loopback redirects, any port and path (the tool picks a free port). */
export const DEFAULT_ADMIN_REDIRECT_URIS: readonly string[] = ['http://127.0.0.1:*/**', 'http://localhost:*/**'];

/** An access token lives an hour: enough for an admin session, short for a token this powerful. */
const ADMIN_TOKEN_VALIDITY = 3600;
/** A working day; a refresh re-checks the role collection, so a removed administrator is out at the next refresh. */
const ADMIN_REFRESH_VALIDITY = 8 * 3600;

/** Scopes only the admin client may carry (the admin API's). */
export function isAdminScope(scope: string): boolean {
  return scope.startsWith('scim.') || scope.startsWith('zones.');
}

export function isAdminClient(application: Pick<Application, 'clientId'>): boolean {
  return application.clientId === ADMIN_CLIENT_ID;
}

/** The built-in role collection, in the shape the directory lists role collections. */
export const ZONE_ADMIN_COLLECTION = { name: ZONE_ADMIN_ROLE_COLLECTION, roleTemplates: [`${ADMIN_XSAPPNAME}.${ZONE_ADMIN_TEMPLATE}`] } as const;

/**
 * The admin client as an Application record, so the OAuth endpoints treat it like any client.
 * `providerZoneId` is the zones-admin zone ('' when there is none: then no token manages zones).
 */
export function adminApplication(zonesAdminZoneId: string, redirectUris: readonly string[]): Application {
  return {
    xsappname: ADMIN_XSAPPNAME,
    instanceName: ADMIN_XSAPPNAME,
    clientId: ADMIN_CLIENT_ID,
    description: 'zonegate administration',
    tenantMode: 'shared',
    providerZoneId: zonesAdminZoneId,
    scopes: [...SCIM_SCOPES, ...ZONES_SCOPES],
    authorities: [],
    roleTemplates: [{ name: ZONE_ADMIN_TEMPLATE, scopes: [...SCIM_SCOPES, ...ZONES_SCOPES], attributes: [] }],
    roleCollections: [],
    redirectUris: [...redirectUris],
    grantTypes: ['authorization_code', 'refresh_token'],
    tokenValiditySeconds: ADMIN_TOKEN_VALIDITY,
    refreshTokenValiditySeconds: ADMIN_REFRESH_VALIDITY,
  };
}

/** What the built-in role collection grants a user of `zoneId` for the admin client. */
export function zoneAdminScopes(admin: Application, zoneId: string): string[] {
  return admin.providerZoneId !== '' && zoneId === admin.providerZoneId ? [...SCIM_SCOPES, ...ZONES_SCOPES] : [...SCIM_SCOPES];
}
