import path from 'node:path';
import { GENERATED_KEY_FILE, resolveSecretKey, type Settings, type XsuaaCredentials } from '../config/environment.js';
import { ConfigError, formatProblem } from '../errors.js';
import type { Logger } from '../log.js';
import { sessionKeysFromSecret, setUpLogin } from '../login/index.js';
import { createForwardAuth } from '../forward-auth/forward-auth.js';
import type { ForwardAuthLogin, LoginFeature } from '../login/contract.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import type { CallbackHandler } from '../provisioning/callbacks.js';
import type { CachedTenantRegistry } from '../provisioning/registry.js';
import type { Provisioning } from '../provisioning/service.js';
import { setUpBoundCallbacks, setUpZoneTenants } from '../provisioning/set-up.js';
import { createGatewayRelay, setUpPlatform } from '../platform/set-up.js';
import { compileRouteTable, type RouteTable } from '../routing/route-table.js';
import type { Destination, RoutesFile } from '../config/types.js';
import { importEarlierRecords } from '../records/upgrade.js';
import { claimRecordsInstallation, installationIntact, openRecords, RecordsOpenError } from '../records/index.js';
import type { RecordsDatabase } from '../records/types.js';
import { openStorage, StorageOpenError } from '../storage/index.js';
import { exposedDataFiles } from '../storage/private-files.js';
import { packageVersion } from '../cli/version.js';
import { startTracing } from '../tracing/tracing.js';
import { setUpEvents, type EventsFeature } from '../events/feature.js';
import { forgetTenantEvents } from '../events/store.js';
import type { Tracing } from '../tracing/types.js';
import type { Storage } from '../storage/types.js';
import { DirectoryError } from '../zones/directory/errors.js';
import type { ZoneDirectory } from '../zones/directory/types.js';
import type { IdentityServer } from '../zones/server.js';
import { startZones, type Zones } from '../zones/start.js';
import { bindServer, type BoundServer } from './bind.js';
import type { Configuration } from './configuration.js';
import type { Extensions } from './extensions.js';
import { createHtml5Apps } from '../html5-apps/serve.js';
import { createHtml5AppStore } from '../html5-apps/store.js';
import { createTenantConfigurations } from '../tenant/configuration.js';
import { loadTenantConfigurations } from '../tenant/live-configurations.js';
import { createTenantMetadata, zoneUrlOf } from '../tenant/metadata.js';
import { createGateway, serverTimeouts, type Gateway, type ServedConfiguration } from './gateway.js';
import { createReadiness } from './readiness.js';
import { destinationChanges, settingsNeedingRestart, watchConfigurationFiles, type ReloadOutcome } from './reload.js';

export interface RunningGateway {
  gateway: Gateway;
  port: number;
  storage: Storage;
  /** The records database (zones, users, applications, keys, tenants), opened and migrated at start. */
  records: RecordsDatabase;
  /** The route table as served, `$XSAPPNAME` expanded to the application's instance name (the latest reload's). */
  readonly routes: RouteTable;
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
  /**
   * Reads routes.json (its error pages) and default-env.json again, as SIGHUP does: a valid
   * configuration is served from the next request on, an invalid one is refused and the running one
   * keeps serving. Both are logged. Settings other than the destinations need a restart: reported, not applied.
   */
  reload(): Promise<ReloadOutcome>;
}

