/**
 * Serving deployed HTML5 applications behind a routes.json route with `service: "html5-apps-repo-rt"`,
 * as SAP's application router serves its HTML5 application repository (@sap/approuter README,
 * "Integration with HTML5 Application Repository"; lib/utils/dynamic-routing-utils.js):
 *
 * - The route's path (after `target`) is `/<key>/<resource>`; `<key>` is
 *   `[<service without dots>.]<app name>[-<major.minor.patch>]`, the app name being `sap.app.id`
 *   without dots. Without a version the current one is served. A second segment `~<token>~` is a
 *   cache buster: dropped, and the file is sent with `Cache-Control: public, max-age=31536000`.
 * - The application's own xs-app.json routes `/<resource>` as SAP applies it: its routes are relative
 *   to the application, `welcomeFile` answers `/<key>/`, `service: "html5-apps-repo-rt"` (or a
 *   `localDir`, a folder of the application) serves the application's files, `destination` proxies to
 *   the gateway's destination of that name, `sap-approuter-userapi` is the user API; its
 *   `authenticationType`, `scope`, `csrfProtection` and `cacheControl` apply. zonegate's one addition:
 *   the routes.json route that leads into the application is a gate, so an application cannot make
 *   public what routes.json protects (its login and scopes hold too).
 * - `sap.cloud.service` groups applications: `/<service>.<app>/` finds the application only if it
 *   belongs to that service. An application with a service that is not `sap.cloud.public` is a
 *   business application: it is reached only through its service's prefix.
 * - All tenants see the provider's applications (SAP: the provider's app-host content).
 *
 * A name's current version is looked up at most every `versionTtlMs` (a deployment at another
 * instance is served here within that time; at once on the instance that deployed). Versions are
 * immutable, so their files are cached by content, in a budget of bytes.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';
import { HTML5_REPO_SERVICE } from '../config/routes.js';
import type { Destination } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { compressResponse, isCompressionCandidate, type CompressionOptions } from '../http/compression.js';
import { LruMap } from '../lru-map.js';
import type { Storage } from '../storage/types.js';
import { compileRouteTable, type CompiledRoute, type RouteMatch, type RouteTable } from '../routing/route-table.js';
import { isNotModified } from '../static/conditional.js';
import { contentTypeFor, isHtml } from '../static/content-type.js';
import { appFolder } from './package.js';
import type { AppVersion, Html5AppStore, StoredFile } from './store.js';

export { HTML5_REPO_SERVICE };

/** `[<service>.]<name>[-<version>]`: SAP's appNameRegex for the name, its version regex for the suffix. */
const APP_KEY = /^(?:([A-Za-z0-9_]+)\.)?([A-Za-z0-9_]+)(?:-(\d+\.\d+\.\d+))?$/;
const CACHE_BUSTER = /^~[^~/]*~$/;
/** SAP's answer to a cache-busted resource (README, "Cache Buster Handling"). */
const CACHE_BUSTED = 'public, max-age=31536000';

export interface Html5AppsOptions {
  store: Html5AppStore;
  /** Expands `$XSAPPNAME` in the applications' route scopes, as in routes.json. */
  xsappname?: string;
  /** How long a lookup of a name's current version is reused; default 5000 ms. */
  versionTtlMs?: number;
  /** Bytes of file content kept in memory; default 64 MiB. */
  cacheBytes?: number;
  /**
   * The store's change notices (src/storage/): a deployment or removal announced through them
   * (the admin API's, ./admin.ts) is seen at once, on every instance, not after `versionTtlMs`.
   */
  notices?: Pick<Storage, 'onForeignChange'>;
}

/** The change notice a deployment or removal announces. */
export const HTML5_APPS_NOTICE = 'html5-apps';

/** A file of a deployed application to answer with. */
export interface AppFileRequest {
  app: AppVersion;
  /** Below the application's root, still percent-encoded. */
  path: string;
  cacheBuster: boolean;
}

