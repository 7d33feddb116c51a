import http, { type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { parse as parseUrl } from 'node:url';
import httpProxy from 'http-proxy';
import type { Destination } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { RequestOrigin } from '../tenant/resolve.js';
import type { CompiledRoute } from '../routing/route-table.js';
import { responseHeadersWithoutHopByHop, stripHopByHop, withoutCookies, withoutSetCookies } from './headers.js';

/** What the proxy needs to know about one request. */
export interface ProxyTarget {
  requestId: string;
  origin: RequestOrigin;
  route: CompiledRoute;
  destination: Destination;
  /** The route-rewritten path and query to request from the destination. */
  path: string;
  /** `Authorization` to send (the user's bearer token on forwardAuthToken destinations). */
  authorization?: string;
}

export interface ProxyOptions {
  destinations: readonly Destination[];
  /** Names of the gateway's own cookies, removed before a request leaves the gateway. */
  ownCookies: ReadonlySet<string>;
  /** Hook to finish the response head: security defaults, responseHeaders, compression. */
  respond(req: IncomingMessage, res: ServerResponse, status: number, headers: OutgoingHttpHeaders, target: ProxyTarget): NodeJS.WritableStream;
}

export interface Proxy {
  /** Proxies the request; the returned function must run when `res` closes (it frees the request's state). */
  web(req: IncomingMessage, res: ServerResponse, target: ProxyTarget, onError: (err: GatewayError) => void): () => void;
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, target: ProxyTarget, onError: (err: GatewayError) => void): void;
  close(): void;
}

interface Pending {
  target: ProxyTarget;
  timedOut: boolean;
}

/** One destination's fixed request options, worked out at start-up. */
interface Upstream {
  /** WebSockets only (http-proxy's ws pass); plain requests are made here, see web(). */
  proxy: httpProxy;
  agent: http.Agent;
  request: (options: https.RequestOptions) => http.ClientRequest;
  /** As http-proxy's setupOutgoing sets them for this destination. */
  host: string | undefined;
  hostname: string | undefined;
  port: number | string | undefined;
  /** https only (undefined for http, where it means nothing). */
  rejectUnauthorized: boolean | undefined;
  /** The Host sent to the destination (http-proxy's changeOrigin), undefined through a forward proxy. */
  hostHeader: string | undefined;
  /** The path prefix of the target URL, as http-proxy joins it. */
  targetPath: string;
  toProxy: boolean;
}

// http-proxy's own path joining, for request targets the fast path below cannot vouch for.
const httpProxyCommon = createRequire(import.meta.url)('http-proxy/lib/http-proxy/common') as {
  urlJoin(...parts: string[]): string;
  setupOutgoing(outgoing: object, options: object, req: object): http.RequestOptions & { headers: Record<string, string>; rejectUnauthorized?: boolean };
};

/**
 * One keep-alive agent and one `http-proxy` server (for WebSocket upgrades) per destination, made at
 * start-up: the request path only looks them up. Plain requests are made with http.request the way
 * http-proxy's web pass would make them (see web()). Responses are handled here so that hop-by-hop
 * fields, redirects and the gateway's own headers are decided in one place.
 */