export interface StartOptions {
  logger: Logger;
  /** Overrides PORT (tests pass 0). */
  port?: number;
  /** Extension middleware at SAP's extension points (src/server/extensions.ts); the library's option. */
  extensions?: Extensions;
  /** Watch the configuration's files and reload on a change; default ZONEGATE_WATCH_CONFIG. */
  watch?: boolean;
  /** A worker of `zonegate start --workers` (./workers.ts): its metrics are served, summed, by the primary. */
  clusterWorker?: boolean;
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
  let tracing: Tracing | undefined;
  let events: EventsFeature | undefined;
  const metrics: Metrics | undefined = settings.metrics && createMetrics(settings.metrics, { storage, records }, { sharedWithPrimary: options.clusterWorker });
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
    if (settings.tracing) tracing = await startTracing(settings.tracing, { logger, version: packageVersion() });
    // A removed zone (src/zones/removal.ts) or an unsubscribed tenant takes its gateway sessions
    // along. This instance forgets at once; the others' registry caches expire within a second, and
    // the relying party re-reads a zone's keys at least every minute (src/login).
    let login: (LoginFeature & ForwardAuthLogin) | undefined;
    let tenants: CachedTenantRegistry | undefined;
    const revokeTenantSessions = async (subdomain: string) => {
      tenants?.forget(subdomain);
      await login?.forgetTenant(subdomain);
      // Its webhooks, event subscriptions, polling tokens and events go too (src/events/store.ts).
      await forgetTenantEvents(records, subdomain);
    };

    const relay = createGatewayRelay({ settings, port, storage, records, secretKey, logger });
    zones = !settings.xsuaa && config.security
      ? await startZones({ settings, storage, records, security: config.security, clients: config.clients, logger, port, secretKey: secretKey(), revokeTenantSessions, metrics: metrics?.zones, relay: relay.zones })
      : undefined;
    const credentials = zones?.registration?.credentials ?? settings.xsuaa;
    const compileRoutes = (from: Configuration, destinations: readonly Destination[]) =>
      compileRouteTable(from.routesFile, {
        destinations: new Map(destinations.map((d) => [d.name, d])),
        baseDir: path.dirname(from.routesPath),
        // SAP's approuter expands $XSAPPNAME in route scopes with the binding's xsappname: the instance name.
        xsappname: credentials?.xsappname,
      });
    // Session keys: SESSION_KEYS, or derived from the secret key (generated with a warning by name
    // when unset). The idle timeout: SESSION_TIMEOUT, else routes.json `sessionTimeout`, else 15
    // minutes (SAP's default). Without credentials protected routes answer 401.
    const loginFor = (from: RoutesFile) =>
      credentials &&
      setUpLogin({
        credentials,
        storage,
        routesFile: from,
        sessionKeys: settings.sessionKeys ?? sessionKeysFromSecret(secretKey()),
        sessionTimeoutMinutes: settings.sessionTimeoutMinutes ?? from.sessionTimeout ?? 15,
        absoluteLifetimeMs: settings.sessionMaxLifetimeMinutes * 60_000,
        refreshAheadMs: settings.tokenRefreshAheadSeconds * 1000,
        cookieDomains: settings.sessionCookieDomains,
        logger,
        metrics: metrics?.login,
        security: config.security,
      });
    let routes = compileRoutes(config, settings.destinations);
    login = loginFor(routesFile);
    if (settings.forwardAuth && !login) logger.warn('FORWARD_AUTH is on, but no identity provider is configured: /_zonegate/auth is not served');
    const zoneTenants = zones && setUpZoneTenants({ settings, storage, records, zones, logger, port, revokeTenantSessions });
    tenants = zoneTenants?.tenants;
    const callbacks: CallbackHandler | undefined = settings.xsuaa
      ? setUpBoundCallbacks({ settings, xsuaa: settings.xsuaa, storage, records, logger, port, revokeTenantSessions })
      : zoneTenants?.callbacks;

    // Webhooks and the event relay (issue 15 part 3); the destinations a webhook forwards to follow reloads.
    if (settings.events) events = await setUpEvents({ events: settings.events, settings, records, storage, secretKey: secretKey(), logger, isSubscribed: tenants && ((t) => tenants!.isSubscribed(t)), destinations: () => running.settings.destinations, credentials });
    const tenantConfigurationStore = createTenantConfigurations(records, storage);
    const tenantConfigurations = await loadTenantConfigurations({ store: tenantConfigurationStore, notices: storage, logger });
    const gateway = createGateway({
      tenantConfigurations,
      tenantMetadata: settings.tenantMetadataPath === undefined ? undefined : createTenantMetadata({
        path: settings.tenantMetadataPath,
        store: tenantConfigurationStore,
        configurations: tenantConfigurations,
        zoneUrlFor: credentials && zoneUrlOf(credentials),
        logoutEndpoint: routesFile.logout?.logoutEndpoint,
        logger,
      }),
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
      platform: setUpPlatform({ settings, storage, records, zones, provisioning: zoneTenants?.provisioning, secretKey, logger, relay }),
      metrics: metrics?.requests,
      tracing,
      extensions: options.extensions,
      html5Apps: createHtml5Apps({ store: createHtml5AppStore(records), xsappname: credentials?.xsappname, notices: storage }),
      events,
    });
    bound.serve();
    const identity = zones?.server;