export type AppResolution = (RouteMatch & { kind: 'route'; file?: AppFileRequest }) | { kind: 'redirect'; location: string };

export interface Html5Apps {
  /**
   * What a request on an `html5-apps-repo-rt` route of routes.json (`match`) is, inside the
   * application its path names. `clientPath`: the path the client asked for (redirects are relative
   * to it). Rejects with ZG_ERR_APP_NOT_FOUND, ZG_ERR_ROUTE_NOT_FOUND, ZG_ERR_METHOD_NOT_ALLOWED,
   * ZG_ERR_APP_DESTINATION_UNKNOWN.
   */
  resolve(match: RouteMatch & { kind: 'route' }, method: string, destinations: readonly Destination[], clientPath: string): Promise<AppResolution>;
  /** Answers a GET or HEAD with a file of an application (ETag, conditional GET, compression). */
  serve(req: IncomingMessage, res: ServerResponse, file: AppFileRequest, cacheControl: string | undefined, compression: CompressionOptions): Promise<void>;
  /** Forgets which versions are current (after this instance deployed or removed one). */
  forget(): void;
}

export function isHtml5AppsRoute(route: CompiledRoute): boolean {
  return route.backend.kind === 'service' && route.backend.service === HTML5_REPO_SERVICE;
}

interface CompiledApp {
  destinations: readonly Destination[];
  table: RouteTable;
  /** Destinations the application names that the gateway lacks (placeholders in `table`). */
  unknown: WeakSet<Destination>;
  /** Per routes.json route: the application's routes behind it as the gate (see merge). */
  gated: WeakMap<CompiledRoute, CompiledRoute[]>;
}

