/**
 * Loads and validates routes.json (SAP's xs-app.json schema, REFERENCE.md §6). Every problem is
 * reported at once: first the schema (routes-schema.ts), then the rules SAP's router applies at start-up
 * (its "route-rules" and "logout-rules" formats in @sap/approuter 21.x), then zonegate's own: regexes that
 * must compile and not backtrack catastrophically, targets that reference existing capture groups,
 * scopes that can actually be enforced, and features zonegate does not implement.
 */
import { ConfigError, type ConfigProblem } from '../errors.js';
import { readJsonFile } from './json-text.js';
import { analyseRegexes, checkRegexSafety, describeUnsafe, type RegexToCheck } from './regex-safety.js';
import { checkRoutesSchema } from './routes-schema.js';
import type { RoutesFile } from './types.js';

export interface RoutesValidationOptions {
  /**
   * Names of the destinations from the `destinations` environment variable; undefined when they
   * could not be read (that problem is reported where they are read, and routes are not checked
   * against a list that is not there).
   */
  destinationNames: ReadonlySet<string> | undefined;
}

export interface RoutesValidationResult {
  config: RoutesFile;
  /** Accepted, but ignored by zonegate: the operator should know. */
  warnings: ConfigProblem[];
}

/** A service zonegate implements itself (REFERENCE.md §6: /user-api/currentUser, /attributes). */
export const USER_API_SERVICE = 'sap-approuter-userapi';

/** SAP's HTML5 application repository, which zonegate keeps itself (src/html5-apps/, issue 16). */
export const HTML5_REPO_SERVICE = 'html5-apps-repo-rt';

const KNOWN_SERVICES: Record<string, string> = {
  'html5-apps-rt': 'SAP HTML5 application repository',
  'html5-apps-repo-dt': 'SAP HTML5 application repository',
  'html5-apps-dt': 'SAP HTML5 application repository',
  'com.sap.bpm.workflow': 'SAP Workflow service',
};

const DEFAULT_LOGIN_CALLBACK = '/login/callback';

/** Reads, parses and validates a routes file; throws ConfigError listing every problem. */
export function loadRoutesFile(file: string, options: RoutesValidationOptions): RoutesValidationResult {
  const parsed = readJsonFile(file);
  if (!parsed.ok) throw new ConfigError([parsed.problem]);
  return validateRoutesDocument(parsed.value, file, options);
}

/** Validates an already parsed routes document; throws ConfigError listing every problem. */
export function validateRoutesDocument(doc: unknown, file: string, options: RoutesValidationOptions): RoutesValidationResult {
  const problems = checkRoutesSchema(doc, file);
  const warnings: ConfigProblem[] = [];
  if (isObject(doc)) {
    analyseRegexes(patternsOf(doc));
    const ctx: Ctx = { file, problems, warnings, options };
    checkTopLevel(doc, ctx);
    const routes = doc['routes'];
    if (Array.isArray(routes)) routes.forEach((r, i) => isObject(r) && checkRoute(r, `/routes/${i}`, doc, ctx));
  }
  if (problems.length > 0) throw new ConfigError(sortByPath(problems));
  let config = doc as RoutesFile;
  const logout = config.logout;
  // One spelling for the rest of the gateway: SAP 21.x writes `logoutMethod`, its documentation `logoutMethods`.
  if (logout?.logoutMethod && !logout.logoutMethods) {
    config = { ...config, logout: { ...logout, logoutMethods: [logout.logoutMethod] } };
  }
  return { config, warnings: sortByPath(warnings) };
}

interface Ctx {
  file: string;
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
  options: RoutesValidationOptions;
}

const error = (ctx: Ctx, path: string, message: string) => ctx.problems.push({ file: ctx.file, path, message });
const warn = (ctx: Ctx, path: string, message: string) => ctx.warnings.push({ file: ctx.file, path, message });
const ignored = (what: string) => `${what} is accepted for compatibility with SAP's approuter but ignored by zonegate`;

