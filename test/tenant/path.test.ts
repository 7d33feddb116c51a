import { describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/environment.js';
import { GatewayError } from '../../src/errors.js';
import { tenantReturnPath } from '../../src/login/login.js';
import { withinTenantPath } from '../../src/proxy/proxy.js';
import { requestTarget } from '../../src/routing/request-target.js';
import { createSessionOpener } from '../../src/sessions/request-session.js';
import { compileTenantPathPattern, tenantFromPath, withinPrefix } from '../../src/tenant/path.js';
import { resolveRequestTenant } from '../../src/tenant/resolve.js';
import { createKeyring } from '../../src/sessions/crypto.js';
import { StorageSessionStore } from '../../src/sessions/store.js';
import { openSqliteStorage } from '../../src/storage/sqlite.js';

const pattern = compileTenantPathPattern('^/t/([^/]+)/') as RegExp;
const hostPattern = /^([a-z0-9-]+)\.app\.example\.com$/i;

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof GatewayError ? err.code : `not a GatewayError: ${String(err)}`;
  }
};

/** As the gateway does it: the target normalised first, then the tenant taken from it. */
const resolve = (raw: string, hostname = 'app.example.com', host: RegExp | undefined = undefined) =>
  resolveRequestTenant(hostname, requestTarget(raw), raw, { host, path: pattern });

describe('TENANT_PATH_PATTERN', () => {
  it('is compiled once, anchored at the path start, with a capture group; problems are reported by name', () => {
    expect(compileTenantPathPattern('^/t/([^/]+)/')).toBeInstanceOf(RegExp);
    expect(compileTenantPathPattern('/t/([^/]+)/')).toMatch(/anchored/);
    expect(compileTenantPathPattern('^/t/[^/]+/')).toMatch(/capturing group/);
    expect(compileTenantPathPattern('^/t/([^/]+/')).toMatch(/not a valid regular expression/);
    expect(() => readSettings({ TENANT_PATH_PATTERN: 't/(x)' }, { cwd: '/tmp' })).toThrow(/TENANT_PATH_PATTERN.*anchored/s);
    expect(readSettings({ TENANT_PATH_PATTERN: '^/t/([^/]+)/' }, { cwd: '/tmp' }).tenantPathPattern?.exec('/t/acme/x')?.[1]).toBe('acme');
    expect(readSettings({}, { cwd: '/tmp' }).tenantPathPattern).toBeUndefined();
  });

  it('takes the tenant and its prefix from the path, and leaves the rest for the route table', () => {
    expect(resolve('/t/acme/api/x?y=1')).toEqual({ tenant: 'acme', prefix: '/t/acme', url: '/api/x?y=1' });
    expect(resolve('/t/acme/')).toEqual({ tenant: 'acme', prefix: '/t/acme', url: '/' });
    // A pattern without the trailing slash still ends the prefix at a segment boundary.
    const loose = compileTenantPathPattern('^/([a-z0-9-]+)') as RegExp;
    expect(tenantFromPath('/acme?x', '/acme?x', loose)).toEqual({ tenant: 'acme', prefix: '/acme', url: '/?x' });
    expect(tenantFromPath('/acme/metadata', '/acme/metadata', loose)).toEqual({ tenant: 'acme', prefix: '/acme', url: '/metadata' });
    const listed = compileTenantPathPattern('^/t/(acme|globex)') as RegExp;
    expect(codeOf(() => tenantFromPath('/t/acmex/a', '/t/acmex/a', listed))).toBe('ZG_ERR_TENANT_PATH_UNMATCHED');
  });

  it('refuses tricks before the tenant is taken: dot-segments (400), encoded or doubled separators and encoded letters (404)', () => {
    expect(codeOf(() => resolve('/t/acme/../globex/x'))).toBe('ZG_ERR_BAD_REQUEST');
    expect(codeOf(() => resolve('/t/acme/%2E%2E/globex/x'))).toBe('ZG_ERR_BAD_REQUEST');
    expect(codeOf(() => resolve('/t/acme%2f..%2fglobex/x'))).toBe('ZG_ERR_BAD_REQUEST');
    for (const raw of ['/t/acme%2Fglobex/x', '/t/%61cme/x', '//t/acme/x', '/t//acme/x', '/t/ACME/x', '/t/-acme/x', '/t/a.b/x', '/t/a%20b/x', '/x', '/t/acme']) {
      expect(codeOf(() => resolve(raw)), raw).toBe('ZG_ERR_TENANT_PATH_UNMATCHED');
    }
  });

  it('with both patterns: the path first, the host when the path names none, and both at once refused as ambiguous', () => {
    expect(resolve('/t/acme/x', 'app.example.com', hostPattern)).toMatchObject({ tenant: 'acme', prefix: '/t/acme' });
    expect(resolve('/x', 'globex.app.example.com', hostPattern)).toEqual({ tenant: 'globex', prefix: undefined, url: '/x' });
    expect(codeOf(() => resolve('/t/acme/x', 'globex.app.example.com', hostPattern))).toBe('ZG_ERR_TENANT_AMBIGUOUS');
    // Even when both name the same tenant: one URL per tenant, one cookie scope.
    expect(codeOf(() => resolve('/t/acme/x', 'acme.app.example.com', hostPattern))).toBe('ZG_ERR_TENANT_AMBIGUOUS');
    expect(codeOf(() => resolve('/x', 'app.example.com', hostPattern))).toBe('ZG_ERR_HOST_UNMATCHED');
    // Host tenants alone work as before.
    expect(resolveRequestTenant('acme.app.example.com', '/t/x/', '/t/x/', { host: hostPattern, path: undefined })).toEqual({ tenant: 'acme', prefix: undefined, url: '/t/x/' });
  });
});

