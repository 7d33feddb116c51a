import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { resolveSecretKey, type Settings, type XsuaaCredentials } from '../config/environment.js';
import type { XsSecurity } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { compileRouteTable, type RouteTable } from '../routing/route-table.js';
import { openStorage, StorageOpenError } from '../storage/index.js';
import { exposedDataFiles } from '../storage/private-files.js';
import { migrate } from '../records/migrate.js';
import { openSqliteRecords } from '../records/sqlite.js';
import type { RecordsDatabase } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import { createZoneDirectory } from '../zones/directory/directory.js';
import { DirectoryError } from '../zones/directory/errors.js';
import type { Application, Zone, ZoneDirectory } from '../zones/directory/types.js';
import { credentialsFor } from '../zones/oauth/credentials.js';
import { createIdentityServer, type IdentityServer } from '../zones/server.js';
import { INVITATION_PATH } from '../zones/invitations.js';
import type { Configuration } from './configuration.js';
import type { LoginFeature } from '../login/contract.js';
import { sessionKeysFromSecret, setUpLogin } from '../login/index.js';
import type { RoutesFile } from '../config/types.js';
import { createGateway, type Gateway } from './gateway.js';
import { createReadiness } from './readiness.js';
import { claimStoreMarker } from '../storage/store-marker.js';
import { localhostAwareFetch } from '../net/localhost.js';
import { createCallbackHandler, type CallbackHandler } from '../provisioning/callbacks.js';
import { createClientTokenGetter } from '../provisioning/client-token.js';
import { createTenantRegistry, type CachedTenantRegistry } from '../provisioning/registry.js';
import { createProvisioning, defaultAdminRoleCollection, type Provisioning } from '../provisioning/service.js';
import { compileTenantUrl, type TenantUrlFor } from '../provisioning/tenant-url.js';
import { createProviderTokenVerifier } from '../provisioning/token.js';
import { createBoundSubscriptions } from '../provisioning/bound.js';
import type { ConfigProblem } from '../errors.js';

/** What the login feature is built from once the identity provider is known. */
export interface LoginWiring {
  settings: Settings;
  storage: Storage;
  routes: RouteTable;
  /**
   * The application client's credentials, shaped like an `xsuaa` binding. A function because the
   * built-in zones' URL carries the port actually listened on (port 0 in tests); valid from the
   * first request on.
   */
  credentials(): XsuaaCredentials;
  /** The installation's secret key (ZONEGATE_SECRET_KEY, or the generated development key). */
  secretKey(): Uint8Array;
  logger: Logger;
}

export interface RunningGateway {
  gateway: Gateway;
  port: number;
  storage: Storage;
  /** The records database (zones, users, applications), opened and migrated at start. */
  records: RecordsDatabase;
  /** The route table as served, `$XSAPPNAME` expanded to the application's instance name. */
  routes: RouteTable;
  /**
   * The credentials the login uses: from the `xsuaa` binding, or of the application registered in
   * the built-in zones; undefined when neither is there (then only routes without login work).
   */
  credentials: XsuaaCredentials | undefined;
  /** The built-in zones' directory and server; undefined when an external XSUAA is bound (or no xs-security.json). */
  directory: ZoneDirectory | undefined;
  identity: IdentityServer | undefined;
  /**
   * Tenant provisioning (issue 5) over the built-in zones: what the subscription callbacks and
   * `zonegate tenants` use. Undefined when it is unavailable (the log says why at start-up).
   */
  provisioning: Provisioning | undefined;
  /** Graceful stop (asynchronous subscriptions report first), then the storage and the records database are closed. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  port?: number;
  /** Builds the login feature when there are credentials (binding or built-in zones); without it protected routes answer 401. */
  createLogin?: (wiring: LoginWiring) => LoginFeature;
}

/**
 * Starts the gateway from a validated Configuration: opens storage and the records database, runs
 * the built-in identity zones when no external XSUAA is bound and an xs-security.json was loaded,
 * assembles the pipeline and listens. Nothing here reads the environment; the caller passed
 * everything in.
 */
