import path from 'node:path';
import { GENERATED_KEY_FILE, resolveSecretKey, type Settings, type XsuaaCredentials } from '../config/environment.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { sessionKeysFromSecret, setUpLogin } from '../login/index.js';
import { createForwardAuth } from '../forward-auth/forward-auth.js';
import type { ForwardAuthLogin, LoginFeature } from '../login/contract.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import type { CallbackHandler } from '../provisioning/callbacks.js';
import type { CachedTenantRegistry } from '../provisioning/registry.js';
import type { Provisioning } from '../provisioning/service.js';
import { setUpBoundCallbacks, setUpZoneTenants } from '../provisioning/set-up.js';
import { compileRouteTable, type RouteTable } from '../routing/route-table.js';
import { importEarlierRecords } from '../records/upgrade.js';
import { claimRecordsInstallation, installationIntact, openRecords, RecordsOpenError } from '../records/index.js';
import type { RecordsDatabase } from '../records/types.js';
import { openStorage, StorageOpenError } from '../storage/index.js';
import { exposedDataFiles } from '../storage/private-files.js';
import type { Storage } from '../storage/types.js';
import { DirectoryError } from '../zones/directory/errors.js';
import type { ZoneDirectory } from '../zones/directory/types.js';
import type { IdentityServer } from '../zones/server.js';
import { startZones, type Zones } from '../zones/start.js';
import { bindServer, type BoundServer } from './bind.js';
import type { Configuration } from './configuration.js';
import { createGateway, serverTimeouts, type Gateway } from './gateway.js';
import { createReadiness } from './readiness.js';

export interface RunningGateway {
  gateway: Gateway;
  port: number;
  storage: Storage;
  /** The records database (zones, users, applications, keys, tenants), opened and migrated at start. */
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
  /** The port of the metrics' own listener (METRICS_PORT); undefined when metrics are off or on the main port. */
  metricsPort: number | undefined;
  /** Graceful stop (asynchronous subscriptions report first), then the storage and the records database are closed. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  /** Overrides PORT (tests pass 0). */
  port?: number;
}

/**
 * Starts the gateway from a validated Configuration: opens storage, binds the port, then assembles
 * (the built-in identity zones when no external XSUAA is bound and an xs-security.json was loaded,
 * the login, provisioning, the pipeline) with the port known, and serves. Until it serves, nothing
 * is answered (./bind.ts). Nothing here reads the environment; the caller passed everything in.
 */
