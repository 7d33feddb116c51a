import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Settings } from '../config/environment.js';
import type { Destination, RoutesFile } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { compressOwnHeaders, type CompressionOptions } from '../http/compression.js';
import { sendError, sendRawError, type WayOn } from '../http/render-error.js';
import { createRepeatedErrorLog, type Logger } from '../log.js';
import { createProxy, type Proxy, type ProxyTarget } from '../proxy/proxy.js';
import { requestTarget } from '../routing/request-target.js';
import { samePathParameterRoute, type RouteTable } from '../routing/route-table.js';
import { isHtml5AppsRoute, type AppFileRequest, type Html5Apps } from '../html5-apps/serve.js';
import { serveStatic } from '../static/serve.js';
import type { Storage } from '../storage/types.js';
import { requestOrigin, resolveRequestTenant } from '../tenant/resolve.js';
import { withinPrefix } from '../tenant/path.js';
import type { TenantMetadata } from '../tenant/metadata.js';
import { NO_TENANT_DESTINATIONS, tenantDestinationsOf, type LiveTenantConfigurations, type TenantDestinations } from '../tenant/live-configurations.js';
import { newRequestContext, type RequestContext } from './context.js';
import { LOGIN_COOKIE_PREFIX, maySendSession, SECURE_SESSION_COOKIE, SESSION_COOKIE, type LoginFeature, type Verdict } from '../login/contract.js';
import { createSecurityHeaders } from './security-headers.js';
import { createReadiness, type Readiness } from './readiness.js';
import { USER_API_SERVICE } from '../config/routes.js';
import type { ForwardAuth } from '../forward-auth/forward-auth.js';
import type { RequestMetrics } from '../metrics/types.js';
import type { Tracing } from '../tracing/types.js';
import { rememberContext, runErrorHandlers, runHandlers, type Extensions } from './extensions.js';
import type { EventsFeature } from '../events/feature.js';