export function createHtml5Apps(options: Html5AppsOptions): Html5Apps {
  const { store } = options;
  const ttl = options.versionTtlMs ?? 5000;
  const versions = new LruMap<string, { until: number; value: Promise<AppVersion | undefined> }>(1000);
  const compiled = new LruMap<AppVersion, CompiledApp>(200);
  const files = new ByteBudgetCache(options.cacheBytes ?? 64 * 1024 * 1024);
  // Files need no notice: a version's content never changes.
  options.notices?.onForeignChange((key) => (key === undefined || key === HTML5_APPS_NOTICE) && versions.clear());

  function lookup(name: string, version: string | undefined): Promise<AppVersion | undefined> {
    const key = `${name}\0${version ?? ''}`;
    const now = Date.now();
    const hit = versions.get(key);
    if (hit && hit.until > now) return hit.value;
    // While the records database is down, what was last known keeps serving (as tenants already
    // served stay served, README "Errors"); without it the lookup fails with its 503.
    const value = store.version(name, version).catch((err: unknown) => (hit ? hit.value : Promise.reject(err)));
    versions.set(key, { until: now + ttl, value });
    // A failed lookup is not remembered: the next request asks again.
    value.catch(() => versions.delete(key));
    return value;
  }

  function compile(app: AppVersion, destinations: readonly Destination[]): CompiledApp {
    const cached = compiled.get(app);
    if (cached && cached.destinations === destinations) return cached;
    const byName = new Map(destinations.map((d) => [d.name, d]));
    const unknown = new WeakSet<Destination>();
    for (const route of app.xsApp?.routes ?? []) {
      const name = route.destination;
      if (name === undefined || name.includes('$') || byName.has(name)) continue;
      // The application was deployed without knowing the gateway's destinations: a request that
      // takes this route is refused by name (502) instead of failing the whole application.
      const placeholder = { name, url: new URL('http://destination.invalid/') } as Destination;
      unknown.add(placeholder);
      byName.set(name, placeholder);
    }
    const table = compileRouteTable(app.xsApp!, { destinations: byName, baseDir: '/', xsappname: options.xsappname });
    const entry: CompiledApp = { destinations, table, unknown, gated: new WeakMap() };
    compiled.set(app, entry);
    return entry;
  }

  /** The application's route behind the routes.json route: its settings, with the gate's login and scopes kept. */
  function gatedRoute(app: CompiledApp, gate: CompiledRoute, inner: CompiledRoute): CompiledRoute {
    let routes = app.gated.get(gate);
    if (!routes) app.gated.set(gate, (routes = []));
    let route = routes[inner.index];
    if (!route) {
      const servesFiles = inner.backend.kind === 'localDir' || (inner.backend.kind === 'service' && inner.backend.service === HTML5_REPO_SERVICE);
      route = routes[inner.index] = {
        ...inner,
        // Logs and metrics name the routes.json route: its set of values stays bounded.
        index: gate.index,
        sourceText: gate.sourceText,
        authenticationType: inner.authenticationType !== 'none' ? inner.authenticationType : gate.authenticationType,
        cacheControl: inner.cacheControl ?? gate.cacheControl,
        // A localDir of an application is a folder of its files, never of the gateway's disk.
        backend: servesFiles ? { kind: 'service', service: HTML5_REPO_SERVICE } : inner.backend,
        // The backend's redirects are relative to the application, not to the client's URL.
        reverse: undefined,
        ...(gate.scopes ? { gate } : {}),
      };
    }
    return route;
  }

  return {
    async resolve(match, method, destinations, clientPath) {
      const q = match.path.indexOf('?');
      const query = q === -1 ? '' : match.path.slice(q);
      const pathname = q === -1 ? match.path : match.path.slice(0, q);
      // A target without its leading slash (`"target": "lectures/$1"`, as real xs-app.json files write
      // it) and the doubled slash it leaves name the same file, as SAP's URL joining makes them.
      const segments = `/${pathname}`.replace(/\/{2,}/g, '/').split('/');
      const key = segments[1] ?? '';
      const parsed = APP_KEY.exec(key);
      if (!parsed) throw appNotFound(key);
      const [, service, name, version] = parsed as unknown as [string, string | undefined, string, string | undefined];
      const app = await lookup(name, version);
      if (!app || !reachable(app, service)) throw appNotFound(key);

      let rest = segments.slice(2);
      // `/<key>` alone: to `/<key>/`, so that the application's relative URLs resolve inside it.
      if (rest.length === 0) return { kind: 'redirect', location: `./${clientPath.slice(clientPath.lastIndexOf('/') + 1)}/${query}` };
      const cacheBuster = rest.length > 1 && CACHE_BUSTER.test(rest[0]!);
      if (cacheBuster) rest = rest.slice(1);
      const inner = `/${rest.join('/')}`;
      if (!app.xsApp) return { kind: 'route', route: match.route, path: inner + query, file: { app, path: inner, cacheBuster } };

      if (inner === '/' && app.xsApp.welcomeFile) {
        // The query goes along, as the gateway's own welcomeFile keeps it (SAP's behaviour).
        return { kind: 'redirect', location: `./${app.xsApp.welcomeFile.replace(/^\/+/, '')}${query}` };
      }
      const own = compile(app, destinations);
      const found = own.table.match(inner + query, method);
      if (found.kind === 'not-found') throw new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', `No route of the application ${app.appId}'s xs-app.json matches ${inner}`);
      if (found.kind === 'method-not-allowed') {
        throw new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${inner} of ${app.appId}`, { headers: { allow: found.allow.join(', ') } });
      }
      const route = gatedRoute(own, match.route, found.route);
      if (found.destination && own.unknown.has(found.destination)) {
        throw new GatewayError('ZG_ERR_APP_DESTINATION_UNKNOWN', `The application ${app.appId} routes ${inner} to the destination "${found.destination.name}", which the gateway's destinations do not define`, { expose: true });
      }
      if (route.backend.kind === 'service' && route.backend.service === HTML5_REPO_SERVICE) {
        const localDir = app.xsApp.routes?.[found.route.index]?.localDir;
        const folder = localDir === undefined ? '' : (appFolder(localDir) ?? '');
        const q2 = found.path.indexOf('?');
        const filePath = `/${folder}/${q2 === -1 ? found.path : found.path.slice(0, q2)}`.replace(/\/{2,}/g, '/');
        return { kind: 'route', route, path: found.path, file: { app, path: filePath, cacheBuster } };
      }
      return { kind: 'route', route, path: found.path, ...(found.destination ? { destination: found.destination } : {}) };
    },

    async serve(req, res, file, cacheControl, compression) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on an application's files`, { headers: { allow: 'GET, HEAD' } });
      }
      let path = decodePath(file.path);
      if (path === undefined) throw new GatewayError('ZG_ERR_FILE_NOT_FOUND');
      if (path.endsWith('/')) path += 'index.html';
      const { app } = file;
      const key = `${app.name}\0${app.version}\0${path}`;
      let stored = files.get(key);
      if (!stored) {
        stored = await store.file(app.name, app.version, path);
        if (!stored) throw new GatewayError('ZG_ERR_FILE_NOT_FOUND', `${app.appId} ${app.version} has no file ${path}`);
        files.set(key, stored);
      }
      const contentType = contentTypeFor(path);
      // The content's digest: a strong validator, the same on every instance.
      const etag = `"${stored.sha256}"`;
      const lastModified = Math.floor(Date.parse(app.deployedAt) / 1000) * 1000;
      const headers: OutgoingHttpHeaders = { 'content-type': contentType, etag, 'last-modified': new Date(lastModified).toUTCString() };
      const cache = cacheControl ?? (file.cacheBuster ? CACHE_BUSTED : isHtml(contentType) ? 'no-cache' : undefined);
      if (cache !== undefined) headers['cache-control'] = cache;
      if (isNotModified(req.headers, etag, lastModified)) {
        // A 304 names what the 200 would vary on (RFC 9110 §15.4.5).
        if (isCompressionCandidate({ method: 'GET', headers: req.headers }, 200, { ...headers, 'content-length': stored.content.length }, compression)) headers['vary'] = 'Accept-Encoding';
        delete headers['content-type'];
        res.writeHead(304, headers);
        res.end();
        return;
      }
      headers['content-length'] = stored.content.length;
      const sink = compressResponse(req, res, 200, headers, compression);
      sink.end(req.method === 'HEAD' ? undefined : stored.content);
      await finished(res).catch(() => {});
    },

    forget() {
      versions.clear();
    },
  };
}

