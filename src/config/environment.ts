import { randomBytes } from 'node:crypto';
import { readEventsSettings, type EventsSettings } from '../events/settings.js';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { Level, LogFormat } from '../log.js';
import { compileTenantHostPattern } from '../tenant/resolve.js';
import { compileTenantPathPattern } from '../tenant/path.js';
import { parseTrustedProxies, type TrustedProxies } from '../tenant/trusted-proxies.js';
import { parseDestinations } from './destinations.js';
import { readRecordsSettings } from './records.js';
import { readRedisSettings } from './redis.js';
import { readTracingSettings, type TracingSettings } from './tracing.js';
import { checkRegexSafety, describeUnsafe } from './regex-safety.js';
import { compileTenantUrl } from '../provisioning/tenant-url.js';
import { compileCookieDomains, type CookieDomains } from '../sessions/cookie-domain.js';
import { parseSessionKeys, type SessionKey } from '../sessions/crypto.js';
import type { RecordsConfig } from '../records/index.js';
import type { RedisConnection } from '../storage/redis.js';
import { makePrivateDir, writePrivateFile } from '../storage/private-files.js';
import type { Destination } from './types.js';

/** The credentials of an `xsuaa` service binding (REFERENCE.md §3), or of the built-in zones. */
export interface XsuaaCredentials {
  clientid: string;
  clientsecret: string;
  url: string;
  uaadomain: string;
  xsappname: string;
  identityzone?: string;
  tenantid?: string;
  tenantmode?: string;
}

/** Tenant provisioning (issue 5): the SaaS registry's callbacks and `zonegate tenants`. */
export interface ProvisioningSettings {
  /** `TENANT_URL_TEMPLATE`, e.g. `https://{subdomain}.app.example.com`; undefined: derived from TENANT_HOST_PATTERN. */
  tenantUrlTemplate: string | undefined;
  /** `SAAS_REGISTRY_URL`: where asynchronous subscriptions (STATUS_CALLBACK) report their outcome. */
  registryUrl: string | undefined;
  /**
   * The client the status reports get their token with: `SAAS_REGISTRY_CLIENT_ID` and
   * `SAAS_REGISTRY_CLIENT_SECRET` (both or neither), at `SAAS_REGISTRY_TOKEN_URL` (a zone's base URL,
   * `<url>/oauth/token`; default the application's zone). In BTP this is the `saas-registry`
   * binding's client, whose token the registry accepts; undefined: the application's own client.
   */
  registryClient: { clientId: string; clientSecret: string; tokenUrl: string | undefined } | undefined;
  /** `SAAS_DEPENDENCIES`: the answer of GET /callback/v1.0/dependencies. */
  dependencies: readonly { xsappname: string }[];
  /** `TENANT_ADMIN_ROLE_COLLECTION`; undefined: chosen from xs-security.json at start-up. */
  adminRoleCollection: string | undefined;
  /** `CALLBACK_SCOPE`: local name of the scope the registry's token must carry (default `Callback`). */
  callbackScope: string;
  /** Whether CALLBACK_SCOPE was set (then xs-security.json must declare it, else it is only expected). */
  callbackScopeExplicit: boolean;
}

/** Redis: from the REDIS_* variables or a Redis binding (src/config/redis.ts); otherwise the embedded SQLite. */
export type StorageSettings = { kind: 'sqlite'; file: string } | { kind: 'redis'; connection: RedisConnection };

