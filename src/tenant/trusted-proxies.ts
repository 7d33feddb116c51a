import { BlockList, isIP } from 'node:net';

/**
 * Which peers may speak for the client through `X-Forwarded-*` headers. Anyone else's forwarded
 * headers are ignored: a client that could set `X-Forwarded-Host` could pick its tenant.
 */
export interface TrustedProxies {
  trusts(peerAddress: string | undefined): boolean;
  /**
   * Whether trusted peers also say which host the client asked for (X-Forwarded-Host). Not with
   * "all": Cloud Foundry's gorouter keeps the client's Host and passes a client-sent
   * X-Forwarded-Host through unchanged (cloudfoundry/routing-release#420), so there it is the
   * client's word, and the tenant would come from a request header (REFERENCE.md §8).
   */
  readonly forwardsHost: boolean;
  readonly description: string;
}

/**
 * Parses `TRUSTED_PROXIES`: `all` (every peer is a proxy, as on Cloud Foundry where only the gorouter
 * can reach the app), `none`/empty, or a comma-separated list of addresses and CIDR ranges.
 * Returns an error message instead of throwing, so the caller reports it with the other problems.
 */
export function parseTrustedProxies(spec: string | undefined): TrustedProxies | string {
  const text = (spec ?? '').trim();
  if (text === '' || text === 'none') return { trusts: () => false, forwardsHost: false, description: 'none' };
  if (text === 'all' || text === 'true') return { trusts: () => true, forwardsHost: false, description: 'all' };
  const list = new BlockList();
  for (const entry of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    if (!address || family === 0 || extra !== undefined) {
      return `expected "all", "none" or a comma-separated list of IP addresses / CIDR ranges, got "${entry}"`;
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) {
      list.addAddress(address, type);
      continue;
    }
    const prefix = Number(bits);
    if (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)) {
      return `invalid CIDR prefix in "${entry}"`;
    }
    list.addSubnet(address, prefix, type);
  }
  return {
    description: text,
    forwardsHost: true,
    trusts(peer) {
      if (!peer) return false;
      // Node reports IPv4 peers on dual-stack sockets as ::ffff:a.b.c.d.
      const v4 = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
      const family = isIP(v4);
      if (family === 0) return false;
      return list.check(v4, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