/** `/<service>.<app>` needs the application's service; a business application (not public) needs it. */
function reachable(app: AppVersion, prefix: string | undefined): boolean {
  const service = app.service?.replaceAll('.', '');
  if (prefix !== undefined) return prefix === service;
  return app.service === undefined || app.public;
}

function appNotFound(key: string): GatewayError {
  return new GatewayError('ZG_ERR_APP_NOT_FOUND', `No HTML5 application is deployed as "${key}"`);
}

/** The path's segments decoded once; undefined for dot-segments, encoded slashes or NUL. */
function decodePath(encoded: string): string | undefined {
  const out: string[] = [];
  for (const segment of encoded.split('/')) {
    let s: string;
    try {
      s = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    if (s === '.' || s === '..' || /[/\\\0]/.test(s)) return undefined;
    out.push(s);
  }
  return out.join('/');
}

/** File contents of immutable versions, forgetting the oldest once `budget` bytes are held. */
class ByteBudgetCache {
  readonly #entries = new Map<string, StoredFile>();
  #bytes = 0;
  constructor(readonly budget: number) {}
  get(key: string): StoredFile | undefined {
    return this.#entries.get(key);
  }
  set(key: string, file: StoredFile): void {
    // One file may take an eighth of the budget at most; a larger one is read each time.
    if (file.content.length > this.budget / 8 || this.#entries.has(key)) return;
    this.#entries.set(key, file);
    this.#bytes += file.content.length;
    for (const [oldKey, old] of this.#entries) {
      if (this.#bytes <= this.budget) break;
      this.#entries.delete(oldKey);
      this.#bytes -= old.content.length;
    }
  }
}
