import * as oidc from 'openid-client';
import { createRemoteJWKSet, customFetch as joseCustomFetch, jwtVerify, type JWTPayload } from 'jose';
import type { XsuaaCredentials } from '../config/environment.js';
import { GatewayError } from '../errors.js';
import { isIssuedFor } from './audience.js';
import { LruMap } from '../lru-map.js';

/** The claims of an XSUAA access token that the gateway relies on (REFERENCE.md §2). */
export interface AccessTokenClaims extends JWTPayload {
  zid: string;
  cid?: string;
  client_id?: string;
  scope: string[];
  grant_type?: string;
  user_name?: string;
  email?: string;
  given_name?: string;
  family_name?: string;
  origin?: string;
  ext_attr?: { zdn?: string };
  'xs.user.attributes'?: Record<string, string[]>;
}

/** One tenant's identity zone, as an OpenID relying party sees it. */
export interface TenantZone {
  tenant: string;
  issuerUrl: string;
  config: oidc.Configuration;
  verifyAccessToken(token: string): Promise<AccessTokenClaims>;
}

export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

export interface RelyingPartyOptions {
  credentials: XsuaaCredentials;
  /** The fetch used for every call to the zones (resolves `*.localhost`, RFC 6761). */
  fetch: FetchLike;
  /** Bound of the per-tenant cache (default 1000). */
  cacheSize?: number;
  /** Clock tolerance for token times, seconds (XSSEC allows 60). */
  clockToleranceSeconds?: number;
}

/**
 * The gateway's side of the login: one shared client (the binding's clientid/secret) used against
 * every tenant's zone `<tenant>.<uaadomain>`, over HTTP only, exactly as against SAP's XSUAA
 * (nothing here calls the built-in zones' code). Zone configurations come from discovery on first
 * use and are cached with a bound.
 */
export function createRelyingParty(options: RelyingPartyOptions) {
  const { credentials } = options;
  const binding = new URL(credentials.url);
  const tolerance = options.clockToleranceSeconds ?? 60;
  const cache = new LruMap<string, Promise<TenantZone>>(options.cacheSize ?? 1000);

  /** `https://<tenant>.<uaadomain>[:port]`: scheme and port from the binding's url (REFERENCE.md §1). */
  function zoneUrl(tenant: string): string {
    const port = binding.port ? `:${binding.port}` : '';
    return `${binding.protocol}//${tenant}.${credentials.uaadomain}${port}`;
  }

  async function discover(tenant: string): Promise<TenantZone> {
    const base = zoneUrl(tenant);
    // UAA's issuer is `<zone>/oauth/token`; its discovery document sits under that path (RFC 8414 §3).
    const issuerUrl = `${base}/oauth/token`;
    let config: oidc.Configuration;
    try {
      config = await oidc.discovery(
        new URL(issuerUrl),
        credentials.clientid,
        { client_secret: credentials.clientsecret },
        oidc.ClientSecretPost(credentials.clientsecret),
        {
          [oidc.customFetch]: options.fetch as never,
          execute: binding.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
          timeout: 10,
        },
      );
    } catch (err) {
      throw zoneUnavailable(tenant, err);
    }
    const metadata = config.serverMetadata();
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri ?? `${base}/token_keys`), {
      [joseCustomFetch]: options.fetch as never,
      timeoutDuration: 10_000,
      cooldownDuration: 30_000,
      // Keys are re-read at least every minute: a zone deleted and created again (unsubscribe,
      // subscribe) gets new keys, and tokens of the old zone stop verifying within that bound.
      cacheMaxAge: 60_000,
    });
    return {
      tenant,
      issuerUrl,
      config,
      async verifyAccessToken(token) {
        let payload: JWTPayload;
        try {
          ({ payload } = await jwtVerify(token, jwks, { issuer: metadata.issuer, algorithms: ['RS256'], clockTolerance: tolerance }));
        } catch (err) {
          throw new GatewayError('ZG_ERR_UNAUTHENTICATED', 'The token is not valid for this tenant', {
            cause: err,
            headers: { 'www-authenticate': 'Bearer realm="zonegate", error="invalid_token"' },
          });
        }
        const claims = payload as AccessTokenClaims;
        // A token signed by the right keys must also name this tenant (SAP compares ext_attr.zdn).
        if (claims.ext_attr?.zdn !== tenant || typeof claims.zid !== 'string' || !Array.isArray(claims.scope)) {
          throw new GatewayError('ZG_ERR_UNAUTHENTICATED', 'The token belongs to another tenant', {
            headers: { 'www-authenticate': 'Bearer realm="zonegate", error="invalid_token"' },
          });
        }
        // ...and must have been issued for this application, not for another client of the zone
        // (its admin client, another application): xssec's audience rule (REFERENCE.md §3). One
        // check for every token the gateway accepts: bearer tokens, and those a login or refresh yields.
        if (!isIssuedFor(claims, credentials)) {
          throw new GatewayError('ZG_ERR_UNAUTHENTICATED', 'The token was not issued for this application', {
            headers: { 'www-authenticate': 'Bearer realm="zonegate", error="invalid_token", error_description="The token was not issued for this application"' },
          });
        }
        return claims;
      },
    };
  }

  return {
    zoneUrl,
    /** The tenant's zone, discovered on first use; a failed discovery is not cached. */
    zone(tenant: string): Promise<TenantZone> {
      let entry = cache.get(tenant);
      if (!entry) {
        entry = discover(tenant);
        cache.set(tenant, entry);
        entry.catch(() => cache.delete(tenant));
      }
      return entry;
    },
    forget(tenant: string): void {
      cache.delete(tenant);
    },
    get cachedTenants(): number {
      return cache.size;
    },
  };
}

export type RelyingParty = ReturnType<typeof createRelyingParty>;

function zoneUnavailable(tenant: string, cause: unknown): GatewayError {
  const code = (cause as { code?: string }).code;
  // A zone that answers 404 does not exist (tenant not subscribed); anything else is an outage.
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || (cause as { status?: number }).status === 404) {
    return new GatewayError('ZG_ERR_TENANT_UNKNOWN', `The tenant "${tenant}" has no identity zone`, { cause });
  }
  return new GatewayError('ZG_ERR_IDP_UNAVAILABLE', `The identity zone of tenant "${tenant}" cannot be reached`, { cause, expose: true });
}