function checkTopLevel(doc: Record<string, unknown>, ctx: Ctx): void {
  for (const [key, what] of [
    ['whitelistService', 'the allowlist service (whitelistService)'],
    ['stateProtection', 'stateProtection'],
    ['pluginMetadataEndpoint', 'pluginMetadataEndpoint'],
    ['destinations', 'per-destination logout (destinations)'],
    ['services', 'per-service logout (services)'],
  ] as const) {
    if (doc[key] !== undefined) warn(ctx, `/${key}`, ignored(what));
  }
  const cors = doc['cors'];
  if (Array.isArray(cors)) {
    warn(ctx, '/cors', ignored('CORS configuration (cors)') + ' for now; it is validated and kept typed');
    cors.forEach((rule, i) => {
      if (isObject(rule)) checkRegex(sourcePattern(rule['uriPattern']), sourceFlags(rule['uriPattern']), `/cors/${i}/uriPattern`, ctx);
    });
  }

  const login = doc['login'];
  if (isObject(login) && typeof login['callbackEndpoint'] === 'string') {
    checkRelativeUri(login['callbackEndpoint'], '/login/callbackEndpoint', ctx);
    if (login['callbackEndpoint'] !== DEFAULT_LOGIN_CALLBACK) {
      warn(ctx, '/login/callbackEndpoint', `ignored by zonegate: its login callback is always ${DEFAULT_LOGIN_CALLBACK}`);
    }
  }

  const logout = doc['logout'];
  if (isObject(logout)) checkLogout(logout, ctx);

  const headers = doc['responseHeaders'];
  if (Array.isArray(headers)) {
    headers.forEach((h, i) => {
      if (!isObject(h)) return;
      if (typeof h['name'] === 'string') checkHeaderName(h['name'], `/responseHeaders/${i}/name`, ctx);
      if (typeof h['value'] === 'string') checkHeaderValue(h['value'], `/responseHeaders/${i}/value`, ctx);
    });
  }

  const errorPages = doc['errorPage'];
  if (Array.isArray(errorPages)) errorPages.forEach((p, i) => isObject(p) && checkErrorPage(p, `/errorPage/${i}`, ctx));
}

function checkLogout(logout: Record<string, unknown>, ctx: Ctx): void {
  const endpoint = logout['logoutEndpoint'];
  if (typeof endpoint === 'string') checkRelativeUri(endpoint, '/logout/logoutEndpoint', ctx);
  const page = logout['logoutPage'];
  if (typeof page === 'string') {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(page)?.[1]?.toLowerCase();
    if (scheme && scheme !== 'http' && scheme !== 'https') {
      error(ctx, '/logout/logoutPage', `expected a relative path or an http(s) URL, got scheme "${scheme}:"`);
    }
    if (endpoint === undefined) error(ctx, '/logout/logoutPage', 'is set but logout.logoutEndpoint is not (SAP: "Logout page is set although logout endpoint is not configured")');
  }
  if (logout['logoutMethod'] !== undefined && logout['logoutMethods'] !== undefined) {
    error(ctx, '/logout/logoutMethods', 'expected either logoutMethod or logoutMethods, not both');
  }
  const methods = Array.isArray(logout['logoutMethods'])
    ? logout['logoutMethods']
    : logout['logoutMethod'] !== undefined
      ? [logout['logoutMethod']]
      : ['GET'];
  if (logout['csrfProtection'] !== undefined && !methods.includes('POST')) {
    error(ctx, '/logout/csrfProtection', 'can only be set when the logout method is POST (as SAP\'s router requires)');
  }
  const backChannel = logout['backChannelLogoutEndpoint'];
  if (typeof backChannel === 'string') {
    warn(ctx, '/logout/backChannelLogoutEndpoint', ignored('back-channel logout (backChannelLogoutEndpoint)'));
    if (backChannel === endpoint) error(ctx, '/logout/backChannelLogoutEndpoint', 'expected a path different from logout.logoutEndpoint');
  }
}

function checkErrorPage(page: Record<string, unknown>, path: string, ctx: Ctx): void {
  const status = page['status'];
  const statuses = Array.isArray(status) ? status : [status];
  statuses.forEach((s, j) => {
    if (typeof s === 'number' && Number.isInteger(s) && (s < 400 || s > 599)) {
      error(ctx, Array.isArray(status) ? `${path}/status/${j}` : `${path}/status`, `expected an HTTP error status 400-599, got ${s}`);
    }
  });
  if (page['path'] !== undefined) {
    error(ctx, `${path}/path`, 'error pages served from a path are not supported by zonegate; expected "file"');
  } else if (page['file'] === undefined) {
    error(ctx, `${path}/file`, 'is required');
  }
}

