/**
 * RFC 6761 §6.3: `localhost` and every name under `.localhost` are loopback, and resolvers should
 * answer so without asking DNS. Node's resolver does not (only the exact name `localhost` is in
 * /etc/hosts), so the zones' hosts `<subdomain>.localhost` would not resolve in development. These
 * helpers give clients (openid-client, the gateway's login) a resolver and a fetch that honour it.
 */
import dns from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { Agent, fetch as undiciFetch } from 'undici';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/** A `dns.lookup`-compatible function: loopback for `localhost`/`*.localhost`, dns.lookup otherwise. */
export function lookupLocalhost(hostname: string, options: LookupOptions | number | LookupCallback, callback?: LookupCallback): void {
  const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
  const opts: LookupOptions = typeof options === 'object' ? options : typeof options === 'number' ? { family: options } : {};
  if (!isLocalhostName(hostname)) {
    dns.lookup(hostname, { ...opts, all: opts.all === true } as LookupOptions & { all: boolean }, cb as never);
    return;
  }
  // IPv4 loopback only: the servers in this project listen on 127.0.0.1, and ::1 is not always configured.
  const wantsV6Only = opts.family === 6 || opts.family === 'IPv6';
  const address = wantsV6Only ? '::1' : '127.0.0.1';
  const family = wantsV6Only ? 6 : 4;
  process.nextTick(() => (opts.all ? cb(null, [{ address, family }]) : cb(null, address, family)));
}

let sharedAgent: Agent | undefined;

/** One keep-alive pool for all localhost-aware fetches of the process. */
export function localhostAwareAgent(): Agent {
  sharedAgent ??= new Agent({ connect: { lookup: lookupLocalhost as never } });
  return sharedAgent;
}

/**
 * undici's fetch with the localhost-aware resolver; fits openid-client's `customFetch`
 * (`(url, init) => Promise<Response>`).
 */
export function localhostAwareFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  return undiciFetch(url, { ...(init as object), dispatcher: localhostAwareAgent() } as never) as unknown as Promise<Response>;
}
