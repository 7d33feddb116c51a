/**
 * Backend session cookies kept in the user's session, as SAP's router keeps them
 * (backend-response/cookie-handler.js, backend-request/options.js): a cookie a backend sets without
 * Expires or Max-Age lives as long as the browser session, which the gateway's session stands for,
 * so it is kept server-side, per destination, and sent back to that destination only. The browser
 * never sees it, so it cannot clash with another backend's cookie of the same name (two Java
 * backends' JSESSIONID) or with the gateway's own. Persistent cookies (a future Expires, Max-Age > 0)
 * reach the browser, as in SAP's router.
 */

/** A cookie kept for a destination (short field names: it is stored in every session that has one). */
export interface StoredCookie {
  readonly name: string;
  readonly value: string;
  readonly path: string;
  readonly secure?: true;
}

/** Per destination name, the cookies kept for it. */
export type BackendCookies = Readonly<Record<string, readonly StoredCookie[]>>;

/** What a backend's Set-Cookie line asks of the session's cookies for its destination. */
export interface CookieChange {
  readonly name: string;
  readonly value: string;
  readonly path: string;
  readonly secure: boolean;
  /** Max-Age <= 0 or an Expires in the past: any kept cookie of this name and path goes. */
  readonly remove: boolean;
}

/**
 * Bounds, in bytes of names and values. A cookie: RFC 6265 §6.1's 4096 that user agents support. A
 * destination: 8 KiB, the request-header limit of common backends (Apache's LimitRequestFieldSize,
 * Tomcat's maxHttpHeaderSize), still room for an ABAP system's SAP_SESSIONID, sap-usercontext and
 * MYSAPSSO2 together. A session: 16 KiB over all destinations (it is read and sealed with the session).
 */
export const MAX_COOKIE_BYTES = 4096;
export const MAX_DESTINATION_BYTES = 8 * 1024;
export const MAX_TOTAL_BYTES = 16 * 1024;

/**
 * Splits a backend's Set-Cookie lines into those kept in the session and those the browser gets.
 * Deletions go both ways: a kept cookie is removed, and a copy the browser may hold (set before a
 * session existed) is too.
 */
export function sortSetCookies(lines: readonly string[], requestPath: string, now: number): { keep: CookieChange[]; browser: string[] } {
  const keep: CookieChange[] = [];
  const browser: string[] = [];
  for (const line of lines) {
    const parsed = parseSetCookie(line, requestPath, now);
    if (parsed === undefined) browser.push(line);
    else if (parsed.persistent) browser.push(line);
    else {
      keep.push(parsed.change);
      if (parsed.change.remove) browser.push(line);
    }
  }
  return { keep, browser };
}

function parseSetCookie(line: string, requestPath: string, now: number): { change: CookieChange; persistent: boolean } | undefined {
  const parts = line.split(';');
  const pair = parts[0]!;
  const eq = pair.indexOf('=');
  // RFC 6265 §5.2: a line without a name=value pair is ignored; passed on, the browser ignores it too.
  if (eq <= 0) return undefined;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  if (!name) return undefined;
  let path: string | undefined;
  let secure = false;
  let maxAge: number | undefined;
  let expires: number | undefined;
  for (let i = 1; i < parts.length; i++) {
    const attribute = parts[i]!;
    const at = attribute.indexOf('=');
    const key = (at === -1 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
    const arg = at === -1 ? '' : attribute.slice(at + 1).trim();
    if (key === 'path') path = arg.startsWith('/') ? arg : undefined; // §5.2.4: else the default path
    else if (key === 'secure') secure = true;
    else if (key === 'max-age' && /^-?\d+$/.test(arg)) maxAge = Number(arg);
    else if (key === 'expires') {
      const time = Date.parse(arg);
      if (!Number.isNaN(time)) expires = time;
    }
  }
  // §5.3 step 3: Max-Age wins over Expires.
  const remove = maxAge !== undefined ? maxAge <= 0 : expires !== undefined && expires <= now;
  const persistent = !remove && (maxAge !== undefined || expires !== undefined);
  return { change: { name, value, path: path ?? defaultPath(requestPath), secure, remove }, persistent };
}

/** RFC 6265 §5.1.4: the directory of the request path. */
function defaultPath(requestPath: string): string {
  if (!requestPath.startsWith('/')) return '/';
  const slash = requestPath.lastIndexOf('/');
  return slash <= 0 ? '/' : requestPath.slice(0, slash);
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

const size = (c: { name: string; value: string }) => c.name.length + c.value.length;

/**
 * The destination's cookies after a response's changes. A cookie that would take the session past
 * the bounds is not kept (the ones already there stay: they hold a backend session under way);
 * `refused` names it.
 */
export function applyChanges(
  all: BackendCookies | undefined,
  destination: string,
  changes: readonly CookieChange[],
): { cookies: Record<string, readonly StoredCookie[]>; refused: string[] } {
  const cookies: Record<string, readonly StoredCookie[]> = { ...all };
  let jar = [...(cookies[destination] ?? [])];
  const refused: string[] = [];
  for (const change of changes) {
    jar = jar.filter((c) => c.name !== change.name || c.path !== change.path);
    if (change.remove) continue;
    const total = Object.entries(cookies).reduce((sum, [name, list]) => (name === destination ? sum : sum + list.reduce((s, c) => s + size(c), 0)), 0);
    const mine = jar.reduce((s, c) => s + size(c), 0);
    const added = size(change);
    if (added > MAX_COOKIE_BYTES || mine + added > MAX_DESTINATION_BYTES || total + mine + added > MAX_TOTAL_BYTES) {
      refused.push(change.name);
      continue;
    }
    jar.push({ name: change.name, value: change.value, path: change.path, ...(change.secure ? { secure: true as const } : {}) });
  }
  if (jar.length) cookies[destination] = jar;
  else delete cookies[destination];
  return { cookies, refused };
}

/**
 * The Cookie header towards the destination: the client's cookies, without those of the same name as
 * a kept one (a browser-held copy must not shadow the session's), then the kept cookies for the
 * path, longest path first (RFC 6265 §5.4 step 2). Secure cookies go to https destinations only (§5.4).
 */
export function withKeptCookies(clientHeader: string | undefined, kept: readonly StoredCookie[], requestPath: string, https: boolean): string | undefined {
  const matching = kept.filter((c) => (https || !c.secure) && pathMatches(requestPath, c.path));
  if (matching.length === 0) return clientHeader;
  matching.sort((a, b) => b.path.length - a.path.length);
  const names = new Set(matching.map((c) => c.name));
  const client = (clientHeader ?? '')
    .split(';')
    .map((p) => p.trim())
    .filter((p) => {
      if (!p) return false;
      const eq = p.indexOf('=');
      return !names.has((eq === -1 ? p : p.slice(0, eq)).trim());
    });
  return [...client, ...matching.map((c) => `${c.name}=${c.value}`)].join('; ');
}