export async function startGateway(config: Configuration, options: StartOptions): Promise<RunningGateway> {
  const { settings, routesFile } = config;
  const { logger } = options;
  warnAboutExposedDataDir(settings.dataDir, logger);
  const storage = await openStorage(settings.storage, logger, { checkDurability: true });
  let records: RecordsDatabase;
  try {
    records = await openRecordsForNow(settings);
  } catch (err) {
    await storage.close();
    throw err;
  }
  let resolvedKey: Uint8Array | undefined;
  const secret = () => (resolvedKey ??= resolveSecretKey(settings, (message, fields) => logger.warn(message, fields)));
  let port = 0;
  let gateway: Gateway | undefined;
  let zones: Zones | undefined;
  // A zone an administrator removes takes its tenant's gateway sessions along (src/zones/removal.ts);
  // the zones start before the login and tenant registry that hold them, so this is bound below.
  let revokeTenantSessions: ((subdomain: string) => Promise<void>) | undefined;
  try {
    // Before the application is registered: a store that has the marker has the registration too,
    // and one that loses the marker has lost it (src/storage/store-marker.ts).
    const marker = await claimStoreMarker(storage);
    if (marker.created) {
      // Expected on the very first start. A Redis lives apart from the instances and can come back
      // empty while they are all down (a restart without persistence): then this line is the only
      // trace of the loss, so it is a warning there.
      const message = 'store initialised: it was empty. Expected on the first start; if it held zones, users and tenants before, they are lost: restore it from a backup';
      if (storage.kind === 'redis') logger.warn(message, { storage: storage.kind });
      else logger.info(message, { storage: storage.kind });
    }
    zones =
      !settings.xsuaa && config.security
        ? await startZones({
            settings,
            storage,
            records,
            security: config.security,
            logger,
            port: () => port,
            secretKey: secret(),
            revokeTenantSessions: async (subdomain) => revokeTenantSessions?.(subdomain),
          })
        : undefined;
    const registration = zones?.registration;
    const routes = compileRouteTable(routesFile, {
      destinations: new Map(settings.destinations.map((d) => [d.name, d])),
      baseDir: path.dirname(config.routesPath),
      // SAP's approuter expands $XSAPPNAME in route scopes with the binding's xsappname: the instance name.
      xsappname: registration?.application.instanceName ?? settings.xsuaa?.xsappname,
    });
    const credentials = (): XsuaaCredentials | undefined => registration?.credentials() ?? settings.xsuaa;
    const createLogin = options.createLogin ?? defaultLogin(routesFile);
    const login =
      registration || settings.xsuaa ? createLogin({ settings, storage, routes, logger, credentials: () => credentials()!, secretKey: secret }) : undefined;
    const tenancy = zones ? wireProvisioning({ settings, storage, zones, logger, port: () => port, login }) : undefined;
    revokeTenantSessions = async (subdomain) => {
      tenancy?.tenants.forget(subdomain);
      await login?.forgetTenant(subdomain);
    };
    const boundCallbacks = settings.xsuaa && login ? wireBoundCallbacks({ settings, xsuaa: settings.xsuaa, storage, logger, port: () => port, login }) : undefined;
    gateway = createGateway({
      settings,
      routesFile,
      routes,
      logger,
      storage,
      readiness: createReadiness({ storage, marker, logger }),
      errorPages: config.errorPages,
      ...(zones ? { identity: { uaaDomain: settings.uaaDomain, handle: zones.server.handle } } : {}),
      ...(login ? { login } : {}),
      ...(tenancy ? { tenants: tenancy.tenants } : {}),
      ...(tenancy?.callbacks ? { callbacks: tenancy.callbacks } : {}),
      ...(boundCallbacks ? { callbacks: boundCallbacks } : {}),
    });
    port = await gateway.listen(options.port ?? settings.port, settings.host);
    const running = gateway;
    const identity = zones?.server;
    const callbacks = tenancy?.callbacks ?? boundCallbacks;
    return {
      gateway: running,
      port,
      storage,
      records,
      routes,
      credentials: credentials(),
      directory: zones?.directory,
      identity,
      provisioning: tenancy?.provisioning,
      async stop() {
        // Reports first, while this process still serves the zones' token endpoint they need; then
        // what arrived meanwhile. A report that still fails is logged with all it takes to repeat it.
        if (callbacks) await settledWithin(callbacks, settings.shutdownTimeoutMs, logger);
        await running.shutdown();
        await callbacks?.settled();
        await identity?.close();
        await storage.close();
        await records.close();
      },
    };
  } catch (err) {
    if (gateway?.server.listening) await gateway.shutdown();
    await zones?.server.close();
    await storage.close();
    await records.close();
    throw err;
  }
}