    /** The configuration served now: the start's, then each applied reload's. */
    let running = config;
    const reload = (): ReloadOutcome => {
      let next: Configuration;
      let nextRoutes: RouteTable;
      try {
        if (!running.reread) throw new ConfigError([{ file: running.routesPath, path: '', message: 'this configuration was not read from files: there is nothing to read again' }]);
        next = running.reread();
        nextRoutes = compileRoutes(next, next.settings.destinations);
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems.map((p) => formatProblem(p).trim()) : [String(err)];
        logger.error('configuration reload refused: the running configuration keeps serving', { problems });
        metrics?.configuration.reloaded(false);
        return { applied: false, problems };
      }
      const needsRestart = settingsNeedingRestart(running, next);
      const { destinations } = next.settings;
      // The login is made anew only when what it reads of routes.json changed: its sessions live in
      // the store and survive it; the relying party's caches are refilled on the next login.
      const loginChanged = ['logout', 'login', 'sessionTimeout'].some((k) => JSON.stringify(running.routesFile[k]) !== JSON.stringify(next.routesFile[k]));
      if (loginChanged) login = loginFor(next.routesFile);
      const served: ServedConfiguration = {
        routesFile: next.routesFile,
        routes: nextRoutes,
        destinations,
        errorPages: next.errorPages,
        login,
        forwardAuth: settings.forwardAuth && login ? createForwardAuth({ routes: nextRoutes, trustedProxies: settings.trustedProxies, login }) : undefined,
      };
      gateway.reconfigure(served);
      const changes = destinationChanges(running.settings.destinations, destinations);
      running = next;
      routes = nextRoutes;
      for (const w of next.warnings) logger.warn('configuration', { file: w.file, path: w.path, problem: w.message });
      logger.info('configuration reloaded', { routes: nextRoutes.routes.length, destinations: destinations.length, ...changes, ...(needsRestart.length ? { needsRestart } : {}) });
      if (needsRestart.length) logger.warn('configuration changes that need a restart were not applied', { settings: needsRestart });
      metrics?.configuration.reloaded(true);
      return { applied: true, routes: nextRoutes.routes.length, destinations: changes, needsRestart };
    };
    const stopWatching = (options.watch ?? settings.watchConfig) && config.watchedFiles
      ? watchConfigurationFiles(config.watchedFiles, () => void reload(), logger)
      : undefined;
    return {
      gateway,
      port,
      storage,
      records,
      get routes() {
        return routes;
      },
      credentials,
      directory: zones?.directory,
      identity,
      provisioning: zoneTenants?.provisioning,
      metricsPort,
      reload: () => Promise.resolve(reload()),
      async stop() {
        stopWatching?.();
        // Reports first, while this process still serves the zones' token endpoint they need; then
        // what arrived meanwhile. A report that still fails is logged with all it takes to repeat it.
        if (callbacks) await settledWithin(callbacks, settings.shutdownTimeoutMs, logger);
        await gateway.shutdown();
        await events?.stop();
        // After the last request has ended its span: those spans are exported before the process ends.
        await tracing?.shutdown();
        await metrics?.close();
        await callbacks?.settled();
        await identity?.close();
        await storage.close();
        await records.close();
      },
    };
  } catch (err) {
    await events?.stop();
    await tracing?.shutdown();
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
