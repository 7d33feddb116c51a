/**
 * The zone as an OpenID Connect relying party of a tenant's IdP, through openid-client (a certified
 * RP library): discovery, the authorization request (state, nonce, PKCE S256), and the code
 * exchange with ID token validation (signature against the IdP's JWKS, issuer, audience, expiry,
 * nonce; openid-client fetches the key set and fetches it again when a `kid` is not in it, so the
 * IdP's key rotation is followed).
 *
 * The discovered configuration (metadata and key set) is cached per provider version in this
 * process: it is public metadata, not security state, and a second instance discovers its own.
 * Everything per login (state, nonce, verifier) is in storage (./login.ts).
 */
import * as client from 'openid-client';
import { isAllowedIdpUrl } from './config.js';
import type { OidcConfig, OidcIdentityProvider } from './types.js';

/** How long discovered metadata is used before it is fetched again. */
const DISCOVERY_TTL_MS = 10 * 60 * 1000;
const DISCOVERY_TIMEOUT_S = 10;

/** The IdP could not be reached or its answer was not a usable OpenID provider's. */
export class IdpUnavailable extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'IdpUnavailable';
  }
}

/** Reads the IdP's discovery document; rejects with an IdpUnavailable naming the URL. */
export async function discover(config: OidcConfig, clientSecret: string | undefined): Promise<client.Configuration> {
  const url = new URL(config.discoveryUrl);
  const auth = clientSecret === undefined ? undefined : config.clientAuthInBody ? client.ClientSecretPost(clientSecret) : client.ClientSecretBasic(clientSecret);
  try {
    return await client.discovery(url, config.relyingPartyId, undefined, auth, {
      timeout: DISCOVERY_TIMEOUT_S,
      // http only where config.ts allowed it: a loopback host (a local or test IdP).
      ...(url.protocol === 'http:' && isAllowedIdpUrl(url) ? { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] } : { execute: [client.enableNonRepudiationChecks] }),
    });
  } catch (err) {
    throw new IdpUnavailable(`config.discoveryUrl: no OpenID provider answered at ${url.href} (${reason(err)})`, { cause: err });
  }
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? `: ${cause.message}` : '';
  return `${err.message}${inner}`.slice(0, 300);
}

export interface RelyingParties {
  /** The provider's openid-client configuration, discovered once per provider version. */
  configuration(idp: OidcIdentityProvider, clientSecret: string): Promise<client.Configuration>;
}

export function createRelyingParties(now: () => number = Date.now): RelyingParties {
  const cache = new Map<string, { at: number; config: Promise<client.Configuration> }>();
  return {
    configuration(idp, clientSecret) {
      // The version (updatedAt) is in the key: a changed provider is discovered afresh at once.
      const key = `${idp.zoneId}\u0000${idp.id}\u0000${idp.updatedAt}`;
      const hit = cache.get(key);
      if (hit && now() - hit.at < DISCOVERY_TTL_MS) return hit.config;
      for (const k of cache.keys()) if (k.startsWith(`${idp.zoneId}\u0000${idp.id}\u0000`)) cache.delete(k);
      const config = discover(idp.config, clientSecret);
      cache.set(key, { at: now(), config });
      config.catch(() => cache.delete(key));
      return config;
    },
  };
}

export { client };