async function settledWithin(callbacks: CallbackHandler, ms: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)));
  const late = await Promise.race([callbacks.settled().then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) logger.warn('asynchronous subscriptions still running at shutdown; stopping anyway', { waitedMs: ms });
}

/**
 * The gateway's side of provisioning: the service, the registry of subscribed tenants (a host of an
 * unsubscribed tenant answers 404) and the SaaS registry's callbacks. Undefined when the built-in
 * zones have no application tenants can subscribe to (the reason is logged).
 */
function wireProvisioning(input: {
  settings: Settings;
  storage: Storage;
  zones: Zones;
  logger: Logger;
  port: () => number;
  login: LoginFeature | undefined;
}): { provisioning: Provisioning; tenants: CachedTenantRegistry; callbacks: CallbackHandler | undefined } | undefined {
  const { settings, zones, logger } = input;
  let tenants: CachedTenantRegistry | undefined;
  const set = setUpProvisioning({
    settings,
    storage: input.storage,
    zones,
    logger,
    port: input.port,
    // This instance forgets at once; the others' registry caches expire within a second, and the
    // relying party re-reads a zone's keys at least every minute (src/login).
    revokeTenantSessions: async (subdomain) => {
      tenants?.forget(subdomain);
      await input.login?.forgetTenant(subdomain);
    },
  });
  if (typeof set === 'string') {
    logger.info('subscription callbacks not mounted', { reason: set });
    return undefined;
  }
  const { provisioning } = set;
  const { application } = provisioning;
  tenants = createTenantRegistry({ directory: zones.directory, application });

  const scope = `${application.instanceName}.${settings.provisioning.callbackScope}`;
  if (!application.scopes.includes(scope)) {
    // Only a scope of xs-security.json can be granted to the registry (grant-as-authority-to-apps).
    logger.warn('subscription callbacks not mounted: xs-security.json declares no callback scope; set CALLBACK_SCOPE or add the scope', {
      scope: `$XSAPPNAME.${settings.provisioning.callbackScope}`,
    });
    return { provisioning, tenants, callbacks: undefined };
  }
  let verify: ReturnType<typeof createProviderTokenVerifier> | undefined;
  const { registryUrl } = settings.provisioning;
  const callbacks = createCallbackHandler({
    provisioning,
    // Built on first use: the provider zone's URL carries the port listened on.
    verifyToken: (token) =>
      (verify ??= createProviderTokenVerifier({
        providerZoneId: zones.provider.id,
        tokenKeysUrl: `${zones.publicUrlFor(zones.provider.subdomain)}/token_keys`,
        fetch: localhostAwareFetch,
      }))(token),
    scopeName: settings.provisioning.callbackScope,
    dependencies: settings.provisioning.dependencies,
    logger,
    ...statusReports(settings, () => zones.registration!.credentials()),
  });
  logger.info('subscription callbacks mounted', { path: '/callback/v1.0/', scope, asynchronous: registryUrl !== undefined });
  return { provisioning, tenants, callbacks };
}

/**
 * Where asynchronous subscriptions report (SAAS_REGISTRY_URL) and the client whose token they carry:
 * the registry's own client when configured (SAAS_REGISTRY_CLIENT_*; in BTP the `saas-registry`
 * binding's, the only one the registry accepts), else the application's. Nothing without a URL.
 */