function checkRoute(route: Record<string, unknown>, path: string, doc: Record<string, unknown>, ctx: Ctx): void {
  const src = sourcePattern(route['source']);
  const sourcePath = isObject(route['source']) ? `${path}/source/path` : `${path}/source`;
  const groups = checkRegex(src, sourceFlags(route['source']), sourcePath, ctx);

  const { destination, localDir, service } = route;
  if (destination === undefined && localDir === undefined && service === undefined) {
    error(ctx, path, 'Route does not have a destination nor a localDir nor a service (expected one of them)');
  }
  if (destination !== undefined && localDir !== undefined) error(ctx, path, 'expected either destination or localDir, not both');
  if (destination !== undefined && service !== undefined) error(ctx, path, 'expected either destination or service, not both');
  if (localDir !== undefined && service !== undefined) error(ctx, path, 'expected either localDir or service, not both');

  if (typeof destination === 'string') checkDestination(destination, groups, `${path}/destination`, ctx);
  if (typeof service === 'string' && service !== USER_API_SERVICE && service !== HTML5_REPO_SERVICE) {
    const what = KNOWN_SERVICES[service];
    error(ctx, path, `service "${service}" (${what ?? 'a bound SAP business service'}) is not supported by zonegate`);
  }

  const target = route['target'];
  if (typeof target === 'string') {
    checkRelativeUri(target, `${path}/target`, ctx);
    checkBackreferences(target, groups, `${path}/target`, ctx);
  }

  const authType = route['authenticationType'];
  if (authType === 'ias') {
    error(ctx, path, 'authenticationType "ias" (SAP Cloud Identity Services) is not supported by zonegate; expected "xsuaa", "basic" or "none"');
  }
  const scope = route['scope'];
  if (scope !== undefined) {
    // A scope on a route that never authenticates would silently protect nothing.
    if (authType === 'none') error(ctx, `${path}/scope`, 'cannot be enforced on a route with authenticationType "none"');
    else if (doc['authenticationMethod'] === 'none') {
      error(ctx, `${path}/scope`, 'cannot be enforced while the top-level authenticationMethod is "none"');
    }
    // A per-method object without `default` is valid: SAP's router rejects the methods it does not
    // list (see requiredScopes in src/routing/route-table.ts), so nothing goes through unchecked.
  }

  if (typeof localDir === 'string' && /^\.?\/?$/.test(localDir)) {
    warn(ctx, `${path}/localDir`, `"${localDir}" serves the application directory itself, including routes.json and default-env.json (which may hold credentials)`);
  }
  if (localDir !== undefined && route['httpMethods'] !== undefined) {
    error(ctx, `${path}/httpMethods`, 'cannot be combined with localDir (static files answer GET and HEAD only)');
  }
  if (route['preferLocal'] !== undefined) {
    warn(ctx, `${path}/preferLocal`, ignored('preferLocal'));
    if (route['preferLocal'] === true && destination === undefined) error(ctx, `${path}/preferLocal`, 'requires a destination');
  }
  if (route['replace'] !== undefined) {
    warn(ctx, `${path}/replace`, ignored('text replacement in static files (replace)'));
    if (localDir === undefined) error(ctx, `${path}/replace`, 'requires localDir');
  }
  const idp = route['identityProvider'];
  if (idp !== undefined) {
    // Honoured: a login started on this route names the IdP to the zone as login_hint (src/login/login.ts).
    // An origin key is what a zone can have (src/zones/idp/config.ts): anything else could never match.
    if (typeof idp === 'string' && !/^[A-Za-z0-9._-]{1,64}$/.test(idp)) {
      error(ctx, `${path}/identityProvider`, 'expected the origin key of an identity provider: 1 to 64 of A-Z, a-z, 0-9, ".", "_" and "-"');
    }
    if (authType !== undefined && authType !== 'xsuaa' && authType !== 'ias') {
      error(ctx, `${path}/identityProvider`, `cannot be combined with authenticationType "${String(authType)}"; expected "xsuaa"`);
    }
  }
  if (route['dynamicIdentityProvider'] !== undefined) warn(ctx, `${path}/dynamicIdentityProvider`, ignored('dynamicIdentityProvider'));
  if (route['setBackendSessionCookies'] !== undefined) warn(ctx, `${path}/setBackendSessionCookies`, ignored('setBackendSessionCookies'));
  if (typeof route['cacheControl'] === 'string') checkHeaderValue(route['cacheControl'], `${path}/cacheControl`, ctx);
}

