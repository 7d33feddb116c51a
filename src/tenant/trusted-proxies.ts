import type { IncomingMessage } from 'node:http';
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
  /**
   * The client's address as far as trusted peers vouch for it (login throttling keys on it). Each
   * proxy appends the address it received the request from to X-Forwarded-For, so the header is read
   * from the right: trusted hops are skipped and the first address they did not vouch for is the
   * client. Everything left of it is whatever the client wrote, and an untrusted peer's header is not
   * read at all (OWASP Authentication Cheat Sheet: a lockout keyed on a header the client sets is no
   * lockout). With "all" only the entry the nearest proxy appended counts: every address would pass
   * as a proxy, so walking further would let the client choose.
   */
  clientAddress(req: IncomingMessage): string;
  readonly description: string;
}

/** `a.b.c.d` for IPv4-mapped IPv6 (dual-stack sockets); undefined for anything that is not an address. */
function normalizeAddress(text: string | undefined): string | undefined {
  const value = text?.trim() ?? '';
  const v4 = value.toLowerCase().startsWith('::ffff:') && isIP(value.slice(7)) === 4 ? value.slice(7) : value;
  return isIP(v4) === 0 ? undefined : v4;
}

/** X-Forwarded-For entries, nearest hop first. Node joins repeated header lines with ", ". */
function forwardedHops(req: IncomingMessage): string[] {
  const header = req.headers['x-forwarded-for'];
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  return text.split(',').map((s) => s.trim()).filter(Boolean).reverse();
}

const peerOf = (req: IncomingMessage) => normalizeAddress(req.socket.remoteAddress) ?? 'unknown';

/**
 * Parses `TRUSTED_PROXIES`: `all` (every peer is a proxy, as on Cloud Foundry where only the gorouter
 * can reach the app), `none`/empty, or a comma-separated list of addresses and CIDR ranges.
 * Returns an error message instead of throwing, so the caller reports it with the other problems.
 */
export function parseTrustedProxies(spec: string | undefined): TrustedProxies | string {
  const text = (spec ?? '').trim();
  if (text === '' || text === 'none') return { trusts: () => false, forwardsHost: false, clientAddress: peerOf, description: 'none' };
  if (text === 'all' || text === 'true') {
    return {
      trusts: () => true,
      forwardsHost: false,
      clientAddress: (req) => normalizeAddress(forwardedHops(req)[0]) ?? peerOf(req),
      description: 'all',
    };
  }
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
  const trusts = (peer: string | undefined): boolean => {
    if (!peer) return false;
    // Node reports IPv4 peers on dual-stack sockets as ::ffff:a.b.c.d.
    const v4 = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
    const family = isIP(v4);
    if (family === 0) return false;
    return list.check(v4, family === 4 ? 'ipv4' : 'ipv6');
  };
  return {
    description: text,
    forwardsHost: true,
    trusts,
    clientAddress(req) {
      let client = peerOf(req);
      if (!trusts(req.socket.remoteAddress)) return client;
      for (const hop of forwardedHops(req)) {
        const address = normalizeAddress(hop);
        // A hop that is not an address (a misconfigured proxy, "unknown"): stay with the last
        // trusted one, so guessers behind it share its lockout rather than escape it.
        if (address === undefined) return client;
        client = address;
        if (!trusts(address)) return client;
      }
      return client;
    },
  };
}
