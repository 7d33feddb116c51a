import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { hostnameOf } from '../../src/http/host.js';
import { compileTenantHostPattern, requestOrigin, resolveTenant } from '../../src/tenant/resolve.js';
import { parseTrustedProxies, type TrustedProxies } from '../../src/tenant/trusted-proxies.js';

/** A request head as Node parses it (only what requestOrigin reads), from a peer address. */
function head(headers: Record<string, string | string[]>, peer = '203.0.113.9', encrypted = false): IncomingMessage {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const distinct = Object.fromEntries(Object.entries(lower).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
  const single = Object.fromEntries(Object.entries(lower).map(([k, v]) => [k, Array.isArray(v) && k !== 'set-cookie' ? v[0] : v]));
  return { headers: single, headersDistinct: distinct, socket: { remoteAddress: peer, encrypted } } as unknown as IncomingMessage;
}

const trusted = (spec: string): TrustedProxies => {
  const parsed = parseTrustedProxies(spec);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof GatewayError ? err.code : `not a GatewayError: ${String(err)}`;
  }
};

describe('hostnameOf', () => {
  it('lower-cases the name and drops the port; IPv6 literals keep their brackets', () => {
    expect(hostnameOf('ACME.App.Example.COM:8443')).toBe('acme.app.example.com');
    expect(hostnameOf('acme.app.example.com')).toBe('acme.app.example.com');
    expect(hostnameOf('[::1]:8080')).toBe('[::1]');
    expect(hostnameOf('[2001:DB8::1]')).toBe('[2001:db8::1]');
  });

  it('keeps a trailing dot: to a browser that is another origin, with its own cookies', () => {
    expect(hostnameOf('Acme.App.Example.com.:8443')).toBe('acme.app.example.com.');
  });

  it('refuses what is not a host name: userinfo, paths, spaces, unclosed literals, empty, too long', () => {
    for (const host of ['acme.app.example.com@evil.example', 'evil.example/acme.app.example.com', 'acme app', '[::1', '', ':8080', `${'a'.repeat(254)}`, 'acme\\evil']) {
      expect(hostnameOf(host), JSON.stringify(host)).toBeUndefined();
    }
  });
});

describe('resolveTenant', () => {
  const pattern = compileTenantHostPattern('^([a-z0-9-]+)\\.app\\.example\\.com$') as RegExp;

  it('is the first capture group; single-tenant without a pattern', () => {
    expect(resolveTenant('acme.app.example.com', pattern)).toBe('acme');
    expect(resolveTenant('anything.example', undefined)).toBeUndefined();
  });

  it('refuses hosts that do not match instead of falling back to the provider (SAP does fall back)', () => {
    for (const host of ['app.example.com', 'acme.app.example.com.evil.example', 'evil.example', 'acme.app.example.com.', '[::1]', 'a.b.app.example.com']) {
      expect(codeOf(() => resolveTenant(host, pattern)), host).toBe('ZG_ERR_HOST_UNMATCHED');
    }
  });

  it('refuses an empty tenant even when the pattern allows one', () => {
    const loose = compileTenantHostPattern('^(.*)\\.app\\.example\\.com$') as RegExp;
    expect(codeOf(() => resolveTenant('.app.example.com', loose))).toBe('ZG_ERR_HOST_UNMATCHED');
  });
});

describe('compileTenantHostPattern', () => {
  it('explains a pattern that does not compile or has no group, and matches case-insensitively', () => {
    expect(compileTenantHostPattern('^(acme')).toMatch(/^not a valid regular expression/);
    expect(compileTenantHostPattern('^acme\\.example\\.com$')).toMatch(/one capturing group/);
    expect((compileTenantHostPattern('^(\\w+)\\.example\\.com$') as RegExp).exec('ACME.EXAMPLE.COM')?.[1]).toBe('ACME');
  });
});

describe('requestOrigin', () => {
  const none = trusted('none');

  it('ignores X-Forwarded-Host/-Proto from an untrusted peer: a client cannot pick its tenant or scheme', () => {
    const origin = requestOrigin(head({ host: 'acme.app.example.com', 'x-forwarded-host': 'globex.app.example.com', 'x-forwarded-proto': 'https' }), none);
    expect(origin).toEqual({ hostname: 'acme.app.example.com', host: 'acme.app.example.com', protocol: 'http', forwarded: false });
  });

  it('takes the scheme from the connection when nobody trusted says otherwise', () => {
    expect(requestOrigin(head({ host: 'acme.app.example.com' }, '203.0.113.9', true), none).protocol).toBe('https');
  });

  it('believes a proxy listed by address (also as an IPv4-mapped peer), and nobody else', () => {
    const proxies = trusted('10.0.0.0/8');
    const origin = requestOrigin(head({ host: 'internal:8080', 'x-forwarded-host': 'acme.app.example.com', 'x-forwarded-proto': 'HTTPS' }, '::ffff:10.1.2.3'), proxies);
    expect(origin).toEqual({ hostname: 'acme.app.example.com', host: 'acme.app.example.com', protocol: 'https', forwarded: true });
    const outsider = requestOrigin(head({ host: 'acme.app.example.com', 'x-forwarded-host': 'globex.app.example.com' }, '11.0.0.1'), proxies);
    expect(outsider.hostname).toBe('acme.app.example.com');
  });

  it('a trusted proxy saying http on a TLS connection wins (TLS terminated before it)', () => {
    const origin = requestOrigin(head({ host: 'a.example', 'x-forwarded-proto': 'http' }, '10.0.0.1', true), trusted('10.0.0.1'));
    expect(origin.protocol).toBe('http');
  });

  it('answers 400 for a missing or malformed Host, also when a trusted proxy forwards one', () => {
    expect(codeOf(() => requestOrigin(head({}), none))).toBe('ZG_ERR_BAD_REQUEST');
    expect(codeOf(() => requestOrigin(head({ host: 'acme@evil.example' }), none))).toBe('ZG_ERR_BAD_REQUEST');
    expect(codeOf(() => requestOrigin(head({ host: 'ok.example', 'x-forwarded-host': 'acme.example/evil' }, '10.0.0.1'), trusted('10.0.0.1')))).toBe('ZG_ERR_BAD_REQUEST');
  });
});
