import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { hostnameOf } from '../http/host.js';
import { tenantFromPath } from './path.js';
import type { TrustedProxies } from './trusted-proxies.js';

/** Where a request came from, as the gateway is willing to believe it. */
export interface RequestOrigin {
  /** Lower-cased host name without port (src/http/host.ts). */
  hostname: string;
  /** The Host as the client addressed it (with port), for building absolute URLs back to it. */
  host: string;
  protocol: 'http' | 'https';
  /** Whether X-Forwarded-* headers came from a trusted peer (and were used). */
  forwarded: boolean;
}

/**
 * The value the trusted peer itself added: proxies append (gorouter appends its X-Forwarded-Proto
 * to the client's), so earlier entries are whatever the client sent.
 */
export function lastValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[header.length - 1] : header;
  if (value === undefined) return undefined;
  return value.slice(value.lastIndexOf(',') + 1).trim() || undefined;
}

export function requestOrigin(req: IncomingMessage, trusted: TrustedProxies): RequestOrigin {
  const forwarded = trusted.trusts(req.socket.remoteAddress);
  // Node keeps the first of several Host lines; a proxy in front may have used another one.
  if ((req.headersDistinct.host?.length ?? 0) > 1) throw new GatewayError('ZG_ERR_BAD_REQUEST', 'The request has more than one Host header');
  const host = (forwarded && trusted.forwardsHost && lastValue(req.headers['x-forwarded-host'])) || req.headers.host || '';
  const hostname = hostnameOf(host);
  if (!hostname) throw new GatewayError('ZG_ERR_BAD_REQUEST', 'The request has no valid Host header');
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const forwardedProto = forwarded ? lastValue(req.headers['x-forwarded-proto'])?.toLowerCase() : undefined;
  const protocol = forwardedProto === 'https' || (forwardedProto === undefined && encrypted) ? 'https' : 'http';
  return { hostname, host, protocol, forwarded };
}

/**
 * The tenant is the first capture group of TENANT_HOST_PATTERN against the host name (REFERENCE.md §1).
 * The pattern is compiled once at start-up; without one the gateway is single-tenant (undefined).
 * A host that does not match is refused, never silently mapped to the provider (SAP's fallback).
 */
export function resolveTenant(hostname: string, pattern: RegExp | undefined): string | undefined {
  if (!pattern) return undefined;
  const match = pattern.exec(hostname);
  const tenant = match?.[1];
  if (!tenant) {
    throw new GatewayError('ZG_ERR_HOST_UNMATCHED', `The host "${hostname}" does not match the tenant host pattern`);
  }
  return tenant;
}

/**
 * Compiles TENANT_HOST_PATTERN, or explains why it cannot be used. Anchors are the operator's
 * business, but a pattern without a capture group cannot name a tenant.
 */
export function compileTenantHostPattern(source: string): RegExp | string {
  let regex: RegExp;
  try {
    regex = new RegExp(source, 'i');
  } catch (err) {
    return `not a valid regular expression: ${(err as Error).message}`;
  }
  const groups = new RegExp(`${source}|`).exec('')!.length - 1;
  if (groups < 1) return 'expected a regular expression with one capturing group for the tenant subdomain, e.g. ^(.*)\\.app\\.example\\.com$';
  return regex;
}

/** The tenant of a request and where it came from; `prefix` and the remaining `url` for path tenants. */
export interface RequestTenant {
  tenant: string | undefined;
  /** The tenant's path prefix (`/t/acme`); undefined for host tenants and single-tenant gateways. */
  prefix: string | undefined;
  /** The normalised request target the route table matches (without the prefix). */
  url: string;
}

/**
 * The request's tenant from TENANT_PATH_PATTERN and TENANT_HOST_PATTERN (README, "Tenants in the
 * path"). The path comes first: a path that names a tenant makes it a path tenant, whatever the host.
 * With both patterns a request whose host names a tenant too is ambiguous and refused: two tenants
 * (or one tenant under two URLs, with two cookie scopes) for one request is never the operator's
 * intent, and guessing would let one tenant's URL reach another's session. A path that names none
 * falls back to the host pattern; with no host pattern it is refused, never mapped to the provider.
 */
export function resolveRequestTenant(
  hostname: string,
  url: string,
  raw: string,
  patterns: { host: RegExp | undefined; path: RegExp | undefined },
): RequestTenant {
  if (patterns.path === undefined) return { tenant: resolveTenant(hostname, patterns.host), prefix: undefined, url };
  const fromPath = tenantFromPath(url, raw, patterns.path);
  if (fromPath !== undefined) {
    const hostTenant = patterns.host?.exec(hostname)?.[1];
    if (hostTenant) {
      throw new GatewayError(
        'ZG_ERR_TENANT_AMBIGUOUS',
        `The host names the tenant "${hostTenant}" and the path the tenant "${fromPath.tenant}": use either the tenant's host or its path prefix, not both`,
        { expose: true },
      );
    }
    return { tenant: fromPath.tenant, prefix: fromPath.prefix, url: fromPath.url };
  }
  if (patterns.host !== undefined) return { tenant: resolveTenant(hostname, patterns.host), prefix: undefined, url };
  throw new GatewayError('ZG_ERR_TENANT_PATH_UNMATCHED', 'The path does not begin with a tenant prefix (TENANT_PATH_PATTERN)', { expose: true });
}
