/**
 * Forward auth (issue 14, part 2): zonegate decides, another proxy passes the request on. nginx's
 * `auth_request`, Traefik's `ForwardAuth` and ingress-nginx's `auth-url` ask AUTH_PATH about the
 * request they hold (REFERENCE.md §10); START_PATH begins a login and returns to it afterwards
 * (oauth2-proxy's `/oauth2/auth` and `/oauth2/start?rd=`). The decision is the gateway's own: the
 * tenant from the (trusted) forwarded host, the route of routes.json for the forwarded URI and method,
 * the session or bearer token and the route's scopes, all through the login feature.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { wantsHtml } from '../http/render-error.js';
import type { ForwardAuthLogin, LoginFeature, LoginRedirect, Verdict } from '../login/contract.js';
import { requestTarget } from '../routing/request-target.js';
import { samePathParameterRoute, type RouteTable } from '../routing/route-table.js';
import type { RequestContext } from '../server/context.js';
import { lastValue } from '../tenant/resolve.js';
import type { TrustedProxies } from '../tenant/trusted-proxies.js';

export const FORWARD_AUTH_PREFIX = '/_zonegate/';
export const AUTH_PATH = `${FORWARD_AUTH_PREFIX}auth`;
export const START_PATH = `${FORWARD_AUTH_PREFIX}start`;

export interface ForwardAuthOptions {
  routes: RouteTable;
  trustedProxies: TrustedProxies;
  login: LoginFeature & ForwardAuthLogin;
}

export interface ForwardAuth {
  readonly paths: ReadonlySet<string>;
  /**
   * Answers AUTH_PATH's 200 itself; resolves with a redirect for the gateway to send (a login to
   * begin); rejects with the 401/403 the proxy passes on.
   */
  handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, pathname: string): Promise<LoginRedirect | undefined>;
}

/** The request the proxy holds, as its trusted headers describe it. */
interface ForwardedRequest {
  method: string;
  url: string;
}

