/**
 * The session cookie's Domain per tenant (issue 14, part 2; Uitsmijter's `interceptor.cookie`): with
 * `SESSION_COOKIE_DOMAIN=.{subdomain}.example.com` one login at any host of tenant `acme` covers every
 * other `*.acme.example.com` host, such as the applications a proxy puts behind forward auth.
 * Host-only stays the default. A domain shared by several tenants is refused: a login at one tenant
 * would replace the other tenant's session cookie, and every tenant's host would receive it.
 */
export interface CookieDomains {
  /** The Domain for a request of `tenant` at `hostname`; undefined: a host-only cookie. */
  domainFor(tenant: string | undefined, hostname: string): string | undefined;
  /** The template as configured, for messages. */
  readonly template: string;
}

const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

/** Compiles SESSION_COOKIE_DOMAIN, or explains why it cannot be used. */
export function compileCookieDomains(source: string, multiTenant: boolean): CookieDomains | string {
  const template = source.trim().toLowerCase().replace(/^\./, '');
  if (multiTenant && !template.includes('{subdomain}')) {
    return 'expected a domain that contains {subdomain}, e.g. {subdomain}.example.com: with TENANT_HOST_PATTERN a domain without it would be shared by every tenant';
  }
  if (!multiTenant && template.includes('{subdomain}')) return 'contains {subdomain}, but without TENANT_HOST_PATTERN there is no tenant subdomain';
  if (!DOMAIN.test(template.replaceAll('{subdomain}', 'x'))) return `expected a domain name of at least two labels, e.g. {subdomain}.example.com, got "${source}"`;
  return {
    template,
    domainFor(tenant, hostname) {
      const domain = tenant === undefined ? template : template.replaceAll('{subdomain}', tenant);
      // A browser drops a cookie whose Domain does not cover the host that sets it (RFC 6265 §5.3
      // step 6): such a host keeps a host-only cookie.
      return hostname === domain || hostname.endsWith(`.${domain}`) ? domain : undefined;
    },
  };
}
