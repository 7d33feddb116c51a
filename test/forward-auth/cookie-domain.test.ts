import { describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/environment.js';
import { compileCookieDomains, type CookieDomains } from '../../src/sessions/cookie-domain.js';

describe('SESSION_COOKIE_DOMAIN', () => {
  it('gives each tenant its own domain, only on hosts it covers', () => {
    const domains = compileCookieDomains('.{subdomain}.example.com', true) as CookieDomains;
    expect(domains.domainFor('acme', 'acme.example.com')).toBe('acme.example.com');
    expect(domains.domainFor('acme', 'shop.acme.example.com')).toBe('acme.example.com');
    // A host the domain does not cover keeps a host-only cookie (a browser would drop the other).
    expect(domains.domainFor('acme', 'acme.other.com')).toBeUndefined();
    expect(domains.domainFor('acme', 'xacme.example.com')).toBeUndefined();
  });

  it('refuses a domain every tenant would share, and malformed ones', () => {
    expect(compileCookieDomains('example.com', true)).toMatch(/\{subdomain\}/);
    expect(compileCookieDomains('{subdomain}.example.com', false)).toMatch(/TENANT_HOST_PATTERN/);
    expect(compileCookieDomains('{subdomain}', true)).toMatch(/two labels/);
    expect(typeof compileCookieDomains('example.com', false)).toBe('object');
  });
});

describe('FORWARD_AUTH', () => {
  const settings = (env: Record<string, string>) => () => readSettings(env, { cwd: '/tmp' });
  it('needs TRUSTED_PROXIES to name the proxies: "all" would hand every client its own token', () => {
    expect(settings({ FORWARD_AUTH: 'on', TRUSTED_PROXIES: 'all' })).toThrow(/FORWARD_AUTH/);
    expect(settings({ FORWARD_AUTH: 'on' })).toThrow(/FORWARD_AUTH/);
    expect(settings({ FORWARD_AUTH: 'yes', TRUSTED_PROXIES: '10.0.0.0/8' })).toThrow(/"on" or "off"/);
    expect(settings({ FORWARD_AUTH: 'on', TRUSTED_PROXIES: '10.0.0.0/8' })().forwardAuth).toBe(true);
    expect(settings({})().forwardAuth).toBe(false);
  });
});