function checkDestination(name: string, groups: number | undefined, path: string, ctx: Ctx): void {
  if (name.includes('$')) {
    // A dynamic destination ("$1") is resolved per request from the source's capture group.
    checkBackreferences(name, groups, path, ctx);
    return;
  }
  if (name === '*') {
    error(ctx, path, 'the wildcard destination "*" (destination taken from the request) is not supported by zonegate');
    return;
  }
  const declared = ctx.options.destinationNames;
  if (declared && !declared.has(name)) {
    const known = [...declared];
    error(
      ctx,
      path,
      `unknown destination "${name}"; expected one of the destinations in the environment (${known.length ? known.join(', ') : 'none defined'})`,
    );
  }
}

/** Compiles a route regex; answers its number of capture groups, or undefined when it does not compile. */
function checkRegex(pattern: string | undefined, flags: string, path: string, ctx: Ctx): number | undefined {
  if (pattern === undefined) return undefined;
  let groups: number;
  try {
    groups = new RegExp(`${pattern}|`, flags).exec('')!.length - 1;
  } catch (err) {
    error(ctx, path, `expected a JavaScript regular expression: ${(err as Error).message}`);
    return undefined;
  }
  const safety = checkRegexSafety(pattern, flags);
  if (safety.verdict === 'unsafe') {
    error(ctx, path, describeUnsafe(pattern, safety, 'URL'));
  } else if (safety.verdict === 'unanalysable') {
    warn(ctx, path, `regular expression ${JSON.stringify(pattern)} could not be checked for catastrophic backtracking (${safety.reason})`);
  }
  return groups;
}

function checkBackreferences(text: string, groups: number | undefined, path: string, ctx: Ctx): void {
  if (groups === undefined) return;
  for (const m of text.matchAll(/\$(\d+)/g)) {
    const n = Number(m[1]);
    if (n < 1 || n > groups) {
      error(ctx, path, `refers to capture group $${n} but the source has ${groups} capture group${groups === 1 ? '' : 's'}`);
    }
  }
}

/** SAP's "relative-uri" format: no scheme and no host. */
function checkRelativeUri(value: string, path: string, ctx: Ctx): void {
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) || value.startsWith('//')) {
    error(ctx, path, `expected a relative path (no scheme or host), got ${JSON.stringify(value)}`);
  }
}

/** RFC 9110 §5.6.2 token; SAP also refuses to let routes.json set cookies. */
function checkHeaderName(name: string, path: string, ctx: Ctx): void {
  if (!/^[!#$%&'*+\-.^_`|~0-9a-zA-Z]+$/.test(name)) error(ctx, path, `expected an HTTP header name (RFC 9110 token), got ${JSON.stringify(name)}`);
  else if (/^(set-)?cookie$/i.test(name)) error(ctx, path, `header "${name}" may not be set by responseHeaders`);
}

/** RFC 9110 §5.5: visible characters, space and tab (obs-text allowed); no CR/LF header injection. */
function checkHeaderValue(value: string, path: string, ctx: Ctx): void {
  if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) error(ctx, path, 'expected a header value without control characters');
}

/** Every regex the file holds that compiles, analysed together before the checks ask one by one. */
function patternsOf(doc: Record<string, unknown>): RegexToCheck[] {
  const sources = [
    ...(Array.isArray(doc['routes']) ? doc['routes'] : []).map((r) => (isObject(r) ? r['source'] : undefined)),
    ...(Array.isArray(doc['cors']) ? doc['cors'] : []).map((c) => (isObject(c) ? c['uriPattern'] : undefined)),
  ];
  const patterns: RegexToCheck[] = [];
  for (const s of sources) {
    const source = sourcePattern(s);
    if (source === undefined) continue;
    const flags = sourceFlags(s);
    try {
      new RegExp(source, flags);
    } catch {
      continue;
    }
    patterns.push({ source, flags });
  }
  return patterns;
}

function sourcePattern(source: unknown): string | undefined {
  if (typeof source === 'string') return source;
  if (isObject(source) && typeof source['path'] === 'string') return source['path'];
  return undefined;
}

/** `matchCase` defaults to true in SAP's router. */
function sourceFlags(source: unknown): string {
  return isObject(source) && source['matchCase'] === false ? 'i' : '';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sortByPath(problems: ConfigProblem[]): ConfigProblem[] {
  const key = (p: string) => p.split('/').map((s) => (/^\d+$/.test(s) ? s.padStart(6, '0') : s)).join('/');
  return [...problems].sort((a, b) => (key(a.path) < key(b.path) ? -1 : key(a.path) > key(b.path) ? 1 : 0));
}