/** Everything the gateway takes from its environment, validated once and frozen. */
export interface Settings {
  port: number;
  /** Bind address; undefined = all interfaces. */
  host: string | undefined;
  tenantHostPattern: RegExp | undefined;
  /** `TENANT_PATH_PATTERN`: the tenant from the path's prefix (src/tenant/path.ts); undefined: from the host only. */
  tenantPathPattern: RegExp | undefined;
  /** `TENANT_METADATA_PATH`, e.g. `/metadata`: the tenant metadata endpoint (src/tenant/metadata.ts); undefined: off. */
  tenantMetadataPath: string | undefined;
  trustedProxies: TrustedProxies;
  destinations: readonly Destination[];
  storage: StorageSettings;
  /**
   * The records database (zones, users, clients, signing keys, tenants; issue 19): PostgreSQL from
   * DATABASE_URL or a PostgreSQL binding (src/config/records.ts), else SQLite `<dataDir>/records.db`.
   */
  records: RecordsConfig;
  /** From an `xsuaa` binding in VCAP_SERVICES; undefined means the built-in zones serve logins. */
  xsuaa: XsuaaCredentials | undefined;
  /** Base domain of the built-in zones (`<tenant>.<uaaDomain>`), when they run in-process. */
  uaaDomain: string;
  /**
   * Public scheme and port of the zones (`UAA_URL`, origin only, its host is `uaaDomain`); undefined:
   * `http://<uaaDomain>:<the port actually listened on>`.
   */
  uaaUrl: { protocol: 'http:' | 'https:'; port: string } | undefined;
  /** Subdomain of the provider's zone, where the application is registered (`PROVIDER_SUBDOMAIN`). */
  providerSubdomain: string;
  /**
   * 32 bytes that seal the application's client secret and the zones' private signing keys in the records database
   * (`ZONEGATE_SECRET_KEY`); undefined: a development key generated in `dataDir` (see resolveSecretKey).
   */
  secretKey: Uint8Array | undefined;
  /** Password of the zones admin API's bootstrap `admin` user (`ZONEGATE_ADMIN_SECRET`); optional. */
  adminSecret: string | undefined;
  /** Local directory for the embedded storage and the generated development key (`ZONEGATE_DATA_DIR`). */
  dataDir: string;
  sessionTimeoutMinutes: number | undefined;
  /** SESSION_KEYS: seal session tokens and sign the cookie; the first is current. Undefined: derived from the secret key. */
  sessionKeys: readonly SessionKey[] | undefined;
  /** SESSION_MAX_LIFETIME: a session ends this long after login whatever its activity (default 8 h). */
  sessionMaxLifetimeMinutes: number;
  /** TOKEN_REFRESH_AHEAD: the access token is refreshed this long before it expires (default 300 s). */
  tokenRefreshAheadSeconds: number;
  /**
   * ZONES_REFRESH_TOKEN_REUSE: the built-in zones' grace window for a client's retry of a refresh,
   * seconds (default 10, 0 disables; see IdentityServerOptions.refreshTokenReuseSeconds).
   */
  zonesRefreshTokenReuseSeconds: number;
  provisioning: ProvisioningSettings;
  logLevel: Level;
  /** `LOG_FORMAT`: `json` (one object per line, the default) or `pretty` (pino-pretty, for people at a terminal). */
  logFormat: LogFormat;
  /**
   * `LOG_REQUESTS=off`: no `request` line per request (oauth2-proxy's `--request-logging=false`), for
   * deployments whose ingress or router already logs every request; errors and events are still logged.
   */
  logRequests: boolean;
  shutdownTimeoutMs: number;
  /** How the gateway bounds what clients may hold (issue 10: slow clients cannot starve a destination). */
  clients: ClientLimits;
  /**
   * `FORWARD_AUTH=on`: `/_zonegate/auth` decides for nginx `auth_request`, Traefik `ForwardAuth` and
   * ingress-nginx, and `/_zonegate/start` begins their logins (src/forward-auth/). Off by default.
   */
  forwardAuth: boolean;
  /** `SESSION_COOKIE_DOMAIN`: the session cookie's Domain per tenant; undefined: host-only (the default). */
  sessionCookieDomains: CookieDomains | undefined;
  /** Prometheus `/metrics` (issue 17); undefined: off, and nothing is counted. */
  metrics: MetricsSettings | undefined;
  /** `ZONEGATE_WATCH_CONFIG=true`: a change to routes.json or default-env.json reloads them, as SIGHUP does (src/server/reload.ts). */
  watchConfig: boolean;
  /** OpenTelemetry spans exported over OTLP/HTTP (issue 17, src/tracing/); undefined: off, and nothing is loaded. */
  tracing: TracingSettings | undefined;
  /** Tenant-routed webhooks and the event relay (issue 15 part 3, src/events/); undefined: off. */
  events: EventsSettings | undefined;
}

/**
 * Where `/metrics` is served and who may read it. On when METRICS_PORT or METRICS_TOKEN is set;
 * never unauthenticated on the port tenants reach.
 */
export interface MetricsSettings {
  /** `METRICS_PORT`: a listener of its own (0: any free port); undefined: `/metrics` on the main port, behind the token. */
  port: number | undefined;
  /** `METRICS_HOST`: that listener's bind address; undefined: all interfaces. */
  host: string | undefined;
  /** `METRICS_TOKEN`: the bearer credential a scrape must present; required on the main port. */
  token: string | undefined;
  /** `METRICS_TENANT_LABEL=true`: requests and logins carry a `tenant` label. */
  tenantLabel: boolean;
  /** `METRICS_TENANT_LIMIT`: tenants labelled by name; later ones are counted as `other`. */
  tenantLimit: number;
}

export interface ClientLimits {
  /**
   * `REQUEST_BUFFER_SIZE`: request bodies up to this many bytes are received whole before a backend
   * connection is taken (nginx's proxy_request_buffering); of larger ones, this much is received
   * first and the rest streams. 0: bodies stream from the first byte.
   */
  requestBufferSize: number;
  /** `REQUEST_TIMEOUT_MS`: the longest time to receive a whole request, headers and body (Node's requestTimeout); 0: none. */
  requestTimeoutMs: number;
  /** `REQUEST_BODY_TIMEOUT_MS`: the longest pause between two reads of a request body (nginx's client_body_timeout). */
  requestBodyTimeoutMs: number;
  /** `BACKEND_QUEUE_TIMEOUT_MS`: how long a request waits for a connection of a destination at its `maxSockets`, then 503. */
  backendQueueTimeoutMs: number;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Cloud Foundry's local-development convention (SAP's approuter reads it too): `default-env.json`
 * in the working directory holds environment variables as JSON; objects (VCAP_SERVICES,
 * destinations) are given as JSON values, not strings. The real environment wins.
 */