export async function startGateway(config: Configuration, options: StartOptions): Promise<RunningGateway> {
  const { settings, routesFile } = config;
  const { logger } = options;
  warnAboutExposedDataDir(settings.dataDir, logger);
  const storage = await openStorage(settings.storage, logger, { checkDurability: true });
  let records: RecordsDatabase;
  try {
    records = await openRecords(settings.records, logger);
  } catch (err) {
    await storage.close();
    throw err;
  }
  let bound: BoundServer | undefined;
  let zones: Zones | undefined;
  const metrics: Metrics | undefined = settings.metrics && createMetrics(settings.metrics, { storage, records });
  try {
    let resolvedKey: Uint8Array | undefined;
    const secretKey = () => (resolvedKey ??= resolveSecretKey(settings, (message, fields) => logger.warn(message, fields)));
    // The built-in zones seal their signing keys and client secrets in the records database with the
    // secret key. Checked before the port is bound: an instance with another key refuses to start.
    const usesZones = !settings.xsuaa && config.security !== undefined;
    const installation = await claimRecordsInstallation(records, settings.records, {
      ...(settings.secretKey || usesZones ? { secretKey: secretKey() } : {}),
      keySource: secretKeySource(settings),
    });
    if (installation.created) logger.info('installation recorded in the records database: the first start against it', { records: settings.records.kind, installation: installation.id });
    // Before the zones create a provider zone or register the application: an upgrade keeps the old ones.
    if (usesZones) await importEarlierRecords(storage, records, { secretKey: secretKey(), logger });
    bound = await bindServer(serverTimeouts(settings), options.port ?? settings.port, settings.host);
    const { port } = bound;
    const metricsPort = await metrics?.listen();
    // A removed zone (src/zones/removal.ts) or an unsubscribed tenant takes its gateway sessions
    // along. This instance forgets at once; the others' registry caches expire within a second, and
    // the relying party re-reads a zone's keys at least every minute (src/login).
    let login: (LoginFeature & ForwardAuthLogin) | undefined;
    let tenants: CachedTenantRegistry | undefined;
    const revokeTenantSessions = async (subdomain: string) => {
      tenants?.forget(subdomain);
      await login?.forgetTenant(subdomain);
    };

    zones = !settings.xsuaa && config.security
      ? await startZones({ settings, storage, records, security: config.security, logger, port, secretKey: secretKey(), revokeTenantSessions, metrics: metrics?.zones })
      : undefined;
    const credentials = zones?.registration?.credentials ?? settings.xsuaa;
    const routes = compileRouteTable(routesFile, {
      destinations: new Map(settings.destinations.map((d) => [d.name, d])),
      baseDir: path.dirname(config.routesPath),
      // SAP's approuter expands $XSAPPNAME in route scopes with the binding's xsappname: the instance name.
      xsappname: credentials?.xsappname,
    });
    // Session keys: SESSION_KEYS, or derived from the secret key (generated with a warning by name
    // when unset). The idle timeout: SESSION_TIMEOUT, else routes.json `sessionTimeout`, else 15
    // minutes (SAP's default). Without credentials protected routes answer 401.
    login = credentials && setUpLogin({
      credentials,
      storage,
      routesFile,
      sessionKeys: settings.sessionKeys ?? sessionKeysFromSecret(secretKey()),
      sessionTimeoutMinutes: settings.sessionTimeoutMinutes ?? routesFile.sessionTimeout ?? 15,
      absoluteLifetimeMs: settings.sessionMaxLifetimeMinutes * 60_000,
      refreshAheadMs: settings.tokenRefreshAheadSeconds * 1000,
      cookieDomains: settings.sessionCookieDomains,
      logger,
      metrics: metrics?.login,
      security: config.security,
    });
    if (settings.forwardAuth && !login) logger.warn('FORWARD_AUTH is on, but no identity provider is configured: /_zonegate/auth is not served');
    const zoneTenants = zones && setUpZoneTenants({ settings, storage, records, zones, logger, port, revokeTenantSessions });
    tenants = zoneTenants?.tenants;
    const callbacks: CallbackHandler | undefined = settings.xsuaa
      ? setUpBoundCallbacks({ settings, xsuaa: settings.xsuaa, storage, records, logger, port, revokeTenantSessions })
      : zoneTenants?.callbacks;

    const gateway = createGateway({
      settings,
      routesFile,
      routes,
      logger,
      storage,
      server: bound.server,
      readiness: createReadiness({ storage, records: () => installationIntact(records, installation), logger }),
      errorPages: config.errorPages,
      identity: zones && { uaaDomain: settings.uaaDomain, handle: zones.server.handle },
      login,
      forwardAuth: settings.forwardAuth && login ? createForwardAuth({ routes, trustedProxies: settings.trustedProxies, login }) : undefined,
      tenants,
      callbacks,
      metrics: metrics?.requests,
    });
    bound.serve();
    const identity = zones?.server;
    return {
      gateway,
      port,
      storage,
      records,
      routes,
      credentials,
      directory: zones?.directory,
      identity,
      provisioning: zoneTenants?.provisioning,
      metricsPort,
      async stop() {
        // Reports first, while this process still serves the zones' token endpoint they need; then
        // what arrived meanwhile. A report that still fails is logged with all it takes to repeat it.
        if (callbacks) await settledWithin(callbacks, settings.shutdownTimeoutMs, logger);
        await gateway.shutdown();
        await metrics?.close();
        await callbacks?.settled();
        await identity?.close();
        await storage.close();
        await records.close();
      },
    };
  } catch (err) {
    await metrics?.close();
    await bound?.close();
    await zones?.server.close();
    await storage.close();
    await records.close();
    throw err;
  }
}

/** What the operator calls the secret key in use: the variable, or the generated development key's file. */
export function secretKeySource(settings: Pick<Settings, 'secretKey' | 'dataDir'>): string {
  return settings.secretKey ? 'ZONEGATE_SECRET_KEY' : `the development key in ${path.join(settings.dataDir, GENERATED_KEY_FILE)} (ZONEGATE_SECRET_KEY is not set)`;
}

/**
 * The secret key the built-in zones seal with, checked against the records database's installation
 * row (src/records/installation.ts) before anything is sealed or opened: for `zones start` and the
 * one-shot commands (`zones`, `keys rotate`, `tenants`), which would otherwise write keys sealed with
 * the wrong one. Rejects with a RecordsOpenError naming the variable. Then, as at the gateway's
 * start, an earlier release's records still in the store are copied over before anything is made.
 */
export async function checkedSecretKey(settings: Settings, storage: Storage, records: RecordsDatabase, logger: Logger): Promise<Uint8Array> {
  const secretKey = resolveSecretKey(settings, (message, fields) => logger.warn(message, fields));
  await claimRecordsInstallation(records, settings.records, { secretKey, keySource: secretKeySource(settings) });
  await importEarlierRecords(storage, records, { secretKey, logger });
  return secretKey;
}

async function settledWithin(callbacks: CallbackHandler, ms: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), ms)));
  const late = await Promise.race([callbacks.settled().then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) logger.warn('asynchronous subscriptions still running at shutdown; stopping anyway', { waitedMs: ms });
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
  if (err instanceof DirectoryError || err instanceof StorageOpenError || err instanceof RecordsOpenError) return `zonegate: ${err.message}`;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return `The port is already in use (${e.message}). Set PORT to another port.`;
  // A file the start-up writes besides the store (the generated secret key, `zones start`'s
  // credentials): Node's message names the call, the path and the cause; the stack adds nothing.
  if (typeof e.syscall === 'string' && typeof e.path === 'string') return `zonegate: ${e.message}`;
  return e.stack ?? String(err);
}
