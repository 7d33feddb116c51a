/**
 * Tenants in the path (issue 14, part 3; Maestrano's `/<tenant>/...` URLs): for deployments that cannot
 * give every tenant a host, TENANT_PATH_PATTERN takes the tenant from the request path instead. Its
 * match is the tenant's prefix: removed before the route table sees the path, and the scope of
 * everything the gateway makes for the tenant (session cookie Path, login callback, logout, redirects).
 *
 * The pattern runs on the normalised request target (routing/request-target.ts), so `/t/a/../b/`,
 * `/t/a/%2e%2e/b/` and `//t/b/` never reach it as another tenant: they are refused, or are the
 * path they mean. A prefix must then be exactly what the client sent (no percent-encoded letters,
 * no doubled slash inside it): the browser scopes its cookies on the raw path, and express-session
 * checks the cookie's Path against it too.
 */
import { GatewayError } from '../errors.js';

/** A tenant taken from the path: its name, the prefix that named it, and the path that remains. */
export interface PathTenant {
  tenant: string;
  /** The matched prefix without its trailing `/`, e.g. `/t/acme`: the tenant's cookie Path and URL base. */
  prefix: string;
  /** The request target without the prefix, `/` at least, with its query: what the route table matches. */
  url: string;
}

/**
 * What a path may call a tenant: a subdomain label (the tenant's zone is `<tenant>.<uaadomain>`),
 * lower case, so that one tenant has one prefix (cookie paths are case-sensitive).
 */
const TENANT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Compiles TENANT_PATH_PATTERN, or explains why it cannot be used: it must be anchored at the start
 * of the path (`^/`), so a tenant's prefix is a prefix, and have a capture group for the tenant.
 * Case-sensitive, unlike the host pattern: paths are.
 */
export function compileTenantPathPattern(source: string): RegExp | string {
  if (!source.startsWith('^/')) return 'expected a regular expression anchored at the start of the path, e.g. ^/t/([^/]+)/';
  let regex: RegExp;
  try {
    regex = new RegExp(source);
  } catch (err) {
    return `not a valid regular expression: ${(err as Error).message}`;
  }
  const groups = new RegExp(`${source}|`).exec('')!.length - 1;
  if (groups < 1) return 'expected a regular expression with one capturing group for the tenant, e.g. ^/t/([^/]+)/';
  return regex;
}

/**
 * The tenant the normalised target `url` names, or undefined when the pattern does not match.
 * `raw` is the target as the client sent it. Throws ZG_ERR_TENANT_PATH_UNMATCHED for a match that
 * names no valid tenant or whose prefix was not sent as it is.
 */
export function tenantFromPath(url: string, raw: string, pattern: RegExp): PathTenant | undefined {
  const match = pattern.exec(url);
  if (match === null) return undefined;
  const tenant = match[1];
  const prefix = match[0].endsWith('/') ? match[0].slice(0, -1) : match[0];
  const rest = url.slice(prefix.length);
  // The prefix ends at a segment boundary (`^/t/([^/]+)` must not cut `/t/acme.x` as `/t/acme`... at
  // the capture: it ends where the path, a segment or the query does).
  if (rest !== '' && !rest.startsWith('/') && !rest.startsWith('?')) {
    throw unmatched(`The path prefix "${match[0]}" does not end at a segment boundary`);
  }
  if (tenant === undefined || !TENANT_NAME.test(tenant)) {
    throw unmatched(`The path names the tenant "${tenant ?? ''}", which is not a valid tenant name (lower-case letters, digits and hyphens)`);
  }
  if (!raw.startsWith(prefix) || (raw.length > prefix.length && raw[prefix.length] !== '/' && raw[prefix.length] !== '?')) {
    throw unmatched(`The tenant prefix ${prefix} must be written as it is (no percent-encoding, no doubled slashes)`);
  }
  return { tenant, prefix, url: rest === '' || rest.startsWith('?') ? `/${rest}` : rest };
}

function unmatched(message: string): GatewayError {
  return new GatewayError('ZG_ERR_TENANT_PATH_UNMATCHED', message, { expose: true });
}

/**
 * `location` inside the tenant's prefix: a path of the gateway (`/x`) becomes `/t/acme/x`; absolute
 * URLs and the prefix-less case are left alone.
 */
export function withinPrefix(prefix: string | undefined, location: string): string {
  if (prefix === undefined || !location.startsWith('/') || location.startsWith('//')) return location;
  return prefix + location;
}