export function withDefaultEnv(env: Environment, cwd: string): { env: Environment; problems: ConfigProblem[] } {
  const file = path.join(cwd, 'default-env.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { env, problems: [] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { env, problems: [{ file, path: '', message: `not valid JSON: ${(err as Error).message}` }] };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { env, problems: [{ file, path: '', message: 'expected an object of environment variables' }] };
  }
  const merged: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(doc)) {
    merged[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return { env: { ...merged, ...env }, problems: [] };
}

const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

/**
 * Reads the environment into Settings. This and the entry point are the only readers of the
 * environment: everything else receives Settings. Every problem is reported at once.
 */
export function readSettings(env: Environment, options: { cwd: string; defaultPort?: number }): Settings {
  const problems: ConfigProblem[] = [];
  const problem = (variable: string, message: string, at = '') =>
    problems.push({ file: `environment variable ${variable}`, path: at, message });

  const port = integer(env.PORT, options.defaultPort ?? 5000, 0, 65535);
  if (port === undefined) problem('PORT', `expected a port number 0-65535, got "${env.PORT}"`);

  let tenantHostPattern: RegExp | undefined;
  if (env.TENANT_HOST_PATTERN) {
    const compiled = compileTenantHostPattern(env.TENANT_HOST_PATTERN);
    if (typeof compiled === 'string') problem('TENANT_HOST_PATTERN', compiled);
    // Matched against every request's Host, which the client chooses: as for route sources.
    else {
      const safety = checkRegexSafety(env.TENANT_HOST_PATTERN, 'i');
      if (safety.verdict === 'unsafe') problem('TENANT_HOST_PATTERN', `${describeUnsafe(env.TENANT_HOST_PATTERN, safety, 'Host header')}, such as ^(.*)\\.app\\.example\\.com$`);
      else tenantHostPattern = compiled;
    }
  }
  let tenantPathPattern: RegExp | undefined;
  if (env.TENANT_PATH_PATTERN) {
    const compiled = compileTenantPathPattern(env.TENANT_PATH_PATTERN);
    if (typeof compiled === 'string') problem('TENANT_PATH_PATTERN', compiled);
    else {
      const safety = checkRegexSafety(env.TENANT_PATH_PATTERN);
      if (safety.verdict === 'unsafe') problem('TENANT_PATH_PATTERN', `${describeUnsafe(env.TENANT_PATH_PATTERN, safety, 'request path')}, such as ^/t/([^/]+)/`);
      else tenantPathPattern = compiled;
    }
  }
  const tenantMetadataPath = env.TENANT_METADATA_PATH || undefined;
  if (tenantMetadataPath !== undefined && !/^(\/[A-Za-z0-9._~-]+)+$/.test(tenantMetadataPath)) {
    problem('TENANT_METADATA_PATH', `expected a path such as /metadata (segments of letters, digits, ".", "_", "~", "-"), got "${tenantMetadataPath}"`);
  }

  const trusted = parseTrustedProxies(env.TRUSTED_PROXIES);
  if (typeof trusted === 'string') problem('TRUSTED_PROXIES', trusted);

  let destinations: Destination[] = [];
  try {
    destinations = parseDestinations(env.destinations, 'environment variable destinations');
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.problems);
    else throw err;
  }

  let vcap: Record<string, unknown> | undefined;
  if (env.VCAP_SERVICES) {
    try {
      const parsed: unknown = JSON.parse(env.VCAP_SERVICES);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected an object of service bindings by label');
      vcap = parsed as Record<string, unknown>;
    } catch (err) {
      problem('VCAP_SERVICES', `not valid: ${(err as Error).message}`);
    }
  }

  const xsuaa = vcap ? xsuaaBinding(vcap, (m, at) => problem('VCAP_SERVICES', m, at)) : undefined;
  const redis = readRedisSettings(env, vcap, problem);
  const dataDir = path.resolve(options.cwd, env.ZONEGATE_DATA_DIR || '.zonegate');
  // REDIS_URL set but unusable is a problem above, not a silent fall-back to SQLite.
  const wantsRedis = redis !== undefined || Boolean(env.REDIS_URL || env.REDIS_SENTINELS || env.REDIS_CLUSTER_NODES);
  const storage: StorageSettings = redis
    ? Object.freeze({ kind: 'redis', connection: redis })
    : Object.freeze({ kind: 'sqlite', file: path.join(dataDir, 'zonegate.db') });
  const records = readRecordsSettings(env, vcap, dataDir, problem);
  const wantsPostgres = records.kind === 'postgres' || Boolean(env.DATABASE_URL);

  const uaaUrl = env.UAA_URL ? parseUaaUrl(env.UAA_URL) : undefined;
  if (typeof uaaUrl === 'string') problem('UAA_URL', uaaUrl);
  const uaaUrlHost = typeof uaaUrl === 'object' ? uaaUrl.hostname : undefined;
  const uaaDomain = (env.UAA_DOMAIN || uaaUrlHost || xsuaa?.uaadomain || 'auth.localhost').toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(uaaDomain)) problem('UAA_DOMAIN', 'expected a host name without scheme or port, e.g. auth.example.com');
  else if (uaaUrlHost !== undefined && uaaUrlHost !== uaaDomain) {
    // The zones live at <subdomain>.<uaadomain> (REFERENCE.md §1): a URL on another host would hand
    // clients issuers and endpoints that the gateway never routes to the zones.
    problem('UAA_URL', `its host "${uaaUrlHost}" must be UAA_DOMAIN ("${uaaDomain}"); UAA_URL only adds scheme and port`);
  }

  const providerSubdomain = (env.PROVIDER_SUBDOMAIN || 'provider').toLowerCase();
  if (!DNS_LABEL.test(providerSubdomain)) {
    problem('PROVIDER_SUBDOMAIN', 'expected a DNS label: 1 to 63 of a-z, 0-9 and "-", not starting or ending with "-"');
  }

  let secretKey: Uint8Array | undefined;
  if (env.ZONEGATE_SECRET_KEY) {
    secretKey = parseSecretKey(env.ZONEGATE_SECRET_KEY);
    if (!secretKey) problem('ZONEGATE_SECRET_KEY', `expected 32 random bytes as 64 hex digits or base64/base64url (e.g. from \`openssl rand -base64 32\`)`);
  }

  const adminSecret = env.ZONEGATE_ADMIN_SECRET || undefined;
  if (adminSecret !== undefined && adminSecret.length < MIN_ADMIN_SECRET) {
    problem('ZONEGATE_ADMIN_SECRET', `expected at least ${MIN_ADMIN_SECRET} characters (it guards the whole zones admin API)`);
  }

  let sessionKeys: SessionKey[] | undefined;
  if (env.SESSION_KEYS !== undefined && env.SESSION_KEYS !== '') {
    try {
      sessionKeys = parseSessionKeys(env.SESSION_KEYS, 'SESSION_KEYS');
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else problem('SESSION_KEYS', (err as Error).message);
    }
  }

  // Instances sharing Redis must seal and open with the same key: a key generated per container
  // (resolveSecretKey) would make each instance refuse the others' sessions and client secret. The
  // key is used by the built-in zones (no xsuaa binding) and for session keys when SESSION_KEYS is unset.
  // Instances sharing PostgreSQL share the zones' sealed signing keys and client secrets in it.
  if (wantsRedis && !env.ZONEGATE_SECRET_KEY && !(xsuaa && sessionKeys)) {
    problem(
      'ZONEGATE_SECRET_KEY',
      'required with Redis (REDIS_URL or a Redis binding): every instance must use the same key; set 32 random bytes, e.g. from `openssl rand -base64 32`' +
        (xsuaa ? ' (or set SESSION_KEYS)' : ''),
    );
  } else if (wantsPostgres && !env.ZONEGATE_SECRET_KEY && !xsuaa) {
    problem(
      'ZONEGATE_SECRET_KEY',
      'required with PostgreSQL (DATABASE_URL or a PostgreSQL binding): every instance must open the sealed keys with the same key; set 32 random bytes, e.g. from `openssl rand -base64 32`',
    );
  }

  let sessionTimeoutMinutes: number | undefined;
  if (env.SESSION_TIMEOUT !== undefined) {
    sessionTimeoutMinutes = integer(env.SESSION_TIMEOUT, 15, 1, 60 * 24 * 30);
    if (sessionTimeoutMinutes === undefined) problem('SESSION_TIMEOUT', 'expected a whole number of minutes between 1 and 43200');
  }

  const sessionMaxLifetimeMinutes = integer(env.SESSION_MAX_LIFETIME, 480, 1, 60 * 24 * 30);
  if (sessionMaxLifetimeMinutes === undefined) problem('SESSION_MAX_LIFETIME', 'expected a whole number of minutes between 1 and 43200');
  const tokenRefreshAheadSeconds = integer(env.TOKEN_REFRESH_AHEAD, 300, 0, 86_400);
  if (tokenRefreshAheadSeconds === undefined) problem('TOKEN_REFRESH_AHEAD', 'expected a whole number of seconds between 0 and 86400');
  const zonesRefreshTokenReuseSeconds = integer(env.ZONES_REFRESH_TOKEN_REUSE, 10, 0, 60);
  if (zonesRefreshTokenReuseSeconds === undefined) problem('ZONES_REFRESH_TOKEN_REUSE', 'expected a whole number of seconds between 0 and 60');

  const provisioning = readProvisioningSettings(env, problem, vcap);

  const logLevel = (env.LOG_LEVEL ?? 'info').toLowerCase() as Level;
  if (!LEVELS.includes(logLevel)) problem('LOG_LEVEL', `expected one of ${LEVELS.join(', ')}`);
  const logFormat = (env.LOG_FORMAT || 'json').toLowerCase() as LogFormat;
  if (logFormat !== 'json' && logFormat !== 'pretty') problem('LOG_FORMAT', `expected "json" or "pretty", got "${env.LOG_FORMAT}"`);
  const logRequests = (env.LOG_REQUESTS || 'on').toLowerCase();
  if (logRequests !== 'on' && logRequests !== 'off') problem('LOG_REQUESTS', `expected "on" or "off", got "${env.LOG_REQUESTS}"`);

  const shutdownTimeoutMs = integer(env.SHUTDOWN_TIMEOUT_MS, 10_000, 0, 600_000);
  if (shutdownTimeoutMs === undefined) problem('SHUTDOWN_TIMEOUT_MS', 'expected milliseconds between 0 and 600000');

  const clients = readClientLimits(env, problem);
  const metrics = readMetricsSettings(env, port, problem);
  const tracing = readTracingSettings(env, problem);
  const events = readEventsSettings(env, problem);

  const forwardAuth = (env.FORWARD_AUTH ?? 'off').toLowerCase();
  if (forwardAuth !== 'on' && forwardAuth !== 'off') problem('FORWARD_AUTH', `expected "on" or "off", got "${env.FORWARD_AUTH}"`);
  // The endpoint answers with the user's access token: only proxies named by address may ask, and
  // they must say which host they ask for. "all" trusts every peer (a client reaching the gateway
  // through Cloud Foundry's gorouter would read its own token) and believes no X-Forwarded-Host.
  else if (forwardAuth === 'on' && typeof trusted === 'object' && !trusted.forwardsHost) {
    problem('FORWARD_AUTH', `needs TRUSTED_PROXIES to list the proxies' addresses or CIDR ranges (it is "${trusted.description}"): only they may ask for a decision`);
  }
  let sessionCookieDomains: CookieDomains | undefined;
  if (env.SESSION_COOKIE_DOMAIN) {
    const compiled = compileCookieDomains(env.SESSION_COOKIE_DOMAIN, tenantHostPattern !== undefined || Boolean(env.TENANT_HOST_PATTERN));
    if (typeof compiled === 'string') problem('SESSION_COOKIE_DOMAIN', compiled);
    else sessionCookieDomains = compiled;
  }

  const watchConfig = (env.ZONEGATE_WATCH_CONFIG ?? '').toLowerCase();
  if (watchConfig !== '' && watchConfig !== 'true' && watchConfig !== 'false') problem('ZONEGATE_WATCH_CONFIG', `expected true or false, got "${env.ZONEGATE_WATCH_CONFIG}"`);

  if (problems.length) throw new ConfigError(problems);
  return Object.freeze({
    port: port!,
    host: env.HOST || undefined,
    tenantHostPattern,
    tenantPathPattern,
    tenantMetadataPath,
    trustedProxies: trusted as TrustedProxies,
    destinations: Object.freeze(destinations),
    storage,
    records,
    xsuaa,
    uaaDomain,
    uaaUrl: typeof uaaUrl === 'object' ? Object.freeze({ protocol: uaaUrl.protocol, port: uaaUrl.port }) : undefined,
    providerSubdomain,
    secretKey,
    adminSecret,
    dataDir,
    sessionTimeoutMinutes,
    sessionKeys,
    sessionMaxLifetimeMinutes: sessionMaxLifetimeMinutes!,
    tokenRefreshAheadSeconds: tokenRefreshAheadSeconds!,
    zonesRefreshTokenReuseSeconds: zonesRefreshTokenReuseSeconds!,
    provisioning: Object.freeze(provisioning),
    logLevel,
    logFormat,
    logRequests: logRequests === 'on',
    shutdownTimeoutMs: shutdownTimeoutMs!,
    clients: Object.freeze(clients),
    forwardAuth: forwardAuth === 'on',
    sessionCookieDomains,
    metrics: metrics && Object.freeze(metrics),
    watchConfig: watchConfig === 'true',
    tracing,
    events,
  });
}

