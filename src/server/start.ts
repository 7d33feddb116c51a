import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { resolveSecretKey, type Settings, type XsuaaCredentials } from '../config/environment.js';
import type { XsSecurity } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { compileRouteTable, type RouteTable } from '../routing/route-table.js';
import { openStorage } from '../storage/index.js';
import type { Storage } from '../storage/types.js';
import { createZoneDirectory } from '../zones/directory/directory.js';
import { DirectoryError } from '../zones/directory/errors.js';
import type { Application, Zone, ZoneDirectory } from '../zones/directory/types.js';
import { credentialsFor } from '../zones/oauth/credentials.js';
import { createIdentityServer, type IdentityServer } from '../zones/server.js';
import type { Configuration } from './configuration.js';
import type { LoginFeature } from '../login/contract.js';
import { sessionKeysFromSecret, setUpLogin } from '../login/index.js';
import type { RoutesFile } from '../config/types.js';
import { createGateway, type Gateway } from './gateway.js';

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
  logger: Logger;
}

export interface RunningGateway {
  gateway: Gateway;
  port: number;
  storage: Storage;
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
  /** Graceful stop, then the storage is closed. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  port?: number;
  /** Builds the login feature when there are credentials (binding or built-in zones); without it protected routes answer 401. */
  createLogin?: (wiring: LoginWiring) => LoginFeature;
}

/**
 * Starts the gateway from a validated Configuration: opens storage, runs the built-in identity zones
 * when no external XSUAA is bound and an xs-security.json was loaded, assembles the pipeline and
 * listens. Nothing here reads the environment; the caller passed everything in.
 */
export async function startGateway(config: Configuration, options: StartOptions): Promise<RunningGateway> {
  const { settings, routesFile } = config;
  const { logger } = options;
  const storage = await openStorage(settings.storage, logger);
  let port = 0;
  let gateway: Gateway | undefined;
  let zones: Zones | undefined;
  try {
    zones =
      !settings.xsuaa && config.security
        ? await startZones({ settings, storage, security: config.security, logger, port: () => port })
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
      registration || settings.xsuaa ? createLogin({ settings, storage, routes, logger, credentials: () => credentials()! }) : undefined;
    gateway = createGateway({
      settings,
      routesFile,
      routes,
      logger,
      storage,
      errorPages: config.errorPages,
      ...(zones ? { identity: { uaaDomain: settings.uaaDomain, handle: zones.server.handle } } : {}),
      ...(login ? { login } : {}),
    });
    port = await gateway.listen(options.port ?? settings.port, settings.host);
    const running = gateway;
    const identity = zones?.server;
    return {
      gateway: running,
      port,
      storage,
      routes,
      credentials: credentials(),
      directory: zones?.directory,
      identity,
      async stop() {
        await running.shutdown();
        await identity?.close();
        await storage.close();
      },
    };
  } catch (err) {
    if (gateway?.server.listening) await gateway.shutdown();
    await zones?.server.close();
    await storage.close();
    throw err;
  }
}

/**
 * The login against the binding's XSUAA or the built-in zones. Session keys: SESSION_KEYS, or derived
 * from the secret key (generated with a warning by name when unset). The idle timeout:
 * SESSION_TIMEOUT, else routes.json `sessionTimeout`, else 15 minutes (SAP's default).
 */
function defaultLogin(routesFile: RoutesFile): (wiring: LoginWiring) => LoginFeature {
  return ({ settings, storage, logger, credentials }) =>
    setUpLogin({
      credentials,
      storage,
      routesFile,
      sessionKeys: settings.sessionKeys ?? sessionKeysFromSecret(resolveSecretKey(settings, (m, f) => logger.warn(m, f))),
      sessionTimeoutMinutes: settings.sessionTimeoutMinutes ?? routesFile.sessionTimeout ?? 15,
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
  security: XsSecurity | undefined;
  logger: Logger;
  port: () => number;
}): Promise<Zones> {
  const { settings, storage, logger } = input;
  const secretKey = resolveSecretKey(settings, (message, fields) => logger.warn(message, fields));
  const directory = createZoneDirectory(storage, { secretKey });
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
    ...(settings.adminSecret !== undefined ? { bootstrapSecret: settings.adminSecret } : {}),
    zonesAdminZoneId: provider.id,
    // The server takes the first X-Forwarded-For entry when told to; only where a proxy stands in front
    // (TRUSTED_PROXIES), else a client could pick the address its failed logins are throttled under.
    trustProxy: settings.trustedProxies.description !== 'none',
  });
  return { directory, server, provider, publicUrlFor, registration };
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

/** Prints a ConfigError the way an operator reads it: every problem, one per line. */
export function describeStartupError(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  if (err instanceof DirectoryError) return `zonegate: ${err.message}`;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return `The port is already in use (${e.message}). Set PORT to another port.`;
  return e.stack ?? String(err);
}
