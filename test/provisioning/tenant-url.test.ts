import { describe, expect, it } from 'vitest';
import { compileTenantUrl } from '../../src/provisioning/tenant-url.js';
import { compileTenantHostPattern } from '../../src/tenant/resolve.js';

const pattern = (source: string) => {
  const compiled = compileTenantHostPattern(source);
  if (typeof compiled === 'string') throw new Error(compiled);
  return compiled;
};

const urlOf = (result: ReturnType<typeof compileTenantUrl>, subdomain: string) => {
  if (typeof result === 'string') throw new Error(result);
  return result(subdomain);
};

describe('compileTenantUrl', () => {
  it('inverts ^(group)literal-suffix$ with the public scheme, omitting the default port', () => {
    expect(urlOf(compileTenantUrl(pattern('^(.*)\\.app\\.example\\.com$'), undefined, { protocol: 'https' }), 'acme')).toBe('https://acme.app.example.com');
    expect(urlOf(compileTenantUrl(pattern('^(.*)\\.app\\.example\\.com$'), undefined, { protocol: 'https', port: 443 }), 'acme')).toBe('https://acme.app.example.com');
    expect(urlOf(compileTenantUrl(pattern('^([^.]+)\\.localhost$'), undefined, { protocol: 'http', port: 8080 }), 'acme')).toBe('http://acme.localhost:8080');
    expect(urlOf(compileTenantUrl(pattern('^([a-z0-9-]+)-approuter\\.cfapps\\.eu10\\.hana\\.ondemand\\.com$'), undefined, { protocol: 'https' }), 'acme')).toBe(
      'https://acme-approuter.cfapps.eu10.hana.ondemand.com',
    );
    expect(urlOf(compileTenantUrl(pattern('^(.*)\\.App\\.Example\\.com$'), undefined, { protocol: 'http', port: 80 }), 'acme')).toBe('http://acme.app.example.com');
  });

  it('refuses patterns it cannot invert, asking for TENANT_URL_TEMPLATE', () => {
    for (const source of [
      '^(.*)\\.(eu|us)\\.example\\.com$', // alternation: no single host
      '^(.*).app.example.com$', // unescaped dots are wildcards, not a literal suffix
      '^(.*)\\.app\\.example\\.com', // not anchored at the end
      '(.*)\\.app\\.example\\.com$', // not anchored at the start
      '^((?:a|b)+)\\.example\\.com$', // nested group
      '^(.*)\\.example\\.com:8080$',
    ]) {
      const result = compileTenantUrl(pattern(source), undefined, { protocol: 'https' });
      expect(typeof result, source).toBe('string');
      expect(result as string).toContain('TENANT_URL_TEMPLATE');
    }
    expect(compileTenantUrl(undefined, undefined, { protocol: 'https' })).toMatch(/TENANT_HOST_PATTERN or TENANT_URL_TEMPLATE/);
  });

  it('uses a template when given, in preference to the pattern, and checks it', () => {
    const result = compileTenantUrl(pattern('^(.*)\\.(eu|us)\\.example\\.com$'), 'https://{subdomain}.eu.example.com/app/', { protocol: 'http' });
    expect(urlOf(result, 'acme')).toBe('https://acme.eu.example.com/app/');
    expect(compileTenantUrl(undefined, 'https://app.example.com', { protocol: 'https' })).toMatch(/must contain \{subdomain\}/);
    expect(compileTenantUrl(undefined, 'javascript:{subdomain}', { protocol: 'https' })).toMatch(/http\(s\)/);
    expect(compileTenantUrl(undefined, 'https://app.example.com/{subdomain}', { protocol: 'https' })).toMatch(/host name/);
    // Tenants in the path (TENANT_PATH_PATTERN): the tenant's URL is a prefix of one host.
    expect((compileTenantUrl(undefined, 'https://app.example.com/t/{subdomain}/', { protocol: 'https' }, true) as (s: string) => string)('acme')).toBe('https://app.example.com/t/acme/');
    expect(compileTenantUrl(undefined, 'https://u:p@{subdomain}.example.com', { protocol: 'https' })).toMatch(/credentials/);
    expect(compileTenantUrl(undefined, 'not a url {subdomain}', { protocol: 'https' })).toMatch(/not a URL/);
  });

  it('refuses a port out of range', () => {
    expect(compileTenantUrl(pattern('^(.*)\\.example\\.com$'), undefined, { protocol: 'https', port: 70000 })).toMatch(/port/);
  });
});