// RFC 6750 §2.1's b68token: what an Authorization header can carry as it is.
const BEARER_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;
const MIN_METRICS_TOKEN = 16;

function readMetricsSettings(env: Environment, mainPort: number | undefined, problem: (variable: string, message: string) => void): MetricsSettings | undefined {
  let port: number | undefined;
  if (env.METRICS_PORT) {
    port = integer(env.METRICS_PORT, 0, 0, 65535);
    if (port === undefined) problem('METRICS_PORT', `expected a port number 0-65535, got "${env.METRICS_PORT}"`);
    // Both on one port would fail at start with EADDRINUSE; said here, by name, with the rest.
    else if (port !== 0 && port === mainPort) problem('METRICS_PORT', `must differ from PORT (${mainPort}): metrics get a listener of their own`);
  }
  const token = env.METRICS_TOKEN || undefined;
  if (token !== undefined) {
    if (!BEARER_TOKEN.test(token)) problem('METRICS_TOKEN', 'expected a bearer token: letters, digits and -._~+/ (e.g. from `openssl rand -hex 32`)');
    else if (token.length < MIN_METRICS_TOKEN) problem('METRICS_TOKEN', `expected at least ${MIN_METRICS_TOKEN} characters`);
  }
  const host = env.METRICS_HOST || undefined;
  const on = Boolean(env.METRICS_PORT) || token !== undefined;
  if (host !== undefined && !env.METRICS_PORT) problem('METRICS_HOST', 'only used with METRICS_PORT (the metrics listener it binds)');
  const label = (env.METRICS_TENANT_LABEL ?? '').toLowerCase();
  if (label !== '' && label !== 'true' && label !== 'false') problem('METRICS_TENANT_LABEL', `expected true or false, got "${env.METRICS_TENANT_LABEL}"`);
  const tenantLimit = integer(env.METRICS_TENANT_LIMIT, 100, 1, 10_000);
  if (tenantLimit === undefined) problem('METRICS_TENANT_LIMIT', 'expected a whole number of tenants between 1 and 10000');
  if (!on) {
    for (const name of ['METRICS_TENANT_LABEL', 'METRICS_TENANT_LIMIT'] as const) {
      if (env[name]) problem(name, 'only used when metrics are on (METRICS_PORT or METRICS_TOKEN)');
    }
    return undefined;
  }
  return { port, host, token, tenantLabel: label === 'true', tenantLimit: tenantLimit ?? 100 };
}