export function createProxy(options: ProxyOptions): Proxy {
  // WebSocket upgrades only (http-proxy's ws pass): a Map with explicit deletes, not a WeakMap (the
  // entry's value is reached from closures over its own key, which kept WeakMap entries alive).
  const pending = new Map<IncomingMessage, Pending>();
  const upstreams = new Map<string, Upstream>();

  for (const destination of options.destinations) {
    const secure = destination.url.protocol === 'https:';
    // `timeout` is the destination's: set once per socket by the agent, it makes every request on the
    // socket emit 'timeout' after that much inactivity, with no timer to arm per request.
    const agentOptions = { keepAlive: true, keepAliveMsecs: 1000, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' as const, timeout: destination.timeout };
    const agent = secure ? new https.Agent({ ...agentOptions, rejectUnauthorized: destination.strictSSL }) : new http.Agent(agentOptions);
    const viaProxy = destination.proxyHost !== undefined;
    const proxyOptions = {
      // Through a forward proxy the request line carries the absolute URL (RFC 9112 §3.2.2).
      // Parsed once here: a string target would be re-parsed on every request.
      target: parsedTarget(viaProxy ? new URL(`http://${destination.proxyHost}:${destination.proxyPort ?? 80}`) : destination.url),
      toProxy: viaProxy,
      agent,
      // Through a forward proxy, Host names the destination (set in prepare), not the proxy.
      changeOrigin: !viaProxy,
      secure: destination.strictSSL,
      selfHandleResponse: true,
      xfwd: false,
      ws: true,
      prependPath: true,
    };
    const proxy = httpProxy.createProxyServer(proxyOptions);
    proxy.on('proxyReqWs', (proxyReq, req, socket) => {
      const state = pending.get(req);
      // http-proxy ends the backend side only when the client's side ends cleanly or fails; a
      // client socket destroyed otherwise (e.g. at shutdown) would leave the backend's open.
      proxyReq.once('upgrade', (backendRes, backendSocket) => {
        socket.once('close', () => backendSocket.destroy());
        // http-proxy relays the 101's headers as they are: the same rules as for every response.
        // (This listener runs before http-proxy's, which is added after proxyReqWs.)
        delete backendRes.headers['x-zonegate-error'];
        const setCookie = withoutSetCookies(backendRes.headers['set-cookie'], options.ownCookies);
        if (setCookie === undefined) delete backendRes.headers['set-cookie'];
        else backendRes.headers['set-cookie'] = setCookie;
      });
      // http-proxy sets no timeout on an upgrade: a backend that accepts the connection and never
      // answers the handshake would hold the client for ever. http-proxy clears the socket's
      // timeout once the connection is upgraded (setupSocket), so open WebSockets are not affected.
      proxyReq.setTimeout(destination.timeout, () => {
        if (state) state.timedOut = true;
        proxyReq.destroy();
      });
    });
    // What http-proxy's web pass would send for a request to `/`: the fixed part of every request.
    const template = httpProxyCommon.setupOutgoing({}, proxyOptions, { method: 'GET', headers: {}, url: '/' });
    upstreams.set(destination.name, {
      proxy,
      agent,
      request: proxyOptions.target.protocol === 'https:' ? https.request : http.request,
      host: template.host ?? undefined,
      hostname: template.hostname ?? undefined,
      port: template.port ?? undefined,
      rejectUnauthorized: template.rejectUnauthorized,
      hostHeader: viaProxy ? undefined : template.headers.host,
      targetPath: proxyOptions.target.path,
      toProxy: viaProxy,
    });
  }

  /**
   * The backend's response: headers decided here (hop-by-hop fields, the gateway's own marks and
   * cookies, redirects), then the `respond` hook writes the head and the body is piped through.
   */
  function relay(req: IncomingMessage, res: ServerResponse, proxyRes: IncomingMessage, target: ProxyTarget, onError: (err: GatewayError) => void): boolean {
    const headers = responseHeadersWithoutHopByHop(proxyRes.headers);
    // Only the gateway marks its own errors, and only it sets its own cookies (a backend that
    // could set the session cookie could fix a victim's session).
    if (headers['x-zonegate-error'] !== undefined) delete headers['x-zonegate-error'];
    if (proxyRes.headers['set-cookie'] !== undefined) {
      const setCookie = withoutSetCookies(proxyRes.headers['set-cookie'], options.ownCookies);
      if (setCookie === undefined) delete headers['set-cookie'];
      else headers['set-cookie'] = setCookie;
    }
    rewriteLocation(headers, target);
    const status = proxyRes.statusCode ?? 0;
    let body: NodeJS.WritableStream;
    try {
      // RFC 9110 §15: a status is 100-599. Node's parser accepts any three digits, and
      // writeHead throws below 100: thrown in this event handler, it would end the process.
      if (status < 200 || status > 599) throw new Error(`invalid status ${status}`);
      body = options.respond(req, res, status, headers, target);
    } catch (err) {
      proxyRes.destroy();
      const name = target.destination.name;
      onError(new GatewayError('ZG_ERR_BACKEND_UNREACHABLE', `The destination "${name}" sent an invalid response`, { cause: err, expose: true }));
      return false;
    }
    proxyRes.on('error', () => res.destroy());
    proxyRes.pipe(body as NodeJS.WritableStream & { end(): void });
    return true;
  }

  function prepare(req: IncomingMessage, target: ProxyTarget, upgrade: boolean): void {
    const h = req.headers;
    stripHopByHop(h, upgrade);
    const cookie = withoutCookies(h.cookie, options.ownCookies);
    if (cookie === undefined) delete h.cookie;
    else h.cookie = cookie;
    if (target.authorization) h.authorization = target.authorization;
    // Node has already answered 100-continue to the client (RFC 9110 §10.1.1). Forwarded, Expect
    // would also stop http-proxy from emitting proxyReq, so a timeout would be reported as 502.
    if (h.expect !== undefined) delete h.expect;
    // The correlation id (SAP's backends, CAP among them, read x-request-id as one).
    h['x-request-id'] = target.requestId;
    const { origin } = target;
    if (!origin.forwarded) {
      // Other ways of saying where a request came from or which path it meant, honoured by Spring,
      // Express (trust proxy), Tomcat's RemoteIpValve and IIS/Symfony: only a trusted peer may send them.
      for (const name of UNTRUSTED_FORWARDING) if (h[name] !== undefined) delete h[name];
    }
    if (target.destination.setXForwardedHeaders) {
      // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; backends expect the plain address.
      const remote = req.socket.remoteAddress ?? '';
      const peer = remote.startsWith('::ffff:') ? remote.slice(7) : remote;
      // From an untrusted peer the client's own X-Forwarded-* are discarded, not appended to.
      h['x-forwarded-for'] = origin.forwarded && h['x-forwarded-for'] ? `${h['x-forwarded-for']}, ${peer}` : peer;
      h['x-forwarded-host'] = origin.host;
      h['x-forwarded-proto'] = origin.protocol;
      const colon = origin.host.lastIndexOf(':');
      h['x-forwarded-port'] =
        colon > origin.host.lastIndexOf(']') ? origin.host.slice(colon + 1) : origin.protocol === 'https' ? '443' : '80';
      h['x-forwarded-path'] = req.url ?? '/';
    } else if (!origin.forwarded) {
      for (const name of X_FORWARDED) if (h[name] !== undefined) delete h[name];
    }
    if (target.destination.proxyHost !== undefined) {
      // To a forward proxy the request target is the destination's absolute URL (RFC 9112 §3.2.2).
      const url = target.destination.url;
      req.url = url.origin + url.pathname.replace(/\/$/, '') + target.path;
      h.host = url.host;
    } else {
      req.url = target.path;
    }
  }

  function classify(err: NodeJS.ErrnoException, timedOut: boolean, destination: Destination): GatewayError {
    if (timedOut) {
      return new GatewayError('ZG_ERR_BACKEND_TIMEOUT', `The destination "${destination.name}" did not answer within ${destination.timeout} ms`, { cause: err, expose: true });
    }
    return new GatewayError('ZG_ERR_BACKEND_UNREACHABLE', `The destination "${destination.name}" could not be reached (${err.code ?? 'error'})`, { cause: err, expose: true });
  }

  return {
    web(req, res, target, onError) {
      const upstream = upstreams.get(target.destination.name)!;
      const destination = target.destination;
      prepare(req, target, false);
      // What http-proxy's web pass does for these options (selfHandleResponse, no xfwd, no
      // per-request options), made directly: its per-request option copies, url.parse and events
      // cost more than the rest of the gateway's own request handling.
      const method = req.method;
      const h = req.headers;
      if ((method === 'DELETE' || method === 'OPTIONS') && !h['content-length']) {
        h['content-length'] = '0';
        delete h['transfer-encoding'];
      }
      if (upstream.hostHeader !== undefined) h.host = upstream.hostHeader;
      // One object literal of a fixed shape (a spread of a prepared object took the slow path).
      const proxyReq = upstream.request({
        host: upstream.host,
        hostname: upstream.hostname,
        port: upstream.port,
        agent: upstream.agent,
        rejectUnauthorized: upstream.rejectUnauthorized,
        method,
        path: outgoingPath(upstream, req.url ?? ''),
        headers: h,
      });
      let timedOut = false;
      let proxyRes: IncomingMessage | undefined;
      // The destination's timeout (the agent's socket timeout), handled here so that a timeout is
      // known as one (504) and not mistaken for a reset (502).
      proxyReq.once('timeout', () => {
        timedOut = true;
        proxyReq.destroy(new Error(`timeout after ${destination.timeout} ms`));
      });
      req.on('aborted', () => proxyReq.abort());
      const proxyError = (err: NodeJS.ErrnoException) => {
        // The client is gone: nobody to answer (http-proxy's 'econnreset' case).
        if (req.socket.destroyed && err.code === 'ECONNRESET') return void proxyReq.abort();
        onError(classify(err, timedOut, destination));
      };
      req.on('error', proxyError);
      proxyReq.on('error', proxyError);
      req.pipe(proxyReq);
      proxyReq.on('response', (response: IncomingMessage) => {
        if (relay(req, res, response, target, onError)) proxyRes = response;
      });
      // A client gone before the proxying started (e.g. during an asynchronous login check).
      if (res.destroyed && !res.writableFinished) proxyReq.destroy();
      // Called by the caller's own 'close' listener (one per request). Node no longer emits the
      // request's 'aborted' once its body is complete (every GET): a client that left would hold
      // a backend socket until the timeout.
      return () => {
        if (res.writableFinished) return;
        proxyReq.destroy();
        proxyRes?.destroy();
      };
    },
    ws(req, socket, head, target, onError) {
      const upstream = upstreams.get(target.destination.name)!;
      const state: Pending = { target, timedOut: false };
      pending.set(req, state);
      socket.once('close', () => pending.delete(req));
      prepare(req, target, true);
      upstream.proxy.ws(req, socket, head, {}, (err: NodeJS.ErrnoException) => onError(classify(err, state.timedOut, target.destination)));
    },
    close() {
      for (const { proxy, agent } of upstreams.values()) {
        proxy.close();
        agent.destroy();
      }
    },
  };
}

/** Characters url.parse passes through unchanged (no escaping, no `#`, no backslash). */
const PLAIN_TARGET = /^\/[\w\-.~!$&()*+,;=:@%/?]*$/;

/**
 * http-proxy's `urlJoin(target.path, url.parse(req.url).path)`: the target URL's path joined to the
 * request's, runs of `/` collapsed (in the path only). The usual target, already normalised by the
 * gateway, is joined by concatenation; anything else takes http-proxy's own functions.
 */
function outgoingPath(upstream: Upstream, url: string): string {
  const { targetPath } = upstream;
  if (upstream.toProxy) return httpProxyCommon.urlJoin(targetPath, url);
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (PLAIN_TARGET.test(url) && !path.includes('//') && !path.includes(':/') && plainBase(targetPath)) {
    return targetPath.endsWith('/') ? targetPath.slice(0, -1) + url : targetPath + url;
  }
  return httpProxyCommon.urlJoin(targetPath, parseUrl(url).path ?? '');
}

const plainBases = new Map<string, boolean>();

/** Whether a target path joins by concatenation: no empty segments or `:/` for urlJoin to change. */
function plainBase(targetPath: string): boolean {
  let plain = plainBases.get(targetPath);
  if (plain === undefined) {
    const trimmed = targetPath.endsWith('/') ? targetPath.slice(0, -1) : targetPath;
    plain = trimmed === '' || (trimmed.startsWith('/') && !trimmed.includes('//') && !trimmed.includes(':/') && !trimmed.includes('?'));
    plainBases.set(targetPath, plain);
  }
  return plain;
}

const X_FORWARDED = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-path'];

const UNTRUSTED_FORWARDING = ['forwarded', 'x-real-ip', 'x-forwarded-prefix', 'x-forwarded-server', 'x-original-url', 'x-rewrite-url'];

function parsedTarget(url: URL): { host: string; port: number; protocol: string; hostname: string; path: string } {
  const secure = url.protocol === 'https:';
  return {
    protocol: url.protocol,
    host: url.host,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || (secure ? 443 : 80)),
    path: url.pathname === '/' ? '' : url.pathname,
  };
}

