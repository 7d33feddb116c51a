/**
 * What every endpoint of a zone receives: the shared services (built once by createIdentityServer)
 * and the zone the request's host names. One typed object instead of properties hung on `req`.
 */
import type { Logger } from '../../log.js';
import type { Storage } from '../../storage/types.js';
import type { Zone, ZoneDirectory } from '../directory/types.js';
import type { InvitationStore } from '../invitations.js';
import type { KeyStore } from '../keys/keystore.js';
import type { ZoneMetrics } from '../../metrics/types.js';
import type { ThrottleOptions } from './throttle.js';
import type { IdpServices } from '../idp/services.js';

export interface ZoneServices {
  storage: Storage;
  directory: ZoneDirectory;
  keys: KeyStore;
  /** One-time set-password links (../invitations.ts). */
  invitations: InvitationStore;
  logger: Logger;
  uaaDomain: string;
  publicUrlFor(subdomain?: string): string;
  /** Lifetime of an authorization code, ms (RFC 6749 §4.1.2: short; at most 5 minutes here). */
  codeTtlMs: number;
  /** Lifetime of a pending login (authorize request waiting for the login form), ms. */
  loginTtlMs: number;
  /** Lifetime of the zone's SSO session, ms. */
  ssoTtlMs: number;
  throttle: ThrottleOptions;
  /**
   * How long after a rotation the previous refresh token may be presented again and still get the
   * current one (a client's retry, ./refresh-tokens.ts), ms; 0 disables the grace.
   */
  refreshTokenReuseMs: number;
  /** Upper bound on token validity, seconds; also the key rotation overlap. */
  maxTokenValiditySeconds: number;
  /** The zones' external identity providers (issue 13, ../idp/); undefined: every zone signs in with passwords only. */
  identityProviders?: IdpServices;
  /** Counts password checks and issued tokens (src/metrics/); undefined when metrics are off. */
  metrics: ZoneMetrics | undefined;
  now(): number;
}

export interface ZoneContext {
  services: ZoneServices;
  zone: Zone;
  /** `https://<subdomain>.<uaadomain>[:port]`, no trailing slash. */
  baseUrl: string;
  /** XSUAA's issuer: `<baseUrl>/oauth/token` (REFERENCE.md §2). */
  issuer: string;
  /** Whether the zone is served over https (cookies get `Secure`). */
  secure: boolean;
  /** Client address as TRUSTED_PROXIES vouch for it (src/tenant/trusted-proxies.ts), for login throttling. */
  clientIp: string;
  /**
   * Set when the request named the zone with an `x-zid` header rather than by its host (only the
   * token endpoint honours that; see ../server.ts). A client that may not be used in such a zone is
   * refused as `unauthorized_client`: it authenticated, it just may not act there.
   */
  zoneFromHeader?: boolean;
}