const MAX_REQUEST_BUFFER_SIZE = 16 * 1024 * 1024;

function readClientLimits(env: Environment, problem: (variable: string, message: string) => void): ClientLimits {
  // 64 KiB holds the JSON and form posts of a typical application whole, and 1,000 clients sending
  // at once hold at most 64 MiB; uploads beyond it stream, bounded by the two timeouts below.
  const requestBufferSize = integer(env.REQUEST_BUFFER_SIZE, 64 * 1024, 0, MAX_REQUEST_BUFFER_SIZE);
  if (requestBufferSize === undefined) problem('REQUEST_BUFFER_SIZE', `expected a number of bytes between 0 and ${MAX_REQUEST_BUFFER_SIZE}`);
  // Node's own default (5 min): enough for a 100 MB upload at ~3 Mbit/s. The gateway had disabled it.
  const requestTimeoutMs = integer(env.REQUEST_TIMEOUT_MS, 300_000, 0, 86_400_000);
  if (requestTimeoutMs === undefined || (requestTimeoutMs > 0 && requestTimeoutMs < 1000)) {
    problem('REQUEST_TIMEOUT_MS', 'expected milliseconds between 1000 and 86400000, or 0 for no limit');
  }
  // nginx's client_body_timeout default.
  const requestBodyTimeoutMs = integer(env.REQUEST_BODY_TIMEOUT_MS, 60_000, 1000, 3_600_000);
  if (requestBodyTimeoutMs === undefined) problem('REQUEST_BODY_TIMEOUT_MS', 'expected milliseconds between 1000 and 3600000');
  const backendQueueTimeoutMs = integer(env.BACKEND_QUEUE_TIMEOUT_MS, 5000, 0, 600_000);
  if (backendQueueTimeoutMs === undefined) problem('BACKEND_QUEUE_TIMEOUT_MS', 'expected milliseconds between 0 and 600000');
  return {
    requestBufferSize: requestBufferSize ?? 0,
    requestTimeoutMs: requestTimeoutMs ?? 0,
    requestBodyTimeoutMs: requestBodyTimeoutMs ?? 0,
    backendQueueTimeoutMs: backendQueueTimeoutMs ?? 0,
  };
}

