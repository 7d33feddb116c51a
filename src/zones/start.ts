import { resolveSecretKey, type Settings, type XsuaaCredentials } from '../config/environment.js';
import type { XsSecurity } from '../config/types.js';
import type { DeclaredClients } from '../config/clients.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ZoneMetrics } from '../metrics/types.js';
import type { RecordsDatabase } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import { createZoneDirectory } from './directory/directory.js';
import { DirectoryError } from './directory/errors.js';
import type { Application, Zone, ZoneDirectory } from './directory/types.js';
import { credentialsFor } from './oauth/credentials.js';
import { createIdentityServer, type IdentityServer } from './server.js';
import type { ZoneRelay } from './idp/services.js';

/** The built-in identity zones, and the application registered in the provider's zone (when there is an xs-security.json). */
export interface Zones {
  directory: ZoneDirectory;
  server: IdentityServer;
  provider: Zone;
  publicUrlFor(subdomain?: string): string;
  registration: { application: Application; credentials: XsuaaCredentials } | undefined;
}

/**
 * The base URL of a zone: `UAA_URL`'s scheme and port on `<subdomain>.<uaaDomain>`, by default
 * `http://<subdomain>.<uaaDomain>:<port>`, the port the zones are served on.
 */
export function zonesPublicUrl(settings: Pick<Settings, 'uaaDomain' | 'uaaUrl'>, port: number): (subdomain?: string) => string {
  return (subdomain) => {
    const host = subdomain ? `${subdomain}.${settings.uaaDomain}` : settings.uaaDomain;
    if (settings.uaaUrl) return `${settings.uaaUrl.protocol}//${host}${settings.uaaUrl.port ? `:${settings.uaaUrl.port}` : ''}`;
    return `http://${host}${port === 80 ? '' : `:${port}`}`;
  };
}

/**
 * Opens the zone directory with the secret key, makes sure the provider's zone exists, registers the
 * application of xs-security.json there (a restart keeps `!t<N>` and the client secret) and creates
 * the identity server. Shared by the gateway, `zonegate zones start` and the one-shot commands that
 * need the application (`tenants`, `zones registry-client`).
 */
export async function startZones(input: {
  settings: Settings;
  storage: Storage;
  /** The records database (zones, users, applications, keys, tenants; issue 19), opened and migrated. */
  records: RecordsDatabase;
  security: XsSecurity | undefined;
  /** clients.json beside xs-security.json (issue 14): applied once the application is registered. */
  clients?: DeclaredClients | undefined;
  logger: Logger;
  /** The port the zones are served on (bound already), for their URLs unless UAA_URL names one. */
  port: number;
  /** The secret key when the caller already resolved it (resolving warns, once is enough). */
  secretKey?: Uint8Array;
  /** Ends the gateway sessions of a removed zone's tenant (the gateway's login); absent without a gateway. */
  revokeTenantSessions?: (subdomain: string) => Promise<void>;
  /** Counts password checks and issued tokens (the gateway's metrics); absent when they are off. */
  metrics?: ZoneMetrics | undefined;
  /** The gateway's redirect relay (src/platform/relay.ts), for identity providers that answer through it. */
  relay?: ZoneRelay;
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
      credentials: credentialsFor({ application, clientSecret, zone: provider, uaaDomain: settings.uaaDomain, publicUrlFor }),
    };
    logger.info('application registered in the built-in zones', { xsappname: application.instanceName, clientid: application.clientId, zone: provider.subdomain });
  }
  const server = await createIdentityServer({
    storage,
    records: input.records,
    directory,
    uaaDomain: settings.uaaDomain,
    publicUrlFor,
    logger,
    secretKey,
    ...(input.revokeTenantSessions !== undefined ? { revokeTenantSessions: input.revokeTenantSessions } : {}),
    ...(settings.adminSecret !== undefined ? { bootstrapSecret: settings.adminSecret } : {}),
    zonesAdminZoneId: provider.id,
    destinations: settings.destinations,
    refreshTokenReuseSeconds: settings.zonesRefreshTokenReuseSeconds,
    // The same TRUSTED_PROXIES as the gateway's: only those peers may say which address the client
    // has, else a client could pick the address its failed logins are throttled under.
    trustedProxies: settings.trustedProxies,
    ...(input.metrics !== undefined ? { metrics: input.metrics } : {}),
    ...(input.relay !== undefined ? { relay: input.relay } : {}),
  });
  if (input.clients && registration) await applyDeclaredClients(server, input.clients, logger);
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

/**
 * Makes the application's clients of clients.json what the file says (src/zones/clients/store.ts,
 * applyDeclared) and says what changed. A confidential client declared there has no secret until the
 * operator makes one: named in a warning with the command, never a secret in the log.
 */
async function applyDeclaredClients(server: IdentityServer, declared: DeclaredClients, logger: Logger): Promise<void> {
  let result;
  try {
    result = await server.clients.applyDeclared(declared.xsappname, declared.clients);
  } catch (err) {
    if (err instanceof DirectoryError && err.code === 'CLIENT_EXISTS') throw new ConfigError([{ file: declared.file, path: '/clients', message: err.message }]);
    throw err;
  }
  const { created, updated, removed, withoutSecret } = result;
  if (created.length + updated.length + removed.length > 0) logger.info('clients.json applied', { file: declared.file, created, updated, removed });
  for (const clientId of withoutSecret) {
    logger.warn('client has no secret yet: it cannot sign in until one is made', { clientId, command: `zonegate clients rotate-secret ${clientId}` });
  }
}
