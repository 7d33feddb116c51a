/**
 * A further client on the wire (admin API answers, `zonegate clients list --json`), in UAA's
 * `/oauth/clients` names where UAA has the field. Never a secret: `client_secret` appears only in the
 * answer that made one (creation, rotation), added there by the caller.
 */
import type { OAuthClient } from './types.js';

export function clientView(client: OAuthClient): Record<string, unknown> {
  return {
    client_id: client.clientId,
    name: client.name,
    xsappname: client.xsappname,
    public: client.public,
    pkceOnly: client.pkceOnly || client.public,
    zones: client.zones,
    redirect_uri: client.redirectUris,
    redirect_uri_regex: client.redirectUriRegex,
    authorized_grant_types: client.grantTypes,
    ...(client.scopes !== undefined ? { scope: client.scopes } : {}),
    authorities: client.authorities,
    referrers: client.referrers,
    source: client.source,
    has_secret: client.hasSecret,
    ...(client.previousSecretExpiresAt !== undefined ? { previous_secret_valid_until: new Date(client.previousSecretExpiresAt).toISOString() } : {}),
    created_at: client.createdAt,
    // UAA's name for it, in epoch milliseconds as UAA gives it.
    lastModified: Date.parse(client.updatedAt),
  };
}
