import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1: connection-specific fields, never forwarded by a proxy, in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Names listed in `Connection` are hop-by-hop for this message too. */
const NOTHING_LISTED = /^\s*(?:keep-alive|close)\s*$/i;

const NONE: readonly string[] = [];

function connectionListed(headers: IncomingHttpHeaders): readonly string[] {
  const value = headers.connection;
  // The usual value names only itself: no list to split on the request path.
  if (!value || NOTHING_LISTED.test(value)) return NONE;
  return value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
}

/** Removes hop-by-hop fields from a request's headers in place (the request is the gateway's own object). */
export function stripHopByHop(headers: IncomingHttpHeaders, keepUpgrade = false): void {
  for (const name of connectionListed(headers)) {
    if (keepUpgrade && name === 'upgrade') continue;
    delete headers[name];
  }
  for (const name of HOP_BY_HOP) {
    if (keepUpgrade && (name === 'connection' || name === 'upgrade')) continue;
    // Deleting an absent property is not free: it can turn the object into a slow dictionary.
    if (headers[name] !== undefined) delete headers[name];
  }
}

/** A backend response's headers without hop-by-hop fields, as a fresh object to send on. */
export function responseHeadersWithoutHopByHop(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const names = connectionListed(headers);
  // The usual Connection (keep-alive, close, none) lists nothing: no set to build per response.
  const listed = names.length === 0 ? undefined : new Set(names);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

/**
 * The Cookie header without the gateway's own cookies (its session must never reach a backend:
 * SAP's router leaks it to WebSocket backends, REFERENCE.md §8). Undefined when nothing is left.
 */
export function withoutCookies(cookieHeader: string | undefined, names: ReadonlySet<string>): string | undefined {
  if (!cookieHeader || names.size === 0) return cookieHeader;
  const kept = cookieHeader
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => {
      if (!pair) return false;
      const eq = pair.indexOf('=');
      return !isOwnCookie((eq === -1 ? pair : pair.slice(0, eq)).trim(), names);
    });
  return kept.length ? kept.join('; ') : undefined;
}

/** Whether `names` lists the cookie by name, or a family it belongs to as `prefix*`. */
function isOwnCookie(name: string, names: ReadonlySet<string>): boolean {
  if (names.has(name)) return true;
  for (const n of names) if (n.endsWith('*') && name.startsWith(n.slice(0, -1))) return true;
  return false;
}

/** A backend's Set-Cookie lines without those that would set one of the gateway's own cookies. */
export function withoutSetCookies(lines: string[] | undefined, names: ReadonlySet<string>): string[] | undefined {
  if (!lines) return undefined;
  const kept = lines.filter((line) => {
    const eq = line.indexOf('=');
    return !isOwnCookie((eq === -1 ? line : line.slice(0, eq)).trim(), names);
  });
  return kept.length ? kept : undefined;
}