describe('staying inside the prefix', () => {
  it('puts gateway paths inside the prefix, and leaves absolute URLs alone', () => {
    expect(withinPrefix('/t/acme', '/bye.html')).toBe('/t/acme/bye.html');
    expect(withinPrefix('/t/acme', 'https://example.com/x')).toBe('https://example.com/x');
    expect(withinPrefix('/t/acme', '//evil.example/x')).toBe('//evil.example/x');
    expect(withinPrefix(undefined, '/x')).toBe('/x');
  });

  it("returns a login only inside the tenant's prefix: another prefix, the root, protocol-relative and the callback go to the prefix", () => {
    expect(tenantReturnPath('/t/acme/api/x?y', '/t/acme')).toBe('/t/acme/api/x?y');
    expect(tenantReturnPath('/t/acme', '/t/acme')).toBe('/t/acme/');
    for (const url of ['/t/acme/../globex/api/x', '/t/acme/%2e%2e/globex/', '/t/acme/..%2fglobex/', '/t/globex/api/x', '/t/acmex/api', '/api/x', '//evil.example/', '/t/acme//evil.example/', '/t/acme/login/callback?code=x', 'https://evil.example/']) {
      expect(tenantReturnPath(url, '/t/acme'), url).toBe('/t/acme/');
    }
    expect(tenantReturnPath('/api/x', undefined)).toBe('/api/x');
  });

  it("puts a backend's browser cookies inside the prefix, so another tenant's requests never carry them", () => {
    expect(withinTenantPath('a=1; Path=/; HttpOnly', '/t/acme')).toBe('a=1; Path=/t/acme/; HttpOnly');
    expect(withinTenantPath('a=1; path=/app; Max-Age=60', '/t/acme')).toBe('a=1; Path=/t/acme/app; Max-Age=60');
    expect(withinTenantPath('a=1; Max-Age=60', '/t/acme')).toBe('a=1; Max-Age=60; Path=/t/acme');
    expect(withinTenantPath('a=1; Path=relative', '/t/acme')).toBe('a=1; Path=/t/acme/');
    // A backend of globex that aims a cookie at acme's prefix only reaches a path under its own.
    expect(withinTenantPath('sid=x; Path=/t/acme', '/t/globex')).toBe('sid=x; Path=/t/globex/t/acme');
  });

  it('names the session cookie __Secure- over https when it has a Path (a __Host- cookie must have Path=/)', () => {
    const opener = createSessionOpener({
      store: new StorageSessionStore({ storage: openSqliteStorage({ file: ':memory:' }), keyring: createKeyring([{ id: 'k1', secret: 'a-session-sealing-secret-of-32-chars!!' }]) }),
      secrets: ['s'],
      cookieNames: { plain: 'sid', secure: '__Host-sid', secureDomain: '__Secure-sid' },
    });
    expect(opener.cookieName(true)).toBe('__Host-sid');
    expect(opener.cookieName(true, { path: '/t/acme' })).toBe('__Secure-sid');
    expect(opener.cookieName(true, { domain: 'acme.example.com' })).toBe('__Secure-sid');
    expect(opener.cookieName(false, { path: '/t/acme' })).toBe('sid');
  });
});
