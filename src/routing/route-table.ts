import path from 'node:path';
import { GatewayError } from '../errors.js';
import type { AuthenticationType, Destination, RouteFile, RoutesFile, ScopeSpec } from '../config/types.js';

/** A route of routes.json, compiled once at start-up. */
export interface CompiledRoute {
  /** Position in routes.json, for logs and messages (`/routes/3`). */
  index: number;
  /** The `source` as written, for logs. */
  sourceText: string;
  source: RegExp;
  target: string | undefined;
  /** The target split into literals and group numbers, when it uses nothing but `$n`. */
  targetParts: readonly (string | number)[] | undefined;
  backend: RouteBackend;
  authenticationType: AuthenticationType;
  /** Per method (upper case) or `default`; each entry means "any of these scopes". */
  scopes: ReadonlyMap<string, readonly string[]> | undefined;
  csrfProtection: boolean;
  /** Undefined: every method. */
  methods: ReadonlySet<string> | undefined;
  cacheControl: string | undefined;
  /** The IdP a login started on this route asks the zone for (SAP's `identityProvider`, sent as XSUAA's `login_hint`). */
  identityProvider: string | undefined;
  /** For rewriting backend redirects: the literal prefixes of source and target, when both are simple. */
  reverse: { sourcePrefix: string; targetPrefix: string } | undefined;
  /**
   * A route of a deployed HTML5 application's own xs-app.json (src/html5-apps/): the routes.json route
   * that led into the application, whose scopes must hold too.
   */
  gate?: CompiledRoute;
}

export type RouteBackend =
  | { kind: 'destination'; destination: Destination }
  /** A destination named by a backreference (`"destination": "$1"`), looked up per request. */
  | { kind: 'dynamic-destination'; reference: string }
  | { kind: 'localDir'; root: string }
  | { kind: 'service'; service: string };

export type RouteMatch =
  | { kind: 'route'; route: CompiledRoute; path: string; destination?: Destination }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

export interface RouteTable {
  readonly routes: readonly CompiledRoute[];
  readonly welcomeFile: string | undefined;
  /** SAP matches `source` against the URL including its query string (REFERENCE.md §6). */
  match(url: string, method: string): RouteMatch;
}

/**
 * Compiles the validated routes.json into the table the request path uses. Everything that can be
 * decided once (regexes, defaults, destinations, scope expansion) is decided here, not per request.
 */
export function compileRouteTable(
  routes: RoutesFile,
  options: { destinations: ReadonlyMap<string, Destination>; baseDir: string; xsappname?: string },
): RouteTable {
  const authMethod = routes.authenticationMethod ?? 'route';
  const compiled = (routes.routes ?? []).map((route, index) =>
    compileRoute(route, index, authMethod, options),
  );
  const destinations = options.destinations;
  return {
    routes: compiled,
    welcomeFile: routes.welcomeFile,
    match(url, method) {
      let allowed: Set<string> | undefined;
      for (const route of compiled) {
        // A fresh lastIndex is irrelevant (no g/y flags); exec gives the groups for dynamic destinations.
        const m = route.source.exec(url);
        if (!m) continue;
        if (route.methods && !route.methods.has(method)) {
          allowed ??= new Set();
          for (const allowedMethod of route.methods) allowed.add(allowedMethod);
          continue;
        }
        const rewritten = route.target === undefined ? url : rewrite(url, m, route);
        if (route.backend.kind === 'dynamic-destination') {
          const name = route.backend.reference.replace(/\$(\d+)/g, (_, n: string) => m[Number(n)] ?? '');
          const destination = destinations.get(name);
          if (!destination) return { kind: 'not-found' };
          return { kind: 'route', route, path: rewritten, destination };
        }
        return {
          kind: 'route',
          route,
          path: rewritten,
          destination: route.backend.kind === 'destination' ? route.backend.destination : undefined,
        };
      }
      if (allowed) return { kind: 'method-not-allowed', allow: [...allowed] };
      return { kind: 'not-found' };
    },
  };
}

function compileRoute(
  route: RouteFile,
  index: number,
  authMethod: 'route' | 'none',
  options: { destinations: ReadonlyMap<string, Destination>; baseDir: string; xsappname?: string },
): CompiledRoute {
  const sourceText = typeof route.source === 'string' ? route.source : route.source.path;
  const caseInsensitive = typeof route.source === 'object' && route.source.matchCase === false;
  const source = new RegExp(sourceText, caseInsensitive ? 'i' : '');
  const methods = route.httpMethods ? new Set(route.httpMethods.map((m) => m.toUpperCase())) : undefined;
  // A route that allows GET also answers HEAD, as every HTTP server does (RFC 9110 §9.3.2).
  if (methods?.has('GET')) methods.add('HEAD');
  return {
    index,
    sourceText,
    source,
    target: route.target,
    targetParts: route.target === undefined ? undefined : targetParts(route.target, new RegExp(`${sourceText}|`).exec('')!.length - 1),
    backend: backendOf(route, options),
    // authenticationMethod "none" switches route authentication off altogether (SAP's behaviour).
    authenticationType: authMethod === 'none' ? 'none' : (route.authenticationType ?? 'xsuaa'),
    scopes: route.scope === undefined ? undefined : compileScopes(route.scope, options.xsappname),
    csrfProtection: route.csrfProtection ?? true,
    methods,
    cacheControl: route.cacheControl,
    identityProvider: route.identityProvider,
    reverse: reverseMapping(sourceText, route.target),
  };
}

