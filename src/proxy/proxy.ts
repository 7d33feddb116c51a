import http, { type IncomingMessage, type ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { PassThrough, Readable, type Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import type { ClientLimits } from '../config/environment.js';
import type { Destination } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { ConnectionLimit, type Waiter } from './connection-limit.js';
import type { RequestOrigin } from '../tenant/resolve.js';
import type { CompiledRoute } from '../routing/route-table.js';
import type { BackendSpan, RequestTrace } from '../tracing/types.js';
import { sortSetCookies, withKeptCookies, type CookieChange, type StoredCookie } from './backend-cookies.js';
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
  /** The user's session, when the request has one: the destination's session cookies are kept there. */
  sessionId?: string;
  /** The cookies the session keeps for this destination. */
  backendCookies?: readonly StoredCookie[];
  /** The request's span when tracing is on: the backend call gets a span under it, and its traceparent. */
  trace?: RequestTrace;
  /** A WebSocket's handshake has ended at the backend: 101, or the status it answered instead. */
  handshakeEnded?: (status: number) => void;
  /**
   * A path tenant's prefix (`/t/acme`, src/tenant/path.ts): the backend sees the path without it, and
   * its redirects and browser cookies are put back inside it.
   */
  tenantPrefix?: string;
}

export interface ProxyOptions {
  destinations: readonly Destination[];
  /** Names of the gateway's own cookies, removed before a request leaves the gateway. */
  ownCookies: ReadonlySet<string>;
  /** Request buffering, the request body's idle timeout and the wait for a destination connection. */
  clients: Pick<ClientLimits, 'requestBufferSize' | 'requestBodyTimeoutMs' | 'backendQueueTimeoutMs'>;
  /** Keeps a response's session cookies in the session (login); resolves when done, never rejects. */
  keepBackendCookies(req: IncomingMessage, sessionId: string, destination: string, changes: readonly CookieChange[]): Promise<void>;
  /** Hook to finish the response head: security defaults, responseHeaders, compression. */
  respond(req: IncomingMessage, res: ServerResponse, status: number, headers: OutgoingHttpHeaders, target: ProxyTarget): NodeJS.WritableStream;
}

export interface Proxy {
  /** Proxies the request; the returned function must run when `res` closes (it frees the request's state). */
  web(req: IncomingMessage, res: ServerResponse, target: ProxyTarget, onError: (err: GatewayError) => void): () => void;
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, target: ProxyTarget, onError: (err: GatewayError) => void): void;
  /**
   * A proxy for other options (a reload's destinations and hooks) that shares this one's agent,
   * connections and limit for every destination whose settings are the same; the others are new.
   */
  withOptions(options: ProxyOptions): Proxy;
  /** Closes the destinations' agents that no proxy made by withOptions still shares. */
  close(): void;
}

interface Pending {
  /** The options of the proxy that took the request (a destination's handlers may serve several). */
  hooks: ProxyOptions;
  target: ProxyTarget;
  timedOut: boolean;
  onError: (err: GatewayError) => void;
  proxyReq: http.ClientRequest | undefined;
  proxyRes: IncomingMessage | undefined;
  /** Holds one of the destination's connections (ConnectionLimit), to give back when it ends. */
  holdsConnection: boolean;
  /** Queued for a connection. */
  waiter: Waiter | undefined;
  /** The client's response has closed: whatever was still under way stops. */
  closed: boolean;
  /** The backend call's span, when tracing is on. */
  span: BackendSpan | undefined;
}

interface DestinationProxy {
  proxy: httpProxy;
  agent: http.Agent;
  limit: ConnectionLimit;
  /** The destination's settings: equal ones are shared across reloads. */
  fingerprint: string;
  /** How many proxies (this one and those made from it by withOptions) use it; closed at 0. */
  users: number;
}

/**
 * One `http-proxy` server and one keep-alive agent per destination, made at start-up: the request
 * path only looks them up. Responses are handled here (selfHandleResponse) so that hop-by-hop
 * fields, redirects and the gateway's own headers are decided in one place.
 */
export function createProxy(options: ProxyOptions): Proxy {
  return proxyFor(options, new Map());
}

