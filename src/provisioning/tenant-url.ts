/**
 * The tenant's application URL, which the subscription callback answers with (REFERENCE.md §7) and
 * the SaaS registry shows the subscriber as "Go to Application".
 *
 * Derived from TENANT_HOST_PATTERN when the pattern is a capture group followed by a literal host
 * suffix (`^(.*)\.app\.example\.com$` → `https://<subdomain>.app.example.com`), with the gateway's
 * public scheme and port. Any other pattern cannot be inverted (`^([^.]+)\.(eu|us)\.example\.com$`
 * names no single host), so the operator must give a template (TENANT_URL_TEMPLATE,
 * `https://{subdomain}.app.example.com`), which also wins when both are set.
 */
export type TenantUrlFor = (subdomain: string) => string;

const PLACEHOLDER = '{subdomain}';
// `^(` group `)` literal suffix `$`: the group holds no parentheses (escaped ones aside); the suffix
// only letters, digits, hyphens and escaped `.`/`-` (an unescaped `.` would match any character).
const INVERTIBLE = /^\^\((?:[^()\\]|\\.)+\)((?:\\[.-]|[A-Za-z0-9-])+)\$$/;

export function compileTenantUrl(
  pattern: RegExp | undefined,
  template: string | undefined,
  base: { protocol: 'http' | 'https'; port?: number },
  /** TENANT_PATH_PATTERN is set: the template may put the tenant into the path (`https://app.example.com/t/{subdomain}/`). */
  pathTenants = false,
): TenantUrlFor | string {
  if (template !== undefined) return compileTemplate(template, pathTenants);
  if (pattern === undefined) {
    // A path tenant's URL names the gateway's public host, which no pattern says (TENANT_PATH_PATTERN matches paths only).
    if (pathTenants) return 'tenants in the path (TENANT_PATH_PATTERN) need TENANT_URL_TEMPLATE for their URL, e.g. https://app.example.com/t/{subdomain}/';
    return 'a tenant URL needs TENANT_HOST_PATTERN or TENANT_URL_TEMPLATE (e.g. https://{subdomain}.app.example.com)';
  }
  const match = INVERTIBLE.exec(pattern.source);
  if (!match) {
    return `TENANT_HOST_PATTERN ${pattern.source} is not of the form ^(<group>)<literal host suffix>$, so the tenant URL cannot be derived from it; set TENANT_URL_TEMPLATE (e.g. https://{subdomain}.app.example.com)`;
  }
  const suffix = match[1]!.replace(/\\(.)/g, '$1').toLowerCase();
  if (base.protocol !== 'http' && base.protocol !== 'https') return `the public protocol must be http or https, got ${String(base.protocol)}`;
  if (base.port !== undefined && !(Number.isInteger(base.port) && base.port > 0 && base.port < 65536)) return `the public port must be 1..65535, got ${base.port}`;
  const defaultPort = base.protocol === 'https' ? 443 : 80;
  const port = base.port === undefined || base.port === defaultPort ? '' : `:${base.port}`;
  return (subdomain) => `${base.protocol}://${subdomain}${suffix}${port}`;
}

function compileTemplate(template: string, pathTenants: boolean): TenantUrlFor | string {
  if (!template.includes(PLACEHOLDER)) return `TENANT_URL_TEMPLATE must contain ${PLACEHOLDER}, got ${JSON.stringify(template)}`;
  let probe: URL;
  try {
    probe = new URL(template.replaceAll(PLACEHOLDER, 'tenant'));
  } catch {
    return `TENANT_URL_TEMPLATE is not a URL: ${JSON.stringify(template)}`;
  }
  if (probe.protocol !== 'https:' && probe.protocol !== 'http:') return `TENANT_URL_TEMPLATE must be an http(s) URL, got ${JSON.stringify(template)}`;
  // In the host name (a host per tenant), or in the path (tenants in the path, TENANT_PATH_PATTERN).
  if (!probe.hostname.includes('tenant') && !(pathTenants && probe.pathname.includes('tenant'))) {
    return `TENANT_URL_TEMPLATE must put ${PLACEHOLDER} into the host name${pathTenants ? ' or the path' : ' (into the path only with TENANT_PATH_PATTERN)'}, got ${JSON.stringify(template)}`;
  }
  if (probe.username || probe.password) return 'TENANT_URL_TEMPLATE must not contain credentials';
  return (subdomain) => template.replaceAll(PLACEHOLDER, subdomain);
}