/**
 * A backend that redirects to its own URL would send the browser past the gateway (and its login).
 * Such a Location is rewritten to the gateway's origin, and where the route's mapping is simple, to
 * the gateway's path (route `^/api/(.*)$` -> target `/$1`: backend `/x` becomes `/api/x`).
 */
function rewriteLocation(headers: OutgoingHttpHeaders, target: ProxyTarget): void {
  const location = headers.location;
  if (typeof location !== 'string') return;
  const backend = target.destination.url;
  let url: URL;
  try {
    url = new URL(location, backend);
  } catch {
    return;
  }
  const absoluteToBackend = url.origin === backend.origin;
  const relative = location.startsWith('/') && !location.startsWith('//');
  if (!absoluteToBackend && !relative) return;
  let pathname = url.pathname;
  const basePath = backend.pathname.replace(/\/$/, '');
  if (basePath && pathname.startsWith(basePath + '/')) pathname = pathname.slice(basePath.length);
  const reverse = target.route.reverse;
  if (reverse && pathname.startsWith(reverse.targetPrefix)) {
    pathname = reverse.sourcePrefix + pathname.slice(reverse.targetPrefix.length);
  }
  const path = pathname + url.search + url.hash;
  headers.location = absoluteToBackend ? `${target.origin.protocol}://${target.origin.host}${path}` : path;
}
