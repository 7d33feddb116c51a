/**
 * A further client as the OAuth endpoints see it: the Application view they already work with
 * (src/zones/oauth/), with the client's id, redirect patterns, grants and scopes in place of the
 * application client's, and its profile in `client` for the checks only it has (PKCE, referrers,
 * zones). `withClients` puts these views behind the directory's client lookups, so every endpoint
 * (authorize, token, introspect, userinfo, logout, the login forms) knows the clients at once.
 *
 * Never wider than the application: the scopes are the application's filtered to the client's
 * allowed ones, the authorities those the application's own client would get filtered to the
 * client's, and user tokens keep taking the user's role collections into account
 * (ZoneDirectory.userScopes intersects with `scopes`).
 */
import { OWN_PREFIX } from '../../config/xs-references.js';
import type { Application, ZoneDirectory } from '../directory/types.js';
import type { ClientStore } from './store.js';
import type { OAuthClient } from './types.js';

export function clientApplication(application: Application, client: OAuthClient): Application {
  const expand = (s: string) => (s.startsWith(OWN_PREFIX) ? `${application.instanceName}.${s.slice(OWN_PREFIX.length)}` : s);
  const allowed = client.scopes?.map(expand);
  return {
    ...application,
    clientId: client.clientId,
    redirectUris: [...client.redirectUris],
    grantTypes: [...client.grantTypes],
    scopes: allowed === undefined ? [...application.scopes] : application.scopes.filter((s) => allowed.includes(s)),
    client: {
      clientId: client.clientId,
      name: client.name,
      public: client.public,
      pkceOnly: client.pkceOnly || client.public,
      zones: client.zones === 'subscribed' ? 'subscribed' : [...client.zones],
      redirectUriRegex: [...client.redirectUriRegex],
      referrers: [...client.referrers],
      authorities: client.authorities.map(expand),
    },
  };
}

/** The directory with the further clients behind its client lookups (the application clients stay exactly as they are). */
export function withClients(directory: ZoneDirectory, clients: ClientStore): ZoneDirectory {
  async function view(clientId: string): Promise<Application | undefined> {
    const client = await clients.get(clientId);
    if (!client) return undefined;
    const application = await directory.getApplication(client.xsappname);
    return application && clientApplication(application, client);
  }

  return {
    ...directory,
    async getApplicationByClientId(clientId) {
      return (await directory.getApplicationByClientId(clientId)) ?? view(clientId);
    },
    async verifyClientSecret(clientId, secret) {
      if (await directory.getApplicationByClientId(clientId)) return directory.verifyClientSecret(clientId, secret);
      return clients.verifySecret(clientId, secret);
    },
    async isClientAllowedInZone(application, zoneId) {
      // The application's rule first (its provider zone, or a subscribed zone in shared mode), then the client's own list.
      if (!(await directory.isClientAllowedInZone(application, zoneId))) return false;
      const zones = application.client?.zones;
      if (zones === undefined || zones === 'subscribed') return true;
      const zone = await directory.getZone(zoneId);
      return zone !== undefined && (zones.includes(zone.id) || zones.includes(zone.subdomain));
    },
    async clientAuthorities(application) {
      if (!application.client) return directory.clientAuthorities(application);
      // What the application's own client would get, filtered to the client's list; no `uaa.resource` by default.
      const own = await directory.clientAuthorities(application);
      return own.filter((a) => application.client!.authorities.includes(a));
    },
  };
}