function backendOf(
  route: RouteFile,
  options: { destinations: ReadonlyMap<string, Destination>; baseDir: string },
): RouteBackend {
  if (route.destination !== undefined) {
    if (/\$\d/.test(route.destination)) return { kind: 'dynamic-destination', reference: route.destination };
    const destination = options.destinations.get(route.destination);
    // The loader has already refused unknown destinations; this guards direct callers.
    if (!destination) throw new Error(`route ${JSON.stringify(route.source)} names unknown destination "${route.destination}"`);
    return { kind: 'destination', destination };
  }
  if (route.localDir !== undefined) return { kind: 'localDir', root: path.resolve(options.baseDir, route.localDir) };
  return { kind: 'service', service: route.service ?? '' };
}

function compileScopes(spec: ScopeSpec, xsappname: string | undefined): ReadonlyMap<string, readonly string[]> {
  const expand = (s: string | string[]) =>
    (Array.isArray(s) ? s : [s]).map((scope) =>
      xsappname ? scope.replaceAll('$XSAPPNAME', xsappname) : scope,
    );
  if (typeof spec === 'string' || Array.isArray(spec)) return new Map([['default', expand(spec)]]);
  return new Map(Object.entries(spec).map(([method, s]) => [method === 'default' ? method : method.toUpperCase(), expand(s)]));
}

/**
 * `url.replace(source, target)` (SAP's rewriting: the matched part replaced, `$n` expanded), built
 * from the match the table already made instead of running the regex a second time.
 */
function rewrite(url: string, m: RegExpExecArray, route: CompiledRoute): string {
  if (!route.targetParts) return url.replace(route.source, route.target!);
  let replaced = '';
  for (const part of route.targetParts) replaced += typeof part === 'string' ? part : (m[part] ?? '');
  return url.slice(0, m.index) + replaced + url.slice(m.index + m[0].length);
}

/** Literals and group numbers; undefined when the target uses other `$` patterns (`$&`, `$$`, ...). */
function targetParts(target: string, groups: number): (string | number)[] | undefined {
  const parts: (string | number)[] = [];
  let last = 0;
  for (const match of target.matchAll(/\$(\d)(?!\d)/g)) {
    const group = Number(match[1]);
    // `$0` and a group the source lacks stay literal text in String.prototype.replace.
    if (group === 0 || group > groups) return undefined;
    parts.push(target.slice(last, match.index), group);
    last = match.index + match[0].length;
  }
  parts.push(target.slice(last));
  // A `$` left in a literal would mean something to String.prototype.replace: keep its semantics.
  if (parts.some((p) => typeof p === 'string' && p.includes('$'))) return undefined;
  return parts.filter((p) => p !== '');
}

/**
 * The scopes a request needs on this route (any one suffices); undefined when the route has none;
 * an empty list when no scope can admit the method. The last is a per-method `scope` object that
 * lists neither the method nor `default`: "In case there is no default property specified and the
 * HTTP method is also not specified, the request is rejected by default" (@sap/approuter README and
 * SAP BTP documentation, "Routing Configuration File" → routes → scope). SAP looks the method up
 * as sent, so `{GET: ...}` alone rejects HEAD too.
 */
export function requiredScopes(route: CompiledRoute, method: string): readonly string[] | undefined {
  if (!route.scopes) return undefined;
  return route.scopes.get(method) ?? route.scopes.get('default') ?? [];
}

/**
 * For `"source": "^/api/(.*)$", "target": "/v1/$1"` a backend redirect to `/v1/x` is `/api/x` at
 * the gateway. Only derived for the simple, common shape: a literal prefix then one group, and a
 * target that is a literal prefix then `$1`; anything else keeps the path as the backend wrote it.
 */
function reverseMapping(source: string, target: string | undefined): CompiledRoute['reverse'] {
  if (target === undefined) return undefined;
  const s = /^\^((?:\/[\w.~-]*)*\/)\(\.\*\)\$?$/.exec(source);
  const t = /^((?:\/[\w.~-]*)*\/?)\$1$/.exec(target);
  if (!s || !t) return undefined;
  return { sourcePrefix: s[1]!, targetPrefix: t[1]! };
}

/**
 * Path parameters (`/a;x=1/b`) mean different things to different backends: Java servers (Tomcat,
 * Spring) drop them before routing (`/admin;x/` is their `/admin/`), while SAP's OData services need
 * them (`/sap/opu/odata/sap/SRV;v=2/`). Such a path is forwarded as it is, but only if it picks the
 * same route with its parameters as without them; otherwise a public route could carry it to a
 * protected path of a Java backend.
 */
export function samePathParameterRoute(routes: RouteTable, url: string, method: string, match: RouteMatch): void {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const without = routes.match(path.replace(/;[^/]*/g, '') + (q === -1 ? '' : url.slice(q)), method);
  const same = match.kind === 'route' ? without.kind === 'route' && without.route === match.route : without.kind === match.kind;
  if (!same) {
    throw new GatewayError('ZG_ERR_BAD_REQUEST', 'The path parameters (";...") of this path change which route it takes; a backend could read it as another path');
  }
}
