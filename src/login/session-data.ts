import type { AccessTokenClaims } from './relying-party.js';
import type { SessionUser } from '../sessions/types.js';

/** The user an access token names, as the session keeps it. */
export function userFromClaims(claims: AccessTokenClaims): SessionUser {
  const client = claims.grant_type === 'client_credentials' || claims.user_name === undefined;
  return {
    ...(client ? { client: true as const } : {}),
    name: claims.user_name ?? String(claims.sub ?? ''),
    email: claims.email,
    givenName: claims.given_name,
    familyName: claims.family_name,
    origin: claims.origin,
    zoneId: claims.zid,
    scopes: claims.scope,
    attributes: claims['xs.user.attributes'] ?? {},
  };
}