const MIN_ADMIN_SECRET = 16;
// The local part of a scope (`$XSAPPNAME.<name>`), as xs-security.json scope names are written.
const SCOPE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

function readProvisioningSettings(
  env: Environment,
  problem: (variable: string, message: string, at?: string) => void,
  vcap: Record<string, unknown> | undefined,
): ProvisioningSettings {
  const tenantUrlTemplate = env.TENANT_URL_TEMPLATE || undefined;
  if (tenantUrlTemplate !== undefined) {
    const compiled = compileTenantUrl(undefined, tenantUrlTemplate, { protocol: 'https' }, Boolean(env.TENANT_PATH_PATTERN));
    if (typeof compiled === 'string') problem('TENANT_URL_TEMPLATE', compiled);
  }

  const registryUrl = env.SAAS_REGISTRY_URL || undefined;
  if (registryUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(registryUrl);
    } catch {
      problem('SAAS_REGISTRY_URL', `expected the SaaS registry's base URL, e.g. https://saas-manager.cfapps.eu10.hana.ondemand.com, got "${registryUrl}"`);
    }
    if (url && url.protocol !== 'https:' && url.protocol !== 'http:') problem('SAAS_REGISTRY_URL', `expected an http: or https: URL, got "${url.protocol}"`);
    // The gateway sends a client-credentials token there: credentials in the URL would leak into logs.
    if (url && (url.username || url.password)) problem('SAAS_REGISTRY_URL', 'must not contain user information');
  }

  const clientId = env.SAAS_REGISTRY_CLIENT_ID || undefined;
  const clientSecret = env.SAAS_REGISTRY_CLIENT_SECRET || undefined;
  const tokenUrl = env.SAAS_REGISTRY_TOKEN_URL || undefined;
  if ((clientId === undefined) !== (clientSecret === undefined)) {
    problem(clientId === undefined ? 'SAAS_REGISTRY_CLIENT_ID' : 'SAAS_REGISTRY_CLIENT_SECRET', 'SAAS_REGISTRY_CLIENT_ID and SAAS_REGISTRY_CLIENT_SECRET are set together or not at all');
  }
  if (tokenUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(tokenUrl);
    } catch {
      problem('SAAS_REGISTRY_TOKEN_URL', `expected the base URL of the zone that issues the registry client's tokens, e.g. https://provider.authentication.eu10.hana.ondemand.com, got "${tokenUrl}"`);
    }
    if (url && url.protocol !== 'https:' && url.protocol !== 'http:') problem('SAAS_REGISTRY_TOKEN_URL', `expected an http: or https: URL, got "${url.protocol}"`);
    if (clientId === undefined) problem('SAAS_REGISTRY_TOKEN_URL', 'only used with SAAS_REGISTRY_CLIENT_ID and SAAS_REGISTRY_CLIENT_SECRET');
  }
  if (clientId !== undefined && registryUrl === undefined) problem('SAAS_REGISTRY_CLIENT_ID', 'only used with SAAS_REGISTRY_URL (where the status reports go)');
  let registryClient = clientId !== undefined && clientSecret !== undefined ? Object.freeze({ clientId, clientSecret, tokenUrl }) : undefined;
  let boundRegistryUrl: string | undefined;
  // On Cloud Foundry the application is bound to the `saas-registry` service, whose credentials hold
  // the registry's URL and the one client whose tokens the registry accepts. Used as a whole, and
  // only when no SAAS_REGISTRY_* variable is set: mixing the two would pair a URL with a foreign client.
  const registryBinding = vcap && registryUrl === undefined && clientId === undefined && clientSecret === undefined && tokenUrl === undefined ? saasRegistryBinding(vcap, problem) : undefined;
  if (registryBinding) {
    boundRegistryUrl = registryBinding.registryUrl;
    registryClient = Object.freeze({ clientId: registryBinding.clientId, clientSecret: registryBinding.clientSecret, tokenUrl: registryBinding.tokenUrl });
  }

  const dependencies: { xsappname: string }[] = [];
  if (env.SAAS_DEPENDENCIES) {
    let doc: unknown;
    try {
      doc = JSON.parse(env.SAAS_DEPENDENCIES);
    } catch (err) {
      problem('SAAS_DEPENDENCIES', `not valid JSON: ${(err as Error).message}`);
    }
    if (doc !== undefined && !Array.isArray(doc)) problem('SAAS_DEPENDENCIES', 'expected a JSON array of {"xsappname": "..."}');
    else if (Array.isArray(doc)) {
      doc.forEach((entry: unknown, i) => {
        const name = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>).xsappname : undefined;
        if (typeof name !== 'string' || name.trim() === '') problem('SAAS_DEPENDENCIES', 'expected an object with a non-empty string "xsappname"', `/${i}`);
        else dependencies.push({ xsappname: name });
      });
    }
  }

  const adminRoleCollection = env.TENANT_ADMIN_ROLE_COLLECTION || undefined;
  const callbackScope = env.CALLBACK_SCOPE || 'Callback';
  if (!SCOPE_NAME.test(callbackScope)) {
    problem('CALLBACK_SCOPE', `expected the local name of a scope of xs-security.json (the part after "$XSAPPNAME."), e.g. Callback; got "${callbackScope}"`);
  }
  return {
    tenantUrlTemplate,
    registryUrl: registryUrl ?? boundRegistryUrl,
    registryClient,
    dependencies: Object.freeze(dependencies),
    adminRoleCollection,
    callbackScope,
    callbackScopeExplicit: Boolean(env.CALLBACK_SCOPE),
  };
}
// RFC 1035 §2.3.1 label, lower case: what a zone's subdomain must be.
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** `UAA_URL` is an origin only: the zones answer at its root, and the subdomain goes in front of its host. */
function parseUaaUrl(text: string): { protocol: 'http:' | 'https:'; hostname: string; port: string } | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `expected a URL like https://auth.example.com, got "${text}"`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `expected an http: or https: URL, got "${url.protocol}"`;
  if (url.username || url.password) return 'must not contain user information';
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    return 'expected scheme, host and port only (no path, query or fragment): the zones answer at the root of <subdomain>.<host>';
  }
  return { protocol: url.protocol, hostname: url.hostname.toLowerCase(), port: url.port };
}