/** The built-in identity zones, when they run in this process (served on `<uaaDomain>` hosts). */
export interface IdentityHost {
  uaaDomain: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

/** Knows which tenants are subscribed (provisioning). Without one every matching host is served. */
export interface TenantRegistry {
  /**
   * The answer itself when it is known without I/O (recently looked up). While the records database
   * is down, a tenant subscribed when last asked is still subscribed (src/provisioning/registry.ts).
   */
  isSubscribed(subdomain: string): boolean | Promise<boolean>;
}

/**
 * What a reload may replace (routes.json, its error pages, the destinations, and what is built from
 * them): served as one snapshot that `reconfigure` swaps in one assignment. A request is served to
 * its end with the snapshot it began with.
 */
export interface ServedConfiguration {
  routesFile: RoutesFile;
  routes: RouteTable;
  destinations: readonly Destination[];
  /** routes.json `errorPage`, read with it: status -> HTML. */
  errorPages?: ReadonlyMap<number, string>;
  login?: LoginFeature;
  /** FORWARD_AUTH: `/_zonegate/auth` and `/_zonegate/start` for proxies in front (src/forward-auth/). */
  forwardAuth?: ForwardAuth;
}

export interface GatewayOptions {
  settings: Settings;
  routesFile: RoutesFile;
  routes: RouteTable;
  logger: Logger;
  /** Extension middleware (src/server/extensions.ts); none: the request path does not look. */
  extensions?: Extensions;
  storage?: Storage;
  /** What `/readyz` answers; by default built from `storage` alone (no records database probe). */
  readiness?: Readiness;
  identity?: IdentityHost;
  tenants?: TenantRegistry;
  login?: LoginFeature;
  /** FORWARD_AUTH: `/_zonegate/auth` and `/_zonegate/start` for proxies in front (src/forward-auth/). */
  forwardAuth?: ForwardAuth;
  /**
   * Paths the application answers on any host, before tenant routing: the SaaS registry's
   * subscription callbacks (`/callback/v1.0/...`). Resolves true when it answered.
   */
  callbacks?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  /** `/platform/v1/...` on any host: trusted platforms and the redirect relay (src/platform/). */
  platform?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  /** routes.json `errorPage`, read at start-up: status -> HTML. */
  errorPages?: ReadonlyMap<number, string>;
  /**
   * The server to answer on, already listening (start.ts binds it before it assembles the gateway,
   * see ./bind.ts; made with `serverTimeouts`); by default a new one, that `listen` binds.
   */
  server?: http.Server;
  /** Prometheus metrics (src/metrics/); undefined when they are off. */
  metrics?: RequestMetrics;
  /** OpenTelemetry spans (src/tracing/); undefined when tracing is off. */
  tracing?: Tracing;
  /** Deployed HTML5 applications behind `html5-apps-repo-rt` routes (src/html5-apps/); none: such routes answer 501. */
  html5Apps?: Html5Apps;
  /** Webhooks, event polling and the events admin API (src/events/); undefined when off (no EVENTS_ADMIN_TOKEN). */
  events?: Pick<EventsFeature, 'claims' | 'handle'>;
  /** Per-tenant configuration (src/tenant/live-configurations.ts): tenants' destination overrides. */
  tenantConfigurations?: LiveTenantConfigurations;
  /** TENANT_METADATA_PATH: the tenant metadata endpoint (src/tenant/metadata.ts). */
  tenantMetadata?: TenantMetadata;
}

export interface Gateway {
  readonly server: http.Server;
  listen(port?: number, host?: string): Promise<number>;
  /** Graceful stop: refuse new connections, let in-flight requests finish (bounded), then close. */
  shutdown(): Promise<void>;
  /**
   * Serves `next` from the next request on. Requests under way finish with the snapshot they began
   * with; the previous snapshot's connections to destinations that changed or went away close once
   * its last request has (those of unchanged destinations are kept, with their limits).
   */
  reconfigure(next: ServedConfiguration): void;
}

/** One ServedConfiguration as the request path uses it, with the requests it still serves. */
interface Snapshot {
  readonly routes: RouteTable;
  readonly destinations: readonly Destination[];
  readonly headers: ReturnType<typeof createSecurityHeaders>;
  readonly compression: CompressionOptions;
  readonly websocketsEnabled: boolean;
  readonly errorPages: ReadonlyMap<number, string> | undefined;
  /** The logout endpoint an error page may link to: only where a link (GET) can end the session. */
  readonly logoutLink: string | undefined;
  readonly login: LoginFeature;
  readonly forwardAuth: ForwardAuth | undefined;
  /** Tenants' overrides of the destinations: one map lookup per request, a miss for tenants without any. */
  readonly tenantDestinations: TenantDestinations['byTenant'];
  readonly proxy: Proxy;
  inFlight: number;
  retired: boolean;
}

/** Without a login feature, protected routes cannot be served; they say so instead of passing through. */
const NO_LOGIN: LoginFeature = {
  ownCookies: new Set(),
  ownPaths: new Set(),
  handleOwnPath: () => Promise.resolve(undefined),
  forgetTenant: () => Promise.resolve(),
  check: () => Promise.reject(noLogin()),
  checkUpgrade: () => Promise.reject(noLogin()),
  serveUserApi: () => Promise.reject(noLogin()),
  sessionOnPublicRoute: () => undefined,
  keepBackendCookies: () => Promise.resolve(),
};

function noLogin(): GatewayError {
  return new GatewayError('ZG_ERR_UNAUTHENTICATED', 'This route requires a login, and no identity provider is configured', {
    headers: { 'www-authenticate': 'Bearer realm="zonegate"' },
  });
}

export function createGateway(options: GatewayOptions): Gateway {
  const { settings, logger, metrics, tracing } = options;
  const extensions = activeExtensions(options.extensions);
  const uaaDomain = options.identity?.uaaDomain;
  const uaaSuffix = uaaDomain ? `.${uaaDomain}` : undefined;
  const tenantPatterns = { host: settings.tenantHostPattern, path: settings.tenantPathPattern };
  const readiness = options.readiness ?? createReadiness({ logger, ...(options.storage ? { storage: options.storage } : {}) });
  let draining = false;
  /** Upgraded sockets: no longer HTTP connections, so server.close() waits for them but closeAllConnections() does not end them. */
  const tunnels = new Set<Duplex>();

  /** What the current snapshot was made of: made again when a tenant's configuration changes. */
  let servedNow: ServedConfiguration = { routesFile: options.routesFile, routes: options.routes, destinations: settings.destinations, errorPages: options.errorPages, login: options.login, forwardAuth: options.forwardAuth };
  /** The snapshot new requests are served with; replaced whole by reconfigure(). */
  let current = snapshotOf(servedNow, undefined);
  /** Replaced snapshots whose requests are still under way: their proxies close after the last one. */
  const retiring = new Set<Snapshot>();
  options.tenantConfigurations?.onChange(() => reconfigure(servedNow));

  function snapshotOf(served: ServedConfiguration, previous: Snapshot | undefined): Snapshot {
    const { routesFile } = served;
    const login = served.login ?? NO_LOGIN;
    const headers = createSecurityHeaders(routesFile.responseHeaders ?? []);
    const compression: CompressionOptions = {
      enabled: routesFile.compression?.enabled ?? true,
      minSize: routesFile.compression?.minSize,
    };
    const tenantConfigurations = options.tenantConfigurations?.current();
    const perTenant = tenantConfigurations?.size ? tenantDestinationsOf(tenantConfigurations, served.destinations, logger) : NO_TENANT_DESTINATIONS;
    const proxyOptions = {
      destinations: perTenant.all.length ? [...served.destinations, ...perTenant.all] : served.destinations,
      ownCookies: new Set([SESSION_COOKIE, SECURE_SESSION_COOKIE, `${LOGIN_COOKIE_PREFIX}*`, ...login.ownCookies]),
      clients: settings.clients,
      keepBackendCookies: (req: IncomingMessage, sessionId: string, destination: string, changes: Parameters<LoginFeature['keepBackendCookies']>[3]) =>
        login.keepBackendCookies(req, sessionId, destination, changes),
      respond(req: IncomingMessage, res: ServerResponse, status: number, responseHeaders: http.OutgoingHttpHeaders, target: ProxyTarget) {
        headers.proxied(responseHeaders, target.origin);
        return compressOwnHeaders(req, res, status, responseHeaders, compression);
      },
    };
    return {
      routes: served.routes,
      destinations: served.destinations,
      headers,
      compression,
      websocketsEnabled: routesFile.websockets?.enabled === true,
      errorPages: served.errorPages,
      logoutLink:
        routesFile.logout?.logoutEndpoint !== undefined && (routesFile.logout.logoutMethods ?? ['GET']).includes('GET') ? routesFile.logout.logoutEndpoint : undefined,
      login,
      forwardAuth: served.forwardAuth,
      tenantDestinations: perTenant.byTenant,
      // Destinations whose settings did not change keep their connections and their limit.
      proxy: previous ? previous.proxy.withOptions(proxyOptions) : createProxy(proxyOptions),
      inFlight: 0,
      retired: false,
    };
  }

  /** A request served with `snapshot` has ended (counted up as it began: no closure per request). */
  function leave(snapshot: Snapshot): void {
    if (--snapshot.inFlight === 0 && snapshot.retired) {
      retiring.delete(snapshot);
      snapshot.proxy.close();
    }
  }

  // One error line per failing request would bury an outage's start under thousands of lines (a
  // destination that is down fails every request to it): a series per destination and code. Each
  // request still has its access line (logRequest), with its status.
  const errorLog = createRepeatedErrorLog(logger);
  const fail = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext, served: Snapshot, err: unknown, destination?: string) => {
    const error = toGatewayError(err);
    if (destination !== undefined) metrics?.backendFailed(destination, error.code);
    if (error.status >= 500) {
      errorLog.error(`${destination ?? ''} ${error.code}`, 'request failed', {
        requestId: ctx.id,
        tenant: ctx.tenant,
        destination,
        code: error.code,
        error: String(error.cause ?? error.message),
      });
    }
    const render = () => {
      if (!res.headersSent) served.headers.own(req, res, ctx.origin);
      sendError(req, res, error, { requestId: ctx.id, errorPages: served.errorPages, wayOn: wayOn(req, ctx, served.logoutLink) });
    };
    if (!extensions?.beforeErrorHandler || res.headersSent) return render();
    void runErrorHandlers(extensions.beforeErrorHandler, error, req, res).then((goOn) => goOn && !res.headersSent && !res.writableEnded && render());
  };