function proxyFor(options: ProxyOptions, previous: ReadonlyMap<string, DestinationProxy>): Proxy {
  // Each request's state rides on the request itself (a symbol-keyed property), not in a Map or
  // WeakMap keyed by request: measured under the benchmark, an entry per in-flight request in an
  // old-space table got requests promoted by scavenges and full collections ran every ~175 ms (a
  // gateway loaded after a minute idle cost ~110 µs per request instead of ~85).
  const stateOf = (req: IncomingMessage): Pending | undefined => (req as WithState)[STATE];
  const setState = (req: IncomingMessage, state: Pending | undefined): void => {
    (req as WithState)[STATE] = state;
  };
  const servers = new Map<string, DestinationProxy>();
  const { requestBufferSize, requestBodyTimeoutMs, backendQueueTimeoutMs } = options.clients;

  for (const destination of options.destinations) {
    const fingerprint = destinationFingerprint(destination);
    const kept = previous.get(keyOf(destination));
    if (kept?.fingerprint === fingerprint) {
      kept.users++;
      servers.set(keyOf(destination), kept);
      continue;
    }
    const secure = destination.url.protocol === 'https:';
    // `timeout` is the destination's: the agent sets it on each new socket and then makes every
    // request on the socket emit 'timeout' after that much inactivity (see proxyReq for reuse).
    // The number of connections is bounded by ConnectionLimit, which bounds the wait too: the agent
    // never queues (its queue has no timeout, see connection-limit.ts).
    const agentOptions = { keepAlive: true, keepAliveMsecs: 1000, maxSockets: Infinity, maxFreeSockets: 64, scheduling: 'lifo' as const, timeout: destination.timeout };
    const agent = secure ? new https.Agent({ ...agentOptions, rejectUnauthorized: destination.strictSSL }) : new http.Agent(agentOptions);
    const viaProxy = destination.proxyHost !== undefined;
    const proxy = httpProxy.createProxyServer({
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
    });
    proxy.on('proxyReq', (proxyReq, req, res) => {
      const state = stateOf(req);
      // The client's response closed (web()'s release ran) while the connection was being opened:
      // never sent. Destroyed, with that connection, before Node writes the request head.
      if (!state) return void proxyReq.destroy();
      state.proxyReq = proxyReq;
      // A reused keep-alive socket keeps the idle timeout the agent gave it when it was freed: the
      // backend's `Keep-Alive: timeout=N` hint minus 1 s (Node's keepSocketAlive), 4 s behind
      // Node's own default of 5, which would cut a 30 s destination's slow answer or paused
      // download. Set back on every request; compared first, as re-arming a socket timer is not free.
      const socket = proxyReq.socket;
      if (socket && socket.timeout !== destination.timeout) socket.setTimeout(destination.timeout);
      // A client gone before the backend answered: see web(), which cuts proxyReq on 'close'.
      if (res.destroyed && !res.writableFinished) proxyReq.destroy();
      // The destination's timeout (the agent's socket timeout), handled here rather than by
      // http-proxy so that a timeout is known as one (504) and not mistaken for a reset (502).
      proxyReq.once('timeout', () => {
        state.timedOut = true;
        proxyReq.destroy(new Error(`timeout after ${destination.timeout} ms`));
      });
    });
    proxy.on('proxyReqWs', (proxyReq, req, socket) => {
      const state = stateOf(req);
      // http-proxy ends the backend side only when the client's side ends cleanly or fails; a
      // client socket destroyed otherwise (e.g. at shutdown) would leave the backend's open.
      const handshakeEnded = (status: number) => {
        state?.span?.answered(status);
        state?.span?.end();
        state?.target.handshakeEnded?.(status);
      };
      // A backend that refuses the upgrade answers an ordinary response, which http-proxy relays
      // (Node emits 'response' only for an answer that is not a switch of protocols).
      proxyReq.once('response', (backendRes: IncomingMessage) => handshakeEnded(backendRes.statusCode ?? 0));
      proxyReq.once('upgrade', (backendRes, backendSocket) => {
        handshakeEnded(101);
        socket.once('close', () => backendSocket.destroy());
        // http-proxy relays the 101's headers as they are: the same rules as for every response.
        // (This listener runs before http-proxy's, which is added after proxyReqWs.)
        delete backendRes.headers['x-zonegate-error'];
        const setCookie = withoutSetCookies(backendRes.headers['set-cookie'], (state?.hooks ?? options).ownCookies);
        if (setCookie === undefined) delete backendRes.headers['set-cookie'];
        else {
          const prefix = state?.target.tenantPrefix;
          backendRes.headers['set-cookie'] = prefix === undefined ? setCookie : setCookie.map((line) => withinTenantPath(line, prefix));
        }
      });
      // http-proxy sets no timeout on an upgrade: a backend that accepts the connection and never
      // answers the handshake would hold the client for ever. http-proxy clears the socket's
      // timeout once the connection is upgraded (setupSocket), so open WebSockets are not affected.
      proxyReq.setTimeout(destination.timeout, () => {
        if (state) state.timedOut = true;
        proxyReq.destroy();
      });
    });
    proxy.on('proxyRes', (proxyRes, req, res) => {
      const state = stateOf(req);
      if (!state) {
        proxyRes.resume();
        return;
      }
      state.proxyRes = proxyRes;
      state.span?.answered(proxyRes.statusCode ?? 0);
      proxyRes.on('error', () => res.destroy());
      const headers = responseHeadersWithoutHopByHop(proxyRes.headers);
      // Only the gateway marks its own errors, and only it sets its own cookies (a backend that
      // could set the session cookie could fix a victim's session).
      delete headers['x-zonegate-error'];
      const setCookie = withoutSetCookies(proxyRes.headers['set-cookie'], state.hooks.ownCookies);
      const prefix = state.target.tenantPrefix;
      // What the browser gets of them, for a path tenant inside its prefix (kept ones keep the backend's paths).
      const toBrowser = (lines: string[]) => (prefix === undefined ? lines : lines.map((line) => withinTenantPath(line, prefix)));
      if (setCookie === undefined) delete headers['set-cookie'];
      else headers['set-cookie'] = toBrowser(setCookie);
      rewriteLocation(headers, state.target);
      const { sessionId } = state.target;
      if (sessionId === undefined || setCookie === undefined) return respondWith(proxyRes, req, res, state, headers);
      // The backend's session cookies go into the user's session, and the response waits for them
      // to be stored, as SAP's router's does (express-session saves before the response ends): the
      // browser's next request must find them there.
      const { keep, browser } = sortSetCookies(setCookie, backendPath(state.target), Date.now());
      if (browser.length) headers['set-cookie'] = toBrowser(browser);
      else delete headers['set-cookie'];
      if (keep.length === 0) return respondWith(proxyRes, req, res, state, headers);
      void state.hooks.keepBackendCookies(req, sessionId, destination.name, keep).then(() => {
        if (stateOf(req) === state) respondWith(proxyRes, req, res, state, headers);
        else proxyRes.resume();
      });
    });
    servers.set(keyOf(destination), { proxy, agent, limit: new ConnectionLimit(destination.maxSockets, backendQueueTimeoutMs), fingerprint, users: 1 });
  }

  /** Sends the backend's response on, with the headers the gateway has decided. */
  function respondWith(proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse, state: Pending, headers: OutgoingHttpHeaders): void {
    const status = proxyRes.statusCode ?? 0;
    let body: NodeJS.WritableStream;
    try {
      // RFC 9110 §15: a status is 100-599. Node's parser accepts any three digits, and
      // writeHead throws below 100: thrown in this event handler, it would end the process.
      if (status < 200 || status > 599) throw new Error(`invalid status ${status}`);
      body = state.hooks.respond(req, res, status, headers, state.target);
    } catch (err) {
      proxyRes.destroy();
      const name = state.target.destination.name;
      failed(state, new GatewayError('ZG_ERR_BACKEND_UNREACHABLE', `The destination "${name}" sent an invalid response`, { cause: err, expose: true }));
      return;
    }
    proxyRes.pipe(body as NodeJS.WritableStream & { end(): void });
  }

  function prepare(req: IncomingMessage, target: ProxyTarget, upgrade: boolean): void {
    const h = req.headers;
    stripHopByHop(h, upgrade);
    const cookie = withoutCookies(h.cookie, options.ownCookies);
    if (cookie === undefined) delete h.cookie;
    else h.cookie = cookie;
    // The session's cookies for this destination (backend-cookies.ts), in place of any the browser sent of the same name.
    const kept = target.backendCookies;
    if (kept !== undefined && kept.length > 0) {
      const withKept = withKeptCookies(h.cookie, kept, backendPath(target), target.destination.url.protocol === 'https:');
      if (withKept !== undefined) h.cookie = withKept;
    }
    if (target.route.authenticationType !== 'none') {
      // On protected routes the client's own credentials never reach the backend (SAP does the
      // same, REFERENCE.md §6), WebSocket handshakes included: only the token the gateway attaches,
      // and only to forwardAuthToken destinations. The CSRF token is the session's secret.
      if (h.authorization !== undefined) delete h.authorization;
      if (h['x-csrf-token'] !== undefined) delete h['x-csrf-token'];
    }
    // SAP's service-to-approuter credentials are the gateway's to read, on every route (SAP's
    // backend-request/headers.js removes them always); the backend gets Authorization instead.
    if (h['x-approuter-authorization'] !== undefined) delete h['x-approuter-authorization'];
    if (target.authorization) h.authorization = target.authorization;
    // Scopes and CSRF were decided on the request's real method; a backend that honours an override
    // (Spring's HiddenHttpMethodFilter, Express's method-override, OData/Google APIs) would run a
    // DELETE that the gateway let through as a scope-checked, CSRF-exempt or read-only POST/GET.
    for (const name of METHOD_OVERRIDE) if (h[name] !== undefined) delete h[name];
    // Node has already answered 100-continue to the client (RFC 9110 §10.1.1). Forwarded, Expect
    // would also stop http-proxy from emitting proxyReq, so a timeout would be reported as 502.
    if (h.expect !== undefined) delete h.expect;
    // The correlation id under both names backends read: x-request-id (CAP among others) and
    // x-correlationid (SAP's logging libraries, which SAP's router feeds; header-util.js).
    h['x-request-id'] = target.requestId;
    h['x-correlationid'] = target.requestId;
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
      // The path the client asked for, without its query (which may carry codes and tokens), as SAP's
      // router sends it (backend-request/headers.js: url.parse(req.url).pathname); a trusted
      // proxy's own x-forwarded-path is kept, as SAP keeps it.
      if (!origin.forwarded || h['x-forwarded-path'] === undefined) h['x-forwarded-path'] = pathOf(req.url ?? '/');
      // A path tenant's prefix, which the backend does not see (Spring's ForwardedHeaderFilter, ASP.NET's
      // UsePathBase and Werkzeug's ProxyFix build their links with it).
      if (target.tenantPrefix !== undefined) h['x-forwarded-prefix'] = target.tenantPrefix;
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

  function classify(err: NodeJS.ErrnoException, state: Pending | undefined, destination: Destination): GatewayError {
    if (state?.timedOut) {
      return new GatewayError('ZG_ERR_BACKEND_TIMEOUT', `The destination "${destination.name}" did not answer within ${destination.timeout} ms`, { cause: err, expose: true });
    }
    return new GatewayError('ZG_ERR_BACKEND_UNREACHABLE', `The destination "${destination.name}" could not be reached (${err.code ?? 'error'})`, { cause: err, expose: true });
  }

  /** Sends the request to the destination; `body` replaces the request as the body's source. */
  function forward(server: DestinationProxy, req: IncomingMessage, res: ServerResponse, state: Pending, body: Readable | undefined): void {
    const callback = (err: NodeJS.ErrnoException) => failed(state, classify(err, state, state.target.destination));
    if (body === undefined) {
      // (req, res, callback): with no per-call options http-proxy uses the server's own, instead of
      // copying them for every request.
      (server.proxy.web as unknown as (req: IncomingMessage, res: ServerResponse, cb: typeof callback) => void).call(server.proxy, req, res, callback);
    } else {
      server.proxy.web(req, res, { buffer: body }, callback);
    }
  }

  /** Forwards once one of the destination's connections is free, or answers 503 after the queue timeout. */
  function admit(server: DestinationProxy, req: IncomingMessage, res: ServerResponse, state: Pending, body: Readable | undefined): void {
    if (state.closed) return;
    if (server.limit.tryAcquire()) {
      state.holdsConnection = true;
      return forward(server, req, res, state, body);
    }
    state.waiter = server.limit.wait(
      () => {
        state.waiter = undefined;
        state.holdsConnection = true;
        forward(server, req, res, state, body);
      },
      () => {
        state.waiter = undefined;
        const { name, maxSockets } = state.target.destination;
        failed(
          state,
          new GatewayError('ZG_ERR_BACKEND_BUSY', `All ${maxSockets} connections of the destination "${name}" stayed busy for ${backendQueueTimeoutMs} ms`, { expose: true }),
        );
      },
    );
  }

  function failed(state: Pending, error: GatewayError): void {
    state.span?.failed(error.code, error.message);
    state.onError(error);
  }

  /**
   * Receives the body, up to REQUEST_BUFFER_SIZE bytes, before a connection is taken: a client that
   * trickles its body then holds only its own socket and that memory, not one of the destination's
   * connections (nginx's proxy_request_buffering). A body received whole goes on with its length; of
   * a larger one, what was received goes first and the rest streams from the client.
   */
  function receiveBody(req: IncomingMessage, then: (body: Readable) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= requestBufferSize) return;
      stop();
      req.pause();
      const rest = new PassThrough();
      for (const c of chunks) rest.write(c);
      then(req.pipe(rest));
    };
    const onEnd = () => {
      stop();
      // Sent with its length: no longer chunked (backends that refuse chunked uploads accept it).
      req.headers['content-length'] = String(size);
      then(Readable.from(chunks, { objectMode: false }));
    };
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
    };
    req.on('data', onData);
    req.on('end', onEnd);
  }

  /**
   * A client that stops sending its body is cut after REQUEST_BODY_TIMEOUT_MS (REQUEST_TIMEOUT_MS
   * bounds the whole request, but would let a stalled upload hold its connection for minutes). The
   * socket's own inactivity timer, so nothing is armed per chunk; Node emits it on the request only
   * while the body is incomplete. Once the body is in, the socket goes back to no timeout (the
   * gateway's server sets none while a request is under way), unless the response has already
   * finished: then Node has set the keep-alive timeout, which stays.
   */
  function boundBodyPauses(req: IncomingMessage, res: ServerResponse): void {
    req.setTimeout(requestBodyTimeoutMs, () => req.socket.destroy());
    req.once('end', () => {
      if (!res.writableFinished) req.socket.setTimeout(0);
    });
  }

  return {
    web(req, res, target, onError) {
      const server = servers.get(keyOf(target.destination))!;
      const state: Pending = { hooks: options, target, timedOut: false, onError, proxyReq: undefined, proxyRes: undefined, holdsConnection: false, waiter: undefined, closed: false, span: undefined };
      setState(req, state);
      // Read before prepare(), which drops Transfer-Encoding (hop-by-hop). Body-less requests (GET)
      // take the path they always took: no buffer, no listener, no timer.
      const h = req.headers;
      const hasBody = h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
      prepare(req, target, false);
      // With tracing off a caller's traceparent and tracestate pass through unchanged, as SAP's router
      // passes headers it does not know: the backend continues the caller's trace, the gateway unseen.
      if (target.trace !== undefined) state.span = target.trace.backendCall(target.destination, req.method ?? 'GET', target.path, h);
      if (!hasBody) admit(server, req, res, state, undefined);
      else {
        boundBodyPauses(req, res);
        if (requestBufferSize === 0) admit(server, req, res, state, undefined);
        else receiveBody(req, (body) => admit(server, req, res, state, body));
      }
      // Called by the caller's own 'close' listener (one per request). http-proxy cuts the backend
      // request only on the request's 'aborted', which Node no longer emits once a request body is
      // complete (every GET): a client that left would hold a backend socket until the timeout.
      return () => {
        setState(req, undefined);
        state.closed = true;
        state.span?.end();
        if (state.waiter) server.limit.cancel(state.waiter);
        if (state.holdsConnection) {
          state.holdsConnection = false;
          server.limit.release();
        }
        if (res.writableFinished) return;
        state.proxyReq?.destroy();
        state.proxyRes?.destroy();
      };
    },
    ws(req, socket, head, target, onError) {
      const server = servers.get(keyOf(target.destination))!;
      // WebSockets are not counted against maxSockets: an open one holds no agent connection.
      const state: Pending = { hooks: options, target, timedOut: false, onError, proxyReq: undefined, proxyRes: undefined, holdsConnection: false, waiter: undefined, closed: false, span: undefined };
      setState(req, state);
      socket.once('close', () => {
        setState(req, undefined);
        state.span?.end();
      });
      prepare(req, target, true);
      if (target.trace !== undefined) state.span = target.trace.backendCall(target.destination, req.method ?? 'GET', target.path, req.headers);
      server.proxy.ws(req, socket, head, {}, (err: NodeJS.ErrnoException) => {
        const error = classify(err, state, target.destination);
        state.span?.failed(error.code, error.message);
        state.span?.end();
        onError(error);
      });
    },
    withOptions(next) {
      return proxyFor(next, servers);
    },
    close() {
      for (const server of servers.values()) {
        if (--server.users > 0) continue;
        server.proxy.close();
        server.agent.destroy();
      }
      servers.clear();
    },
  };
}