function statusReports(settings: Settings, application: () => XsuaaCredentials): { registryUrl: string; getClientToken: () => Promise<string> } | Record<string, never> {
  const { registryUrl, registryClient } = settings.provisioning;
  if (registryUrl === undefined) return {};
  return {
    registryUrl,
    getClientToken: createClientTokenGetter(() => {
      if (registryClient) {
        return { url: registryClient.tokenUrl ?? application().url, clientId: registryClient.clientId, clientSecret: registryClient.clientSecret, fetch: localhostAwareFetch };
      }
      const c = application();
      return { url: c.url, clientId: c.clientid, clientSecret: c.clientsecret, fetch: localhostAwareFetch };
    }),
  };
}

/**
 * The callbacks when an external XSUAA is bound (issue 12): XSUAA creates the subscriber's zone
 * itself, so a subscription only remembers the tenant and answers its URL (src/provisioning/bound.ts).
 * The caller's token is checked as @sap/xssec checks it against the binding: signed with a key of
 * the binding's `url` + `/token_keys`, issued in the binding's zone (`tenantid`), its audience the
 * binding's client or xsappname, and carrying `<xsappname>.<CALLBACK_SCOPE>` (the registry gets it as
 * an authority through grant-as-authority-to-apps). Undefined, with the reason logged, when the
 * gateway has no tenant hosts or the binding names no zone id.
 */
function wireBoundCallbacks(input: {
  settings: Settings;
  xsuaa: XsuaaCredentials;
  storage: Storage;
  logger: Logger;
  port: () => number;
  login: LoginFeature;
}): CallbackHandler | undefined {
  const { settings, xsuaa, logger, login } = input;
  if (settings.tenantHostPattern === undefined && settings.provisioning.tenantUrlTemplate === undefined) {
    logger.info('subscription callbacks not mounted', { reason: 'no TENANT_HOST_PATTERN: the gateway serves a single tenant' });
    return undefined;
  }
  if (xsuaa.tenantid === undefined) {
    // Without it any zone of the landscape (XSUAA signs them all with the same keys) could call.
    logger.warn('subscription callbacks not mounted: the xsuaa binding has no tenantid (the provider zone id), so the registry\'s tokens cannot be told from other zones\'');
    return undefined;
  }
  // As setUpProvisioning does: a template that does not fit the host pattern stops the start, not the first subscriber.
  const probe = compileTenantUrl(settings.tenantHostPattern, settings.provisioning.tenantUrlTemplate, { protocol: 'http' });
  if (typeof probe === 'string') throw new ConfigError([{ file: 'environment variable TENANT_URL_TEMPLATE', path: '', message: probe }]);
  const scopeName = settings.provisioning.callbackScope;
  const provisioning = createBoundSubscriptions({
    storage: input.storage,
    application: { xsappname: xsuaa.xsappname, instanceName: xsuaa.xsappname, providerZoneId: xsuaa.tenantid },
    tenantUrlFor: tenantUrls(settings, input.port),
    revokeTenantSessions: (subdomain) => login.forgetTenant(subdomain),
    logger,
  });
  const verify = createProviderTokenVerifier({
    providerZoneId: xsuaa.tenantid,
    tokenKeysUrl: `${xsuaa.url.replace(/\/+$/, '')}/token_keys`,
    fetch: localhostAwareFetch,
    audience: { clientId: xsuaa.clientid, xsappname: xsuaa.xsappname },
  });
  const callbacks = createCallbackHandler({
    provisioning,
    verifyToken: verify,
    scopeName,
    dependencies: settings.provisioning.dependencies,
    logger,
    ...statusReports(settings, () => xsuaa),
  });
  logger.info('subscription callbacks mounted', {
    path: '/callback/v1.0/',
    scope: `${xsuaa.xsappname}.${scopeName}`,
    identity: 'xsuaa binding',
    asynchronous: settings.provisioning.registryUrl !== undefined,
  });
  return callbacks;
}