export function createForwardAuth(options: ForwardAuthOptions): ForwardAuth {
  const { routes, trustedProxies, login } = options;

  function unauthenticated(message: string): GatewayError {
    return new GatewayError('ZG_ERR_UNAUTHENTICATED', message, { headers: { 'www-authenticate': 'Bearer realm="zonegate"' } });
  }

  async function decide(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<LoginRedirect | undefined> {
    // The answer carries the user's access token: only a proxy may ask, never the client itself
    // (a page's script could read it from the response). A client's forwarded headers say nothing.
    if (!ctx.origin!.forwarded || !trustedProxies.forwardsHost) {
      throw new GatewayError('ZG_ERR_FORWARD_AUTH_UNTRUSTED', `${AUTH_PATH} answers only the proxies of TRUSTED_PROXIES`);
    }
    const forwarded = forwardedRequest(req);
    const prefix = ctx.tenantPrefix;
    // A path tenant decides only for its own prefix: the session was checked for the tenant of the
    // auth request's path, so a URI of another tenant's prefix must not ride it (src/tenant/path.ts).
    const routed = prefix === undefined ? forwarded.url : insidePrefix(forwarded.url, prefix);
    if (routed === undefined) {
      throw new GatewayError('ZG_ERR_FORBIDDEN', `The forwarded URI is not inside the tenant's prefix ${prefix}: ask ${prefix}${AUTH_PATH} about that tenant's URIs only`);
    }
    // A proxy that routes the client's own request for this endpoint here would hand it its token.
    if (pathOf(routed).startsWith(FORWARD_AUTH_PREFIX)) {
      throw new GatewayError('ZG_ERR_FORBIDDEN', `${FORWARD_AUTH_PREFIX} is the gateway's own: a proxy must not pass clients' requests for it through forward auth`);
    }
    const match = routes.match(routed, forwarded.method);
    if (routed.includes(';')) samePathParameterRoute(routes, routed, forwarded.method, match);
    // Proxies know 2xx, 401 and 403 (nginx answers 500 to anything else): a request no route
    // admits is denied, never let through.
    if (match.kind !== 'route') {
      throw new GatewayError('ZG_ERR_FORBIDDEN', `No route of routes.json admits ${forwarded.method} ${pathOf(routed)}`);
    }
    const route = (ctx.route = match.route);
    let verdict: Verdict | 'login' | undefined;
    if (route.authenticationType === 'none') {
      // As on a proxied public route: the user's identity when a session exists, never a login.
      const found = login.sessionOnPublicRoute(req, res, ctx);
      verdict = found instanceof Promise ? await found : found;
    } else {
      const decided = login.decide(req, res, ctx, route, forwarded.method);
      verdict = decided instanceof Promise ? await decided : decided;
      if (verdict === 'login') {
        // Traefik passes any answer but 2xx to the client, so a browser can be sent to the login
        // (`?redirect=1`); nginx cannot pass a redirect from auth_request and turns the 401 into
        // one itself (error_page 401 -> START_PATH). API clients get the 401 either way.
        const redirect = new URL(req.url ?? '/', 'http://x').searchParams.get('redirect');
        if (redirect !== '1' || isApiRequest(req, forwarded.method)) throw unauthenticated('This route requires a login');
        const origin = ctx.origin!;
        return { redirect: `${origin.protocol}://${origin.host}${prefix ?? ''}${START_PATH}?rd=${encodeURIComponent(forwarded.url)}` };
      }
    }
    ctx.user = verdict?.user;
    const headers: Record<string, string> = { 'cache-control': 'no-store', 'content-length': '0' };
    if (verdict?.user) {
      // oauth2-proxy's and Traefik's names; the proxy copies them onto the request it passes on.
      headers['x-forwarded-user'] = headerSafe(verdict.user.name);
      if (verdict.user.email) headers['x-forwarded-email'] = headerSafe(verdict.user.email);
      headers['x-forwarded-groups'] = headerSafe(verdict.user.scopes.join(','));
    }
    if (verdict?.authorization) headers.authorization = verdict.authorization;
    res.writeHead(200, headers);
    res.end();
    return undefined;
  }

  async function start(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<LoginRedirect> {
    // A client that cannot follow a login (XHR, fetch, curl) learns that it needs one: nginx sends
    // every 401 of auth_request here (error_page), having turned the method into GET on the way.
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !wantsHtml(req)) throw unauthenticated('This request requires a login');
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    let rd = query.get('rd');
    // nginx's error_page keeps the original request's URI in $request_uri, which its location
    // for START_PATH passes as X-Forwarded-Uri: the page to return to.
    if (rd === null && ctx.origin!.forwarded) {
      const uri = lastValue(req.headers['x-forwarded-uri']);
      if (uri !== undefined && !pathOf(uri).startsWith(FORWARD_AUTH_PREFIX)) rd = uri;
    }
    return login.startLogin(res, ctx, login.returnTarget(rd ?? '/', ctx));
  }

  return {
    paths: new Set([AUTH_PATH, START_PATH]),
    handle(req, res, ctx, pathname) {
      return pathname === AUTH_PATH ? decide(req, res, ctx) : start(req, res, ctx);
    },
  };
}

/**
 * The method and request target the proxy holds: Traefik's and nginx's X-Forwarded-Method and
 * -Uri, or ingress-nginx's X-Original-Method and X-Original-URL. Read only from a trusted proxy (the
 * caller checked), last value first as in requestOrigin; the target is normalised as the gateway
 * normalises its own (routing/request-target.ts), so routes match it as they would match the request.
 */
function forwardedRequest(req: IncomingMessage): ForwardedRequest {
  const method = (lastValue(req.headers['x-forwarded-method']) ?? lastValue(req.headers['x-original-method']))?.toUpperCase();
  let uri = lastValue(req.headers['x-forwarded-uri']);
  if (uri === undefined) {
    const original = lastValue(req.headers['x-original-url']);
    if (original !== undefined) {
      try {
        const parsed = new URL(original);
        uri = parsed.pathname + parsed.search;
      } catch {
        uri = undefined;
      }
    }
  }
  if (method === undefined || !/^[A-Z]{1,20}$/.test(method) || uri === undefined) {
    throw new GatewayError('ZG_ERR_BAD_REQUEST', 'Forward auth needs X-Forwarded-Method and X-Forwarded-Uri (or X-Original-Method and X-Original-URL) from the proxy');
  }
  return { method, url: requestTarget(uri) };
}

/** SAP's rule for API clients (login.ts): non-GET/HEAD, or not asking for HTML. */
function isApiRequest(req: IncomingMessage, method: string): boolean {
  return (method !== 'GET' && method !== 'HEAD') || !wantsHtml(req);
}

/** A value Node will put in a header: no control characters, Latin-1 only (else percent-encoded). */
function headerSafe(value: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** `url` without the tenant's prefix, or undefined when it is not inside it. */
function insidePrefix(url: string, prefix: string): string | undefined {
  if (!url.startsWith(prefix)) return undefined;
  const rest = url.slice(prefix.length);
  if (rest === '' || rest.startsWith('?')) return `/${rest}`;
  return rest.startsWith('/') ? rest : undefined;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