/** What a destination's agent and handlers are made from: the same, and they can be kept. */
/**
 * Which connections a destination uses: its name, or, for a tenant's override of it
 * (src/tenant/configuration.ts), its name and the tenant's (another service, its own agent and limit).
 */
function keyOf(d: Destination): string {
  return d.tenant === undefined ? d.name : `${d.name}\u0000${d.tenant}`;
}

function destinationFingerprint(d: Destination): string {
  return JSON.stringify([d.name, d.tenant, d.url.href, d.forwardAuthToken, d.timeout, d.maxSockets, d.setXForwardedHeaders, d.strictSSL, d.proxyHost, d.proxyPort]);
}

const STATE = Symbol('zonegate.proxy.state');
type WithState = IncomingMessage & { [STATE]?: Pending };

const X_FORWARDED = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-path'];

const METHOD_OVERRIDE = ['x-http-method-override', 'x-http-method', 'x-method-override'];

const UNTRUSTED_FORWARDING = ['forwarded', 'x-real-ip', 'x-forwarded-prefix', 'x-forwarded-server', 'x-original-url', 'x-rewrite-url'];

/** The path the destination is asked for (its base path and the route's target, no query): what cookie paths match. */
function backendPath(target: ProxyTarget): string {
  return target.destination.url.pathname.replace(/\/$/, '') + pathOf(target.path);
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

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
  const path = (target.tenantPrefix ?? '') + pathname + url.search + url.hash;
  headers.location = absoluteToBackend ? `${target.origin.protocol}://${target.origin.host}${path}` : path;
}

/**
 * A backend's Set-Cookie line for a path tenant's browser: its Path put inside the tenant's prefix
 * (`Path=/` becomes `Path=/t/acme/`, none becomes the prefix), so that one tenant's backend cookies
 * are never sent with another tenant's requests from the same browser. The backend's Path is a path
 * of the backend, which sees the paths without the prefix.
 */
export function withinTenantPath(line: string, prefix: string): string {
  const parts = line.split(';');
  let found = false;
  for (let i = 1; i < parts.length; i++) {
    const m = /^\s*path\s*=\s*(.*?)\s*$/i.exec(parts[i]!);
    if (m === null) continue;
    found = true;
    const value = m[1]!.startsWith('/') ? m[1]! : '/';
    parts[i] = ` Path=${prefix}${value}`;
  }
  return found ? parts.join(';') : `${line}; Path=${prefix}`;
}