/**
 * Tenant provisioning over the built-in zones (issue 5), shared by the gateway and `zonegate tenants`;
 * or, as a string, why there is none (no shared application, no tenant hosts). A setting that names
 * something xs-security.json lacks is a ConfigError, every such problem at once.
 */
export function setUpProvisioning(input: {
  settings: Settings;
  storage: Storage;
  zones: Zones;
  logger: Logger;
  /** The port the gateway listens on, for tenant URLs without TENANT_URL_TEMPLATE. */
  port: () => number;
  revokeTenantSessions: (subdomain: string) => Promise<void>;
}): { provisioning: Provisioning } | string {
  const { settings, zones } = input;
  const configured = settings.provisioning;
  const registration = zones.registration;
  if (!registration) return 'no xs-security.json: no application for tenants to subscribe to';
  const { application } = registration;
  if (application.tenantMode !== 'shared') return `${application.xsappname} has tenant-mode "${application.tenantMode}"; only a "shared" application has tenants`;
  const problems: ConfigProblem[] = [];
  const problem = (variable: string, message: string) => problems.push({ file: `environment variable ${variable}`, path: '', message });

  const adminRoleCollection = configured.adminRoleCollection ?? defaultAdminRoleCollection(application);
  if (configured.adminRoleCollection !== undefined && !application.roleCollections.some((c) => c.name === adminRoleCollection)) {
    problem(
      'TENANT_ADMIN_ROLE_COLLECTION',
      `"${adminRoleCollection}" is not a role collection of ${application.xsappname}; xs-security.json declares ${application.roleCollections.map((c) => `"${c.name}"`).join(', ') || 'none'}`,
    );
  }
  if (configured.callbackScopeExplicit && !application.scopes.includes(`${application.instanceName}.${configured.callbackScope}`)) {
    problem('CALLBACK_SCOPE', `xs-security.json of ${application.xsappname} declares no scope "$XSAPPNAME.${configured.callbackScope}"`);
  }
  if (settings.tenantHostPattern === undefined && configured.tenantUrlTemplate === undefined) {
    if (problems.length) throw new ConfigError(problems);
    return 'no TENANT_HOST_PATTERN: the gateway serves a single tenant';
  }
  const probe = compileTenantUrl(settings.tenantHostPattern, configured.tenantUrlTemplate, { protocol: 'http' });
  if (typeof probe === 'string') problem('TENANT_URL_TEMPLATE', probe);
  if (problems.length) throw new ConfigError(problems);
  if (adminRoleCollection === undefined) return `xs-security.json of ${application.xsappname} declares no role collection to give a subscribing administrator`;

  const provisioning = createProvisioning({
    directory: zones.directory,
    storage: input.storage,
    application,
    adminRoleCollection,
    tenantUrlFor: tenantUrls(settings, input.port),
    revokeTenantSessions: input.revokeTenantSessions,
    deleteZoneKeys: (zoneId) => zones.server.keys.deleteKeys(zoneId),
    // On the tenant zone's own host: the page refuses a link of another zone.
    invite: async ({ zoneId, subdomain, userId, returnUrl }) => {
      const { reference, expiresAt } = await zones.server.invitations.issue({ zoneId, userId, returnUrl });
      return { url: `${zones.publicUrlFor(subdomain)}${INVITATION_PATH}?code=${reference}`, expiresAt: new Date(expiresAt).toISOString() };
    },
    logger: input.logger,
  });
  return { provisioning };
}

/**
 * The tenant's URL: TENANT_URL_TEMPLATE in production (behind TLS and a load balancer the gateway
 * cannot know its public scheme and port); by default plain http on the port listened on, which is
 * what a developer's browser reaches. Compiled again only when the port changes (port 0 in tests).
 */
function tenantUrls(settings: Settings, port: () => number): TenantUrlFor {
  let compiled: { port: number; urlFor: TenantUrlFor } | undefined;
  return (subdomain) => {
    const p = port();
    if (compiled?.port !== p) {
      const urlFor = compileTenantUrl(settings.tenantHostPattern, settings.provisioning.tenantUrlTemplate, { protocol: 'http', ...(p > 0 ? { port: p } : {}) });
      // Checked by setUpProvisioning before anything listens.
      if (typeof urlFor === 'string') throw new Error(urlFor);
      compiled = { port: p, urlFor };
    }
    return compiled.urlFor(subdomain);
  };
}

