import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
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

describe('clientAddress', () => {
  // What Node gives a handler: the socket's peer and the headers (repeated X-Forwarded-For lines joined with ", ").
  const req = (peer: string | undefined, xff?: string) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

  it('is the peer when nobody is trusted, whatever X-Forwarded-For says', () => {
    expect(parse('none').clientAddress(req('203.0.113.9', '10.0.0.1'))).toBe('203.0.113.9');
    expect(parse('none').clientAddress(req('::ffff:203.0.113.9'))).toBe('203.0.113.9');
    expect(parse('none').clientAddress(req(undefined))).toBe('unknown');
  });

  it('ignores the header of a peer that is not in the list', () => {
    const proxies = parse('10.0.0.0/8');
    expect(proxies.clientAddress(req('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
  });

  it('walks from the right past trusted hops to the first address they did not vouch for', () => {
    const proxies = parse('10.0.0.0/8');
    // client -> 10.1.1.1 (load balancer) -> 10.2.2.2 (router) -> us; the client prepended 1.2.3.4.
    expect(proxies.clientAddress(req('::ffff:10.2.2.2', '1.2.3.4, 198.51.100.7, 10.1.1.1'))).toBe('198.51.100.7');
    expect(proxies.clientAddress(req('10.2.2.2', '198.51.100.7'))).toBe('198.51.100.7');
    // Only proxies all the way: the farthest one is the client.
    expect(proxies.clientAddress(req('10.2.2.2', '10.1.1.1'))).toBe('10.1.1.1');
    // No header: the trusted peer itself.
    expect(proxies.clientAddress(req('10.2.2.2'))).toBe('10.2.2.2');
  });

  it('stops at a hop that is not an address rather than take what lies beyond it', () => {
    const proxies = parse('10.0.0.0/8');
    expect(proxies.clientAddress(req('10.2.2.2', '198.51.100.7, unknown, 10.1.1.1'))).toBe('10.1.1.1');
    expect(proxies.clientAddress(req('10.2.2.2', '198.51.100.7:4711'))).toBe('10.2.2.2');
  });

  it('with "all" believes only the entry the nearest proxy appended (Cloud Foundry gorouter)', () => {
    const proxies = parse('all');
    expect(proxies.clientAddress(req('10.0.0.5', '1.2.3.4, 198.51.100.7'))).toBe('198.51.100.7');
    expect(proxies.clientAddress(req('10.0.0.5'))).toBe('10.0.0.5');
    expect(proxies.clientAddress(req('10.0.0.5', 'garbage'))).toBe('10.0.0.5');
  });
});