/** 32 bytes as 64 hex digits, or base64 / base64url (with or without padding). */
function parseSecretKey(text: string): Uint8Array | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return new Uint8Array(Buffer.from(t, 'hex'));
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(t)) {
    const bytes = Buffer.from(t.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_'), 'base64url');
    if (bytes.length === 32) return new Uint8Array(bytes);
  }
  return undefined;
}

/** File in the data directory holding the generated development key. */
export const GENERATED_KEY_FILE = 'secret.key';

/**
 * The key that seals the client secret and the zones' signing keys: ZONEGATE_SECRET_KEY, or else a key generated on first start
 * and kept in `<dataDir>/secret.key` (0600), with a warning that names the variable each start: an
 * insecure development default, as oidc-provider's default keys are. The file sits next to the
 * storage it protects, so it defends nothing against a copy of the data directory; and instances
 * sharing Redis each generate their own, so the second one cannot open the first one's secret.
 * Called at start-up, not by readSettings: validating a configuration must not write files.
 */
export function resolveSecretKey(settings: Pick<Settings, 'secretKey' | 'dataDir' | 'storage'>, warn: (message: string, fields: Record<string, unknown>) => void): Uint8Array {
  if (settings.secretKey) return settings.secretKey;
  const file = path.join(settings.dataDir, GENERATED_KEY_FILE);
  makePrivateDir(settings.dataDir);
  try {
    // Exclusive create: of two processes starting at once on a fresh directory, one writes and the other reads.
    writePrivateFile(file, `${randomBytes(32).toString('base64url')}\n`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = parseSecretKey(fs.readFileSync(file, 'utf8'));
  if (!key) {
    throw new ConfigError([{ file, path: '', message: 'not a 32-byte key (64 hex digits or base64url); set ZONEGATE_SECRET_KEY or remove the file' }]);
  }
  const mode = fs.statSync(file).mode & 0o777;
  warn('ZONEGATE_SECRET_KEY is not set: using a generated development key. Production must set ZONEGATE_SECRET_KEY (32 random bytes, the same on every instance)', {
    keyFile: file,
    ...(settings.storage.kind === 'redis' ? { problem: 'with REDIS_URL every instance needs the same key; set ZONEGATE_SECRET_KEY' } : {}),
    ...(mode & 0o077 ? { permissions: `${mode.toString(8)}: readable by other users; chmod 600 it` } : {}),
  });
  return key;
}

function integer(text: string | undefined, fallback: number, min: number, max: number): number | undefined {
  if (text === undefined || text === '') return fallback;
  if (!/^\d+$/.test(text.trim())) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

function bindingsOf(vcap: Record<string, unknown>, label: (l: string) => boolean): { index: string; binding: Record<string, unknown> }[] {
  const found: { index: string; binding: Record<string, unknown> }[] = [];
  for (const [name, list] of Object.entries(vcap)) {
    if (!label(name) || !Array.isArray(list)) continue;
    list.forEach((binding, i) => {
      if (typeof binding === 'object' && binding !== null) found.push({ index: `/${name}/${i}`, binding: binding as Record<string, unknown> });
    });
  }
  return found;
}

/** The first `saas-registry` binding: `saas_registry_url`, and the client (`clientid`, `clientsecret`, at `url`) its reports are sent with. */
function saasRegistryBinding(
  vcap: Record<string, unknown>,
  problem: (variable: string, message: string, at?: string) => void,
): { registryUrl: string; clientId: string; clientSecret: string; tokenUrl: string } | undefined {
  const [first] = bindingsOf(vcap, (l) => l === 'saas-registry');
  if (!first) return undefined;
  const credentials = first.binding.credentials as Record<string, unknown> | undefined;
  const required = ['saas_registry_url', 'clientid', 'clientsecret', 'url'] as const;
  const missing = required.filter((k) => typeof credentials?.[k] !== 'string' || credentials[k] === '');
  if (missing.length) {
    problem('VCAP_SERVICES', `the saas-registry binding's credentials lack ${missing.join(', ')}`, `${first.index}/credentials`);
    return undefined;
  }
  const c = credentials as Record<string, string>;
  for (const k of ['saas_registry_url', 'url'] as const) {
    let url: URL | undefined;
    try {
      url = new URL(c[k]!);
    } catch {
      // Reported below.
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      problem('VCAP_SERVICES', `the saas-registry binding's ${k} is not an http(s) URL`, `${first.index}/credentials/${k}`);
      return undefined;
    }
  }
  return { registryUrl: c.saas_registry_url!, clientId: c.clientid!, clientSecret: c.clientsecret!, tokenUrl: c.url! };
}

/** The first `xsuaa` binding's credentials (SAP's approuter takes the one with plan application). */
function xsuaaBinding(vcap: Record<string, unknown>, problem: (message: string, at: string) => void): XsuaaCredentials | undefined {
  const [first] = bindingsOf(vcap, (l) => l === 'xsuaa');
  if (!first) return undefined;
  const credentials = first.binding.credentials as Record<string, unknown> | undefined;
  const required = ['clientid', 'clientsecret', 'url', 'uaadomain', 'xsappname'] as const;
  const missing = required.filter((k) => typeof credentials?.[k] !== 'string' || credentials[k] === '');
  if (missing.length) {
    problem(`the xsuaa binding's credentials lack ${missing.join(', ')}`, `${first.index}/credentials`);
    return undefined;
  }
  const c = credentials as Record<string, string>;
  return {
    clientid: c.clientid!,
    clientsecret: c.clientsecret!,
    url: c.url!,
    uaadomain: c.uaadomain!,
    xsappname: c.xsappname!,
    identityzone: c.identityzone,
    // XSUAA's binding names the provider's zone id both `tenantid` and `zoneid`; older ones only the latter.
    tenantid: c.tenantid ?? c.zoneid,
    tenantmode: c.tenantmode,
  };
}