  // The links of an error page: log out only where a session may exist and a link (GET) can end it.
  const wayOn = (req: IncomingMessage, ctx: RequestContext, logoutLink: string | undefined): WayOn => ({
    home: withinPrefix(ctx.tenantPrefix, '/'),
    again: ctx.originalUrl,
    ...(logoutLink !== undefined && (ctx.user !== undefined || maySendSession(req.headers.cookie)) ? { logout: withinPrefix(ctx.tenantPrefix, logoutLink) } : {}),
    ...(ctx.user !== undefined && !ctx.user.client ? { user: ctx.user.name } : {}),
  });

  const logRequest = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => {
    logger.info('request', {
      requestId: ctx.id,
      tenant: ctx.tenant,
      route: ctx.route?.index,
      method: req.method,
      // The path only: query strings carry codes and tokens (RFC 6749 §4.1.2).
      path: pathOf(ctx.originalUrl),
      status: res.statusCode,
      durationMs: Math.round((performance.now() - ctx.startedAt) * 10) / 10,
      aborted: !res.writableFinished || undefined,
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ctx = newRequestContext(req);
    if (tracing !== undefined) ctx.trace = tracing.requestStarted(req);
    const served = current;
    const { headers, routes, login } = served;
    served.inFlight++;
    let release: (() => void) | undefined;
    res.once('close', () => {
      release?.();
      leave(served);
      if (settings.logRequests) logRequest(req, res, ctx);
      metrics?.requestClosed(req, res, ctx);
      ctx.trace?.end(req, res, ctx);
    });
    res.setHeader('x-request-id', ctx.id);
    if (draining) res.setHeader('connection', 'close');
    try {
      let url = requestTarget(req.url);
      let pathname = pathOf(url);
      if (pathname === '/healthz' || pathname === '/readyz') return await health(req, res, ctx, pathname, headers);
      if (pathname === '/metrics' && metrics?.scrape) {
        headers.own(req, res, undefined);
        return await metrics.scrape(req, res, ctx);
      }
      if (extensions) {
        rememberContext(req, ctx);
        if (extensions.first && !(await runHandlers(extensions.first, req, res))) return;
      }

      if (options.callbacks && pathname.startsWith('/callback/') && (await options.callbacks(req, res))) return void (ctx.answeredBy = 'callbacks');
      if (options.platform && pathname.startsWith('/platform/') && (await options.platform(req, res))) return void (ctx.answeredBy = 'platform');
      if (options.events?.claims(pathname)) {
        ctx.answeredBy = 'events';
        headers.own(req, res, undefined);
        return await options.events.handle(req, res, ctx, pathname);
      }
      const origin = (ctx.origin = requestOrigin(req, settings.trustedProxies));
      if (options.identity && (origin.hostname === uaaDomain || origin.hostname.endsWith(uaaSuffix!))) {
        ctx.answeredBy = 'zones';
        options.identity.handle(req, res);
        return;
      }
      const resolved = resolveRequestTenant(origin.hostname, url, req.url!, tenantPatterns);
      const tenant = (ctx.tenant = resolved.tenant);
      if (resolved.prefix !== undefined) {
        // A path tenant: from here on the gateway serves the path inside its prefix (src/tenant/path.ts).
        ctx.tenantPrefix = resolved.prefix;
        url = resolved.url;
        pathname = pathOf(url);
      }
      // Answers known without I/O come without a promise: no wait on the common path.
      if (tenant !== undefined && options.tenants) {
        const admitted = subscription(tenant);
        if (admitted) await admitted;
      }
      if (options.tenantMetadata?.path === pathname) return await options.tenantMetadata.handle(req, res, ctx);
      if (served.forwardAuth?.paths.has(pathname)) {
        const answer = await served.forwardAuth.handle(req, res, ctx, pathname);
        if (answer) redirect(req, res, ctx, headers, answer.redirect, 'no-store');
        return;
      }
      if (login.ownPaths.has(pathname)) {
        const answer = await login.handleOwnPath(req, res, ctx, pathname);
        if (answer) return 'redirect' in answer ? redirect(req, res, ctx, headers, answer.redirect, 'no-store') : ownPage(req, res, ctx, headers, answer.html);
      }
      if (pathname === '/' && routes.welcomeFile) return redirect(req, res, ctx, headers, withinPrefix(ctx.tenantPrefix, welcomeTarget(routes.welcomeFile, url)));

      const method = req.method ?? 'GET';
      const found = routes.match(url, method);
      if (pathname.includes(';')) samePathParameterRoute(routes, url, method, found);
      if (found.kind === 'not-found') throw new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', `No route matches ${pathname}`);
      if (found.kind === 'method-not-allowed') {
        throw new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}`, {
          headers: { allow: found.allow.join(', ') },
        });
      }
      let match = found;
      let appFile: AppFileRequest | undefined;
      if (options.html5Apps && isHtml5AppsRoute(match.route)) {
        // The application's own xs-app.json decides from here (src/html5-apps/serve.ts).
        const app = await options.html5Apps.resolve(match, method, served.destinations, pathname);
        if (app.kind === 'redirect') return redirect(req, res, ctx, headers, app.location);
        match = app;
        appFile = app.file;
      }
      const route = (ctx.route = match.route);
      let verdict: Verdict = {};
      if (route.authenticationType !== 'none') {
        const pending = login.check(req, res, ctx);
        const checked = pending instanceof Promise ? await pending : pending;
        // The login's redirect carries state and a login cookie: never cached.
        if ('redirect' in checked) return redirect(req, res, ctx, headers, checked.redirect, 'no-store');
        verdict = checked;
      } else if (match.destination !== undefined && maySendSession(req.headers.cookie)) {
        // A public route still gets a logged-in user's token (forwardAuthToken) and backend cookies,
        // as SAP's router forwards them wherever the session exists; never a login or an error.
        const found = login.sessionOnPublicRoute(req, res, ctx);
        verdict = (found instanceof Promise ? await found : found) ?? verdict;
      }
      ctx.user = verdict.user;
      const authorization = verdict.authorization;
      if (extensions?.beforeRequestHandler && !(await runHandlers(extensions.beforeRequestHandler, req, res))) return;

      const backend = route.backend;
      if (backend.kind === 'localDir') {
        if (method !== 'GET' && method !== 'HEAD') {
          throw new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on static files`, { headers: { allow: 'GET, HEAD' } });
        }
        headers.static(req, res, origin);
        await serveStatic(req, res, { root: backend.root, path: pathOf(match.path), cacheControl: route.cacheControl, compression: served.compression });
        return;
      }
      if (backend.kind === 'service') {
        if (appFile) {
          headers.static(req, res, origin);
          return await options.html5Apps!.serve(req, res, appFile, route.cacheControl, served.compression);
        }
        if (backend.service === USER_API_SERVICE && route.authenticationType !== 'none') {
          headers.own(req, res, origin);
          return await login.serveUserApi(req, res, ctx, pathOf(match.path), verdict);
        }
        throw new GatewayError('ZG_ERR_NOT_SUPPORTED', `The service "${backend.service}" is not available on this gateway`);
      }
      // The tenant's own destination where its configuration overrides the application's.
      const destination = (tenant !== undefined && served.tenantDestinations.get(tenant)?.get(match.destination!.name)) || match.destination!;
      const target: ProxyTarget = {
        requestId: ctx.id,
        origin,
        route,
        destination,
        path: match.path,
        authorization: destination.forwardAuthToken ? authorization : undefined,
        sessionId: verdict.sessionId,
        backendCookies: verdict.backendCookies?.[destination.name],
        trace: ctx.trace,
        tenantPrefix: ctx.tenantPrefix,
      };
      // (The proxy removes the client's credentials on protected routes, for upgrades too.)
      release = served.proxy.web(req, res, target, (err) => fail(req, res, ctx, served, err, target.destination.name));
    } catch (err) {
      fail(req, res, ctx, served, err);
    }
  }

  /**
   * Refuses a tenant that is not subscribed: throws, or returns a promise that rejects; undefined
   * (no promise, no wait) when the registry knew the answer without I/O and it was yes.
   */
  function subscription(tenant: string): Promise<void> | undefined {
    const known = options.tenants!.isSubscribed(tenant);
    if (typeof known === 'object') {
      return known.then(
        (answer) => admit(tenant, answer, true),
        // A records database that lost its schema fails the lookup with a plain error, not a "no".
        (err: unknown) => (err instanceof GatewayError ? Promise.reject(err) : readiness.confirmRecordsIntact().then(() => Promise.reject(err))),
      );
    }
    return admit(tenant, known, false);
  }

  function admit(tenant: string, answer: boolean, fromDatabase: boolean): Promise<void> | undefined {
    if (answer) return undefined;
    const unknown = () => new GatewayError('ZG_ERR_TENANT_UNKNOWN', `The tenant "${tenant}" is not subscribed to this application`);
    // A "no" the database gave may be a wiped or replaced database's, which knows no tenant at all:
    // that is not "not subscribed" (issue 10). One without I/O (a name no zone can have) says nothing about it.
    if (!fromDatabase) throw unknown();
    return readiness.confirmRecordsIntact().then(() => {
      throw unknown();
    });
  }

  async function health(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, pathname: string, headers: Snapshot['headers']): Promise<void> {
    ctx.answeredBy = 'health';
    let status = 200;
    let body: object = { status: 'ok' };
    // Liveness (/healthz) never asks the store: a restart cures nothing there (README, Operations).
    if (pathname === '/readyz') ({ status, body } = await readiness.report(draining));
    headers.own(req, res, undefined);
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  function ownPage(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, headers: Snapshot['headers'], html: string): void {
    headers.own(req, res, ctx.origin);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(html) });
    res.end(req.method === 'HEAD' ? undefined : html);
  }

  function redirect(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, headers: Snapshot['headers'], location: string, cacheControl?: 'no-store'): void {
    headers.own(req, res, ctx.origin);
    if (cacheControl) res.setHeader('cache-control', cacheControl);
    res.writeHead(302, { location, 'content-length': 0 });
    res.end();
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const ctx = newRequestContext(req);
    if (tracing !== undefined) ctx.trace = tracing.requestStarted(req);
    const served = current;
    const { routes, login } = served;
    served.inFlight++;
    socket.on('error', () => socket.destroy());
    tunnels.add(socket);
    // The span and the request count cover the handshake (the tunnel may stay open for hours).
    let handshake: number | undefined | 'pending' = 'pending';
    const handshakeEnded = (status: number | undefined) => {
      if (handshake !== 'pending') return;
      handshake = status;
      ctx.trace?.endUpgrade(req, ctx, status);
      metrics?.upgradeEnded(req, ctx, status);
    };
    socket.once('close', () => {
      tunnels.delete(socket);
      leave(served);
      if (handshake === 101) metrics?.tunnelClosed();
      handshakeEnded(undefined);
    });
    const refuse = (err: unknown) => {
      const error = toGatewayError(err);
      logger.info('websocket refused', { requestId: ctx.id, tenant: ctx.tenant, route: ctx.route?.index, status: error.status, code: error.code });
      sendRawError(socket, error, ctx.id);
      handshakeEnded(error.status);
    };
    try {
      if (draining) throw new GatewayError('ZG_ERR_SHUTTING_DOWN');
      const origin = (ctx.origin = requestOrigin(req, settings.trustedProxies));
      const resolved = resolveRequestTenant(origin.hostname, requestTarget(req.url), req.url!, tenantPatterns);
      const tenant = (ctx.tenant = resolved.tenant);
      ctx.tenantPrefix = resolved.prefix;
      const url = resolved.url;
      if (tenant !== undefined && options.tenants) await subscription(tenant);
      if (!served.websocketsEnabled) throw new GatewayError('ZG_ERR_NOT_SUPPORTED', 'WebSockets are not enabled (routes.json websockets.enabled)', { status: 400 });
      const match = routes.match(url, 'GET');
      if (url.includes(';')) samePathParameterRoute(routes, url, 'GET', match);
      if (match.kind !== 'route' || !match.destination) throw new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', `No WebSocket route matches ${pathOf(url)}`);
      const route = (ctx.route = match.route);
      let authorization: string | undefined;
      if (route.authenticationType !== 'none') {
        const verdict = await login.checkUpgrade(req, ctx);
        ctx.user = verdict.user;
        authorization = verdict.authorization;
      }
      logger.info('websocket', { requestId: ctx.id, tenant, route: route.index, path: pathOf(url) });
      const destination = (tenant !== undefined && served.tenantDestinations.get(tenant)?.get(match.destination.name)) || match.destination;
      served.proxy.ws(req, socket, head, {
        requestId: ctx.id,
        origin,
        route,
        destination,
        path: match.path,
        authorization: destination.forwardAuthToken ? authorization : undefined,
        trace: ctx.trace,
        handshakeEnded,
        tenantPrefix: ctx.tenantPrefix,
      }, (err) => refuse(err));
    } catch (err) {
      refuse(err);
    }
  }

  const server = options.server ?? http.createServer(serverTimeouts(settings));
  server.on('request', (req: IncomingMessage, res: ServerResponse) => void handle(req, res));
  server.on('upgrade', (req, socket, head) => {
    if (/^websocket$/i.test(req.headers.upgrade ?? '')) return void upgrade(req, socket, head);
    // RFC 9110 §7.8: a server may ignore Upgrade. `curl --http2` asks every http:// URL for h2c;
    // answered as an ordinary request instead of a reset (http-proxy drops non-WebSocket upgrades).
    ignoreUpgrade(req, socket, head);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // A request timeout can strike while the response is already streaming (a backend that answered
    // before the upload was in): a status line written now would corrupt it. Node's own handler
    // makes the same check on the socket's in-flight response.
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) return void socket.destroy(err);
    // The statuses Node's own handler would send (RFC 6585 §5, RFC 9110 §15.5.9), marked as ours.
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'ZG_ERR_HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'ZG_ERR_REQUEST_TIMEOUT' : 'ZG_ERR_BAD_REQUEST';
    sendRawError(socket, new GatewayError(code));
  });

  /** Serves an upgrade request as a plain request on its socket, then closes the connection. */
  function ignoreUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const hasBody = head.length > 0 || req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody) {
      // Node has stopped parsing at the Upgrade: the body is not framed for us any more.
      sendRawError(socket, new GatewayError('ZG_ERR_BAD_REQUEST', 'An upgrade request that is not for a WebSocket cannot carry a body'));
      return;
    }
    delete req.headers.upgrade;
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    void handle(req, res);
  }

  return {
    server,
    listen(port = settings.port, host = settings.host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    async shutdown() {
      if (draining) return;
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive connections would hold close() open for their whole timeout. close() ends
      // only those idle right now; a connection whose in-flight response ends later is ended then.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const deadline = setTimeout(() => {
        server.closeAllConnections();
        for (const socket of tunnels) socket.destroy();
      }, settings.shutdownTimeoutMs);
      deadline.unref();
      await closed;
      clearInterval(sweep);
      clearTimeout(deadline);
      current.proxy.close();
      for (const snapshot of retiring) snapshot.proxy.close();
      retiring.clear();
      errorLog.close();
    },
    reconfigure,
  };

  function reconfigure(next: ServedConfiguration): void {
    servedNow = next;
    const previous = current;
    current = snapshotOf(next, previous);
    previous.retired = true;
    if (previous.inFlight === 0) previous.proxy.close();
    else retiring.add(previous);
  }
}

