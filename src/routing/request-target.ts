import { GatewayError } from '../errors.js';

/**
 * The request target as both the route table and the backend will see it, or undefined when it
 * cannot be made unambiguous (the caller answers 400).
 *
 * Routes are matched on this text, so it must be exactly what the backend resolves:
 * - Percent-encoded unreserved characters are those characters (RFC 3986 §6.2.2.2): `/%61dmin` is
 *   `/admin` to every backend, so it is `/admin` to the route table too.
 * - Runs of `/` are one `/`: http-proxy's urlJoin collapses them on the way out, so `//admin`
 *   would match a public catch-all here and arrive as `/admin` there.
 * - A backslash is refused: http-proxy's url.parse turns it into `/` (browsers never send one).
 * - Dot-segments, also percent-encoded or hidden behind an encoded slash (`..%2f`), are refused:
 *   backends remove them (RFC 3986 §5.2.4), which would leave the prefix the route matched.
 * Other percent-encodings (`%2F` in OData keys, `%20`, UTF-8) are kept as the client sent them.
 */
const NEEDS_WORK = /%|\/\/|\/\./;

/**
 * The longest request target the gateway routes (nginx's default header line buffer is 8 KB): route
 * sources may take quadratic time in it (config/regex-safety.ts), so it bounds their worst case.
 */
export const MAX_URL_LENGTH = 8192;

export function normalizeRequestTarget(url: string): string | undefined {
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  if (!rawPath.startsWith('/') || rawPath.includes('\\')) return undefined;
  // The common case, checked once per request: nothing encoded, no empty or dot segment.
  if (!NEEDS_WORK.test(rawPath)) return url;
  const path = rawPath
    .replace(/%([0-9a-fA-F]{2})/g, (escape, hex: string) => {
      const c = String.fromCharCode(parseInt(hex, 16));
      return /[A-Za-z0-9\-._~]/.test(c) ? c : escape;
    })
    .replace(/\/{2,}/g, '/');
  for (const segment of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    if (decoded.split(/[/\\]/).some((part) => part === '.' || part === '..')) return undefined;
  }
  return path + query;
}

/** The normalised origin-form target (see normalizeRequestTarget), or a 400 (414 when overlong). */
export function requestTarget(raw: string | undefined): string {
  if (!raw?.startsWith('/')) throw new GatewayError('ZG_ERR_BAD_REQUEST', 'The request target must be an absolute path');
  // Route sources run against it: their worst case is bounded by its length (config/regex-safety.ts).
  if (raw.length > MAX_URL_LENGTH) throw new GatewayError('ZG_ERR_URI_TOO_LONG', `The request target is longer than ${MAX_URL_LENGTH} characters`);
  const url = normalizeRequestTarget(raw);
  if (url === undefined) throw new GatewayError('ZG_ERR_BAD_REQUEST', 'The request path contains dot-segments, a backslash or malformed percent-encoding');
  return url;
}