/**
 * The login against the binding's XSUAA or the built-in zones. Session keys: SESSION_KEYS, or derived
 * from the secret key (generated with a warning by name when unset). The idle timeout:
 * SESSION_TIMEOUT, else routes.json `sessionTimeout`, else 15 minutes (SAP's default).
 */
function defaultLogin(routesFile: RoutesFile): (wiring: LoginWiring) => LoginFeature {
  return ({ settings, storage, logger, credentials, secretKey }) =>
    setUpLogin({
      credentials,
      storage,
      routesFile,
      sessionKeys: settings.sessionKeys ?? sessionKeysFromSecret(secretKey()),
      sessionTimeoutMinutes: settings.sessionTimeoutMinutes ?? routesFile.sessionTimeout ?? 15,
      absoluteLifetimeMs: settings.sessionMaxLifetimeMinutes * 60_000,
      refreshAheadMs: settings.tokenRefreshAheadSeconds * 1000,
      logger,
    });
}

/** The built-in identity zones, and the application registered in the provider's zone (when there is an xs-security.json). */
export interface Zones {
  directory: ZoneDirectory;
  server: IdentityServer;
  provider: Zone;
  publicUrlFor(subdomain?: string): string;
  registration: { application: Application; credentials(): XsuaaCredentials } | undefined;
}

/**
 * The base URL of a zone: `UAA_URL`'s scheme and port on `<subdomain>.<uaaDomain>`, by default
 * `http://<subdomain>.<uaaDomain>:<port listened on>`. `port` is read on each call: a server bound
 * to port 0 knows its port only once it listens.
 */
export function zonesPublicUrl(settings: Pick<Settings, 'uaaDomain' | 'uaaUrl'>, port: () => number): (subdomain?: string) => string {
  return (subdomain) => {
    const host = subdomain ? `${subdomain}.${settings.uaaDomain}` : settings.uaaDomain;
    if (settings.uaaUrl) return `${settings.uaaUrl.protocol}//${host}${settings.uaaUrl.port ? `:${settings.uaaUrl.port}` : ''}`;
    const p = port();
    return `http://${host}${p === 80 ? '' : `:${p}`}`;
  };
}

/**
 * Opens the zone directory with the secret key, makes sure the provider's zone exists, registers the
 * application of xs-security.json there (a restart keeps `!t<N>` and the client secret) and creates
 * the identity server. Shared by the gateway and `zonegate zones start`.
 */
export async function startZones(input: {
  settings: Settings;
  storage: Storage;
  records: RecordsDatabase;
  security: XsSecurity | undefined;
  logger: Logger;
  port: () => number;
  /** The secret key when the caller already resolved it (resolving warns, once is enough). */
  secretKey?: Uint8Array;
  /** Ends the gateway sessions of a removed zone's tenant (the gateway's login); absent without a gateway. */
  revokeTenantSessions?: (subdomain: string) => Promise<void>;
}): Promise<Zones> {
  const { settings, storage, logger } = input;
  const secretKey = input.secretKey ?? resolveSecretKey(settings, (message, fields) => logger.warn(message, fields));
  const directory = createZoneDirectory(input.records, { secretKey });
  const provider = await ensureZone(directory, settings.providerSubdomain);
  const publicUrlFor = zonesPublicUrl(settings, input.port);
  let registration: Zones['registration'];
  if (input.security) {
    let registered;
    try {
      registered = await directory.registerApplication(input.security, provider.id);
    } catch (err) {
      if (err instanceof DirectoryError && err.code === 'SECRET_KEY_MISMATCH') {
        throw new ConfigError([
          {
            file: 'environment variable ZONEGATE_SECRET_KEY',
            path: '',
            message: `${err.message}. Start with the key the application was registered with (or, in development, remove ${settings.dataDir} to start afresh)`,
          },
        ]);
      }
      throw err;
    }
    const { application, clientSecret } = registered;
    registration = {
      application,
      credentials: () => credentialsFor({ application, clientSecret, zone: provider, uaaDomain: settings.uaaDomain, publicUrlFor }),
    };
    logger.info('application registered in the built-in zones', { xsappname: application.instanceName, clientid: application.clientId, zone: provider.subdomain });
  }
  const server = await createIdentityServer({
    storage,
    directory,
    uaaDomain: settings.uaaDomain,
    publicUrlFor,
    logger,
    secretKey,
    ...(input.revokeTenantSessions !== undefined ? { revokeTenantSessions: input.revokeTenantSessions } : {}),
    ...(settings.adminSecret !== undefined ? { bootstrapSecret: settings.adminSecret } : {}),
    zonesAdminZoneId: provider.id,
    refreshTokenReuseSeconds: settings.zonesRefreshTokenReuseSeconds,
    // The same TRUSTED_PROXIES as the gateway's: only those peers may say which address the client
    // has, else a client could pick the address its failed logins are throttled under.
    trustedProxies: settings.trustedProxies,
  });
  return { directory, server, provider, publicUrlFor, registration };
}

