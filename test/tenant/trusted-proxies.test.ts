import { describe, expect, it } from 'vitest';
import { parseTrustedProxies, type TrustedProxies } from '../../src/tenant/trusted-proxies.js';

const parse = (spec: string | undefined): TrustedProxies => {
  const parsed = parseTrustedProxies(spec);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

describe('parseTrustedProxies', () => {
  it('trusts nobody by default', () => {
    for (const spec of [undefined, '', '  ', 'none']) {
      const proxies = parse(spec);
      expect(proxies.trusts('127.0.0.1')).toBe(false);
      expect(proxies.description).toBe('none');
    }
  });

  it('"all" trusts every peer (Cloud Foundry: only the gorouter reaches the app)', () => {
    expect(parse('all').trusts('198.51.100.7')).toBe(true);
    expect(parse('true').trusts('::1')).toBe(true);
  });

  it('matches single addresses and CIDR ranges of both families, IPv4-mapped peers as IPv4', () => {
    const proxies = parse('10.0.0.0/8, 192.168.1.5 ,fd00::/8,::1');
    expect(proxies.trusts('10.255.0.1')).toBe(true);
    expect(proxies.trusts('::ffff:10.0.0.1')).toBe(true);
    expect(proxies.trusts('192.168.1.5')).toBe(true);
    expect(proxies.trusts('192.168.1.6')).toBe(false);
    expect(proxies.trusts('11.0.0.1')).toBe(false);
    expect(proxies.trusts('fd12::1')).toBe(true);
    expect(proxies.trusts('::1')).toBe(true);
    expect(proxies.trusts('fe80::1')).toBe(false);
  });

  it('never trusts a peer it cannot identify', () => {
    const proxies = parse('10.0.0.0/8');
    for (const peer of [undefined, '', 'localhost', '10.0.0.1.evil', '::ffff:evil']) expect(proxies.trusts(peer), String(peer)).toBe(false);
  });

  it('explains an entry it cannot read instead of silently trusting less or more', () => {
    expect(parseTrustedProxies('10.0.0.0/33')).toMatch(/invalid CIDR prefix/);
    expect(parseTrustedProxies('10.0.0.0/8/1')).toMatch(/expected "all", "none"/);
    expect(parseTrustedProxies('gorouter.internal')).toMatch(/expected "all", "none"/);
    expect(parseTrustedProxies('10.0.0.0/x')).toMatch(/invalid CIDR prefix/);
    expect(parseTrustedProxies('fd00::/129')).toMatch(/invalid CIDR prefix/);
  });
});