/**
 * Bounds on receiving a request. `requestTimeout` covers headers and body (Node's default is 5 min;
 * 0 turns it off), and `headersTimeout` may not exceed it. Node checks both only every
 * `connectionsCheckingInterval` (30 s by default, far longer than a short timeout): a tenth of the
 * shorter one, at most 30 s. keepAliveTimeout stays above the 60 s idle timeout of common load
 * balancers, so that they, not the gateway, close an idle connection first.
 */
export function serverTimeouts(settings: Pick<Settings, 'clients'>): http.ServerOptions {
  const requestTimeout = settings.clients.requestTimeoutMs;
  const headersTimeout = requestTimeout > 0 ? Math.min(66_000, requestTimeout) : 66_000;
  const connectionsCheckingInterval = Math.min(30_000, Math.max(100, Math.floor(headersTimeout / 10)));
  return { keepAliveTimeout: 65_000, headersTimeout, requestTimeout, connectionsCheckingInterval };
}

/** Only the extension points that have handlers; undefined when none has. */
function activeExtensions(extensions: Extensions | undefined): Extensions | undefined {
  if (!extensions) return undefined;
  const active: Extensions = {
    ...(extensions.first?.length ? { first: [...extensions.first] } : {}),
    ...(extensions.beforeRequestHandler?.length ? { beforeRequestHandler: [...extensions.beforeRequestHandler] } : {}),
    ...(extensions.beforeErrorHandler?.length ? { beforeErrorHandler: [...extensions.beforeErrorHandler] } : {}),
  };
  return Object.keys(active).length ? Object.freeze(active) : undefined;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** `/` goes to the welcome file, keeping the query (SAP's behaviour). */
function welcomeTarget(welcomeFile: string, url: string): string {
  const q = url.indexOf('?');
  const file = welcomeFile.startsWith('/') ? welcomeFile : `/${welcomeFile}`;
  return q === -1 ? file : file + url.slice(q);
}