/**
 * The records database until its configuration exists (issue 19): the SQLite file `records.db` beside
 * the SQLite store (in the data directory when the store is Redis), migrated to this build's schema.
 * Used by the gateway and the CLI's commands alike.
 */
export async function openRecordsForNow(settings: Pick<Settings, 'storage' | 'dataDir'>): Promise<RecordsDatabase> {
  const dir = settings.storage.kind === 'sqlite' ? path.dirname(settings.storage.file) : settings.dataDir;
  const records = openSqliteRecords({ file: path.join(dir, 'records.db') });
  try {
    await migrate(records);
  } catch (err) {
    await records.close();
    throw err;
  }
  return records;
}

/** The zone with this subdomain, created if missing; another instance creating it at the same moment is fine. */
export async function ensureZone(directory: ZoneDirectory, subdomain: string, name?: string): Promise<Zone> {
  const existing = await directory.getZoneBySubdomain(subdomain);
  if (existing) return existing;
  try {
    return await directory.createZone({ subdomain, ...(name ? { name } : {}) });
  } catch (err) {
    if (!(err instanceof DirectoryError && (err.code === 'ZONE_SUBDOMAIN_TAKEN' || err.code === 'ZONE_EXISTS'))) throw err;
    const raced = await directory.getZoneBySubdomain(subdomain);
    if (!raced) throw err;
    return raced;
  }
}

/** Listens on a plain HTTP server with only the identity zones (`zonegate zones start`). */
export async function listenZones(handle: http.RequestListener, settings: Pick<Settings, 'host'>, port: number): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer({ keepAliveTimeout: 65_000, headersTimeout: 66_000 }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * Names every part of the data directory that other users can read (made by a version before it was
 * created 0700/0600, or by hand): it holds the store, the generated secret key and the credentials.
 * A warning, not a refusal: the operator may have shared it on purpose, and must be told, not overruled.
 * Checked before the storage opens, so what is reported is what was found.
 */
export function warnAboutExposedDataDir(dataDir: string, logger: Logger): void {
  for (const exposed of exposedDataFiles(dataDir)) {
    logger.warn('data directory readable by other users: it holds the store, the secret key and credentials', { ...exposed });
  }
}

/** Prints a ConfigError the way an operator reads it: every problem, one per line. */
export function describeStartupError(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  if (err instanceof DirectoryError || err instanceof StorageOpenError) return `zonegate: ${err.message}`;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return `The port is already in use (${e.message}). Set PORT to another port.`;
  // A file the start-up writes besides the store (the generated secret key, `zones start`'s
  // credentials): Node's message names the call, the path and the cause; the stack adds nothing.
  if (typeof e.syscall === 'string' && typeof e.path === 'string') return `zonegate: ${e.message}`;
  return e.stack ?? String(err);
}
