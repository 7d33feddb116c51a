/**
 * Which grants a client may use. XSUAA always allows client credentials; the others follow the
 * `grant-types` of xs-security.json, and `password` only when it is listed explicitly.
 */
import type { Application } from '../../directory/types.js';
import type { GrantType } from '../tokens.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** What XSUAA grants a client whose xs-security.json lists no grant types. */
const DEFAULT_GRANTS: readonly string[] = ['authorization_code', 'refresh_token', 'client_credentials', JWT_BEARER];

export function grantAllowed(application: Application, grant: GrantType): boolean {
  if (grant === 'client_credentials') return true;
  const listed = application.grantTypes.length > 0 ? application.grantTypes : DEFAULT_GRANTS;
  // xs-security.json files spell it both ways.
  if (grant === JWT_BEARER) return listed.includes(JWT_BEARER) || listed.includes('jwt-bearer');
  return listed.includes(grant);
}
