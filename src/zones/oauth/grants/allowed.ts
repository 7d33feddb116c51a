/**
 * Which grants a client may use (RFC 6749 §5.2 `unauthorized_client` otherwise).
 *
 * Application clients (registered from xs-security.json) follow XSUAA: client credentials are always
 * allowed, the others follow `grant-types`, and `password` only when it is listed explicitly. The
 * built-in admin client is not an application: it has exactly the grants its configuration lists
 * (directory/admin-client.ts: `authorization_code` and `refresh_token`). Its secret is handed to admin
 * tooling and it is usable in every zone, so an "always allowed" client-credentials grant would turn
 * that secret alone into a token in any zone, with no administrator behind it.
 */
import { isAdminClient } from '../../directory/admin-client.js';
import type { Application } from '../../directory/types.js';
import type { GrantType } from '../tokens.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** What XSUAA grants a client whose xs-security.json lists no grant types. */
const DEFAULT_GRANTS: readonly string[] = ['authorization_code', 'refresh_token', 'client_credentials', JWT_BEARER];

export function grantAllowed(application: Application, grant: GrantType): boolean {
  // A further client of an application (issue 14) has exactly the grants it lists, as the admin client.
  if (isAdminClient(application) || application.client) return application.grantTypes.includes(grant);
  if (grant === 'client_credentials') return true;
  const listed = application.grantTypes.length > 0 ? application.grantTypes : DEFAULT_GRANTS;
  // xs-security.json files spell it both ways.
  if (grant === JWT_BEARER) return listed.includes(JWT_BEARER) || listed.includes('jwt-bearer');
  return listed.includes(grant);
}
