#!/usr/bin/env node
/**
 * The `zonegate` command. This file (with the demo) is the only reader of process.env: it hands
 * plain objects to everything else (STYLE.md, "one reader of the environment").
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readSettings, resolveSecretKey, withDefaultEnv, type Settings, type XsuaaCredentials } from './config/environment.js';
import { loadXsSecurity, readXsSecurity } from './config/security.js';
import { loadConfiguration, type ConfigurationFiles } from './server/configuration.js';
import { checkedSecretKey, describeStartupError, startGateway, warnAboutExposedDataDir } from './server/start.js';
import { bindServer, type BoundServer } from './server/bind.js';
import { startZones, zonesPublicUrl, type Zones } from './zones/start.js';
import { setUpProvisioning } from './provisioning/set-up.js';
import { ConfigError, formatProblem } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { checkDemoConfiguration, runDemo } from './demo/demo.js';
import { untilSignal } from './server/signals.js';
import type { RecordsDatabase } from './records/types.js';
import { openRecords } from './records/index.js';
import { DB_USAGE, IMPORT_INCOMPLETE_EXIT_CODE, parseDbCommand, PENDING_EXIT_CODE, runDbCommand } from './records/cli.js';
import { openStorage, type Storage } from './storage/index.js';
import { makePrivateDir, writePrivateFile } from './storage/private-files.js';
import { DIRECTORY_USAGE, runDirectoryCli } from './zones/cli.js';
import { sessionKeysFromSecret } from './login/index.js';
import { runTenantsCli, TENANTS_USAGE } from './provisioning/cli.js';
import { ensureRegistryClient, RegistryClientError } from './provisioning/registry-client.js';
import { createKeyring, StorageSessionStore } from './sessions/index.js';
import { createZoneDirectory } from './zones/directory/directory.js';
import { createKeyStore } from './zones/keys/keystore.js';
import { createIdentityServer, DEFAULT_MAX_TOKEN_VALIDITY_SECONDS } from './zones/server.js';

const USAGE = `Usage: zonegate <command> [options]

Commands:
  start           Start the gateway: reads routes.json (and xs-security.json when present)
                  from the working directory and the environment (PORT, TENANT_HOST_PATTERN,
                  destinations, TRUSTED_PROXIES, REDIS_* (see README), VCAP_SERVICES,
                  default-env.json).
                  Without an xsuaa binding, and with an xs-security.json, the built-in identity
                  zones run in the same process on <subdomain>.UAA_DOMAIN.
  check-config    Validate the configuration without starting; exit 1 on any problem.
  demo [--check]  Start the gateway with an echo backend and two demo tenants (npm start);
                  --check validates that configuration without starting (npm run check-config).
  zones start     Run only the identity zones on their own HTTP server (PORT, UAA_DOMAIN); with an
                  xs-security.json, register the application and write its xsuaa credentials
                  to <data dir>/xsuaa-credentials.json for a gateway bound to these zones.
  zones registry-client [--security FILE] [--json]
                  Create (once) the SaaS registry's client in the provider zone and print its
                  credentials: a client-credentials client granted $XSAPPNAME.Callback through the
                  callback scope's grant-as-authority-to-apps, for calling /callback/v1.0/.
  keys rotate [--zone SUBDOMAIN]
                  New signing key for one zone (or every zone); old keys stay published until the
                  tokens they signed have expired.
${DIRECTORY_USAGE.replace(/^Usage:\n/, '')}
${TENANTS_USAGE.replace(/^Usage:\n/, '')}
                  Tenants of the application of xs-security.json (--security FILE), as the SaaS
                  registry's callbacks make them; for self-hosted use without a registry. The
                  tenant URL comes from TENANT_URL_TEMPLATE, else TENANT_HOST_PATTERN and PORT.
${DB_USAGE.replace(/^Usage:\n/, '')}
                  The records database's schema (zones, users, clients, keys, tenants). migrate
                  applies what is pending (start-up does too) and prints it, or "Up to date";
                  status lists applied and pending migrations and exits ${PENDING_EXIT_CODE} when any are
                  pending (non-zero as \`prisma migrate status\`; 1 stays "cannot reach or refused").
                  import copies, once, the zones, users, role collections, applications,
                  subscriptions, signing keys and tenants that earlier releases kept in the store
                  (REDIS_URL, else <data dir>/zonegate.db; or --from a redis:// URL or a store file)
                  into the records database, migrated first. It never overwrites: a record already
                  there is skipped, one there with other content is a conflict; it reports both
                  by name and exits ${IMPORT_INCOMPLETE_EXIT_CODE} when anything was left behind. Secrets stay sealed
                  (ZONEGATE_SECRET_KEY); the store is only read.

Options:
  --routes FILE     routes.json to read (default ./routes.json)
  --security FILE   xs-security.json to read (default ./xs-security.json when present)
  -h, --help        This help.

Environment of the identity zones: UAA_DOMAIN (default auth.localhost), UAA_URL (public scheme and
port, e.g. https://auth.example.com), PROVIDER_SUBDOMAIN (default provider), ZONEGATE_SECRET_KEY
(32 bytes, base64 or hex; seals the client secret; production must set it), ZONEGATE_ADMIN_SECRET
(password of the admin API's bootstrap user), ZONEGATE_DATA_DIR (default ./.zonegate), REDIS_*,
DATABASE_URL (PostgreSQL for the zones' records, e.g. postgres://user:pw@host/db?sslmode=verify-full;
else a PostgreSQL binding in VCAP_SERVICES; else SQLite <data dir>/records.db).

Environment of tenant provisioning (built-in zones, a "shared" xs-security.json): TENANT_URL_TEMPLATE
(e.g. https://{subdomain}.app.example.com; default from TENANT_HOST_PATTERN, http and PORT),
TENANT_ADMIN_ROLE_COLLECTION (given to the subscriber; default the role collection with the most
scopes), CALLBACK_SCOPE (default Callback: $XSAPPNAME.Callback guards /callback/v1.0/),
SAAS_DEPENDENCIES (JSON [{"xsappname": ...}]), SAAS_REGISTRY_URL (enables STATUS_CALLBACK reports),
SAAS_REGISTRY_CLIENT_ID and SAAS_REGISTRY_CLIENT_SECRET (the client the reports' token is fetched
with, at SAAS_REGISTRY_TOKEN_URL, default the provider zone; default the application's own client).

Exit codes: 0 done, 1 refused or failed, 2 usage error, ${PENDING_EXIT_CODE} (db status) migrations pending,
${IMPORT_INCOMPLETE_EXIT_CODE} (db import) records left behind.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  switch (command) {
    case 'start':
      return start(rest);
    case 'check-config':
      return checkConfig(rest);
    case 'demo':
      return demo(rest);
    case 'zones':
      if (rest[0] === 'start') return zonesStart(rest.slice(1));
      if (rest[0] === 'registry-client') return registryClientCommand(rest.slice(1));
      return directoryCommand(argv);
    case 'users':
      return directoryCommand(argv);
    case 'keys':
      return keysCommand(rest);
    case 'tenants':
      return tenantsCommand(argv);
    case 'db':
      return dbCommand(rest);
    default:
      process.stderr.write(`zonegate: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

function fileOptions(args: string[]): ConfigurationFiles {
  const { values } = parseArgs({ args, options: { routes: { type: 'string' }, security: { type: 'string' } }, strict: true });
  return { routes: values.routes, security: values.security };
}

/** `zonegate demo [--check]`: --check validates the demo's configuration (`npm run check-config`) and exits. */
async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { check: { type: 'boolean' } }, strict: true });
  if (!values.check) return runDemo({ env: process.env, cwd: process.cwd() });
  return reportConfiguration(() => checkDemoConfiguration(process.env), ' as npm start runs it (the demo echo backend as "echo")');
}

function checkConfig(args: string[]): number {
  return reportConfiguration(() => loadConfiguration(process.env, { cwd: process.cwd(), files: fileOptions(args) }));
}

function reportConfiguration(load: () => ReturnType<typeof loadConfiguration>, how = ''): number {
  try {
    const config = load();
    for (const w of config.warnings) process.stdout.write(`warning: ${formatProblem(w).trim()}\n`);
    process.stdout.write(
      `${config.routesPath}: OK (${config.routesFile.routes?.length ?? 0} routes, ${config.settings.destinations.length} destinations` +
        `${config.security ? `, xs-security.json for ${config.security.xsappname}` : ''})${how}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
}

async function start(args: string[]): Promise<number> {
  let config;
  try {
    config = loadConfiguration(process.env, { cwd: process.cwd(), files: fileOptions(args) });
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
  const logger = createLogger({ level: config.settings.logLevel });
  for (const w of config.warnings) logger.warn('configuration', { file: w.file, path: w.path, problem: w.message });
  try {
    const running = await startGateway(config, { logger });
    // The application's client in the built-in zones: what a backend validating forwarded tokens, or
    // a second gateway, is bound with. Written as `zones start` writes it, so one command is enough.
    if (running.directory && running.credentials) writeCredentialsFile(config.settings.dataDir, running.credentials, logger);
    logger.info('listening', { port: running.port, metricsPort: running.metricsPort, tenantHostPattern: config.settings.tenantHostPattern?.source, storage: running.storage.kind });
    return await untilSignal(running.stop, logger, running.reload);
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
}

/** Settings without routes.json: the zone commands need storage and keys, not routes. */
function zoneSettings(): Settings {
  const merged = withDefaultEnv(process.env, process.cwd());
  if (merged.problems.length) throw new ConfigError(merged.problems);
  return readSettings(merged.env, { cwd: process.cwd() });
}

/** Warnings of the one-shot commands go to stderr as text; stdout stays the command's answer. */
function stderrLogger(): Logger {
  return createLogger({
    level: 'warn',
    sink: {
      write: (line: string) => {
        const { level, msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
        delete fields.time;
        return process.stderr.write(`${String(level)}: ${String(msg)}${Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}\n`);
      },
    },
  });
}

/** Runs a one-shot command with the store and the records database open, and closes both whatever it does. */
async function withStorage(
  run: (settings: Settings, storage: Storage, logger: Logger, records: RecordsDatabase, secretKey: Uint8Array) => Promise<number>,
): Promise<number> {
  let settings: Settings;
  let storage: Storage;
  let records: RecordsDatabase;
  const logger = stderrLogger();
  try {
    settings = zoneSettings();
    storage = await openStorage(settings.storage, logger);
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
  try {
    records = await openRecords(settings.records, logger);
  } catch (err) {
    await storage.close();
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
  try {
    return await run(settings, storage, logger, records, await checkedSecretKey(settings, storage, records, logger));
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  } finally {
    await storage.close();
    await records.close();
  }
}

function directoryCommand(argv: string[]): Promise<number> {
  return withStorage((settings, storage, logger, records, secretKey) => {
    // A deleted zone's tenant sessions end in the shared storage, as `tenants unsubscribe` ends them;
    // a running gateway's caches forget within a second on their own.
    const sessions = new StorageSessionStore({ storage, keyring: createKeyring(settings.sessionKeys ?? sessionKeysFromSecret(secretKey)) });
    return runDirectoryCli(argv, {
      storage,
      records,
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
      directory: { secretKey },
      zoneUrl: zonesPublicUrl(settings, settings.port),
      zoneRemoval: {
        keys: createKeyStore({ records, logger, maxTokenValiditySeconds: DEFAULT_MAX_TOKEN_VALIDITY_SECONDS, secretKey, notices: storage }),
        revokeTenantSessions: async (subdomain) => void (await sessions.destroyTenantSessions(subdomain)),
      },
    });
  });
}

/** `zonegate db migrate|status` (src/records/cli.ts): needs the settings, not routes.json or the store. */
async function dbCommand(args: string[]): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const command = parseDbCommand(args, { out, err });
  if (typeof command === 'number') return command;
  let settings: Settings;
  try {
    settings = zoneSettings();
  } catch (e) {
    process.stderr.write(`${describeStartupError(e)}\n`);
    return 1;
  }
  const logger = stderrLogger();
  if (typeof command === 'object') {
    // The import opens sealed client secrets and keys, and seals the clear ones, with the key the
    // gateway will run with.
    let secretKey: Uint8Array;
    try {
      secretKey = resolveSecretKey(settings, (m, f) => logger.warn(m, f));
    } catch (e) {
      process.stderr.write(`${describeStartupError(e)}\n`);
      return 1;
    }
    return runDbCommand(command, { records: settings.records, storage: settings.storage, secretKey, logger, out, err });
  }
  return runDbCommand(command, { records: settings.records, logger, out, err });
}

const KEYS_USAGE = 'Usage: zonegate keys rotate [--zone SUBDOMAIN]';

async function keysCommand(args: string[]): Promise<number> {
  let zone: string | undefined;
  try {
    const [sub, ...rest] = args;
    if (sub !== 'rotate') throw new Error(sub === undefined ? 'No command given' : `Unknown command: keys ${sub}`);
    zone = parseArgs({ args: rest, options: { zone: { type: 'string' } }, strict: true }).values.zone;
  } catch (err) {
    process.stderr.write(`zonegate: ${(err as Error).message}\n${KEYS_USAGE}\n`);
    return 2;
  }
  return withStorage(async (settings, storage, logger, records, secretKey) => {
    const directory = createZoneDirectory(records, { secretKey });
    const zones = zone === undefined ? await directory.listZones() : [await directory.getZoneBySubdomain(zone.toLowerCase())];
    if (zones[0] === undefined && zone !== undefined) {
      process.stderr.write(`zonegate: No zone with subdomain "${zone}"\n`);
      return 1;
    }
    const identity = await createIdentityServer({
      storage,
      records,
      directory,
      uaaDomain: settings.uaaDomain,
      publicUrlFor: zonesPublicUrl(settings, settings.port),
      logger,
      secretKey,
    });
    for (const z of zones) {
      const [kid] = await identity.rotateKeys(z!.id);
      process.stdout.write(`Rotated the signing key of zone ${z!.subdomain}: new kid ${kid}\n`);
    }
    if (zones.length === 0) process.stdout.write('No zones.\n');
    else process.stdout.write('Previous keys stay published until the tokens they signed have expired.\n');
    await identity.close();
    return 0;
  });
}

/**
 * `zonegate tenants ...` through the gateway's own provisioning service, so a tenant subscribed here
 * is what a registry callback makes. It registers xs-security.json's application in the provider
 * zone as `zones start` does (a repeat finds it), and ends an unsubscribed tenant's gateway sessions
 * in the shared storage.
 */
async function tenantsCommand(argv: string[]): Promise<number> {
  let args: string[];
  let securityPath: string | undefined;
  try {
    ({ args, securityPath } = takeSecurityOption(argv));
  } catch (err) {
    process.stderr.write(`zonegate: ${(err as Error).message}\n${TENANTS_USAGE}\n`);
    return 2;
  }
  if (args.length < 2) {
    process.stderr.write(`zonegate: No command given\n${TENANTS_USAGE}\n`);
    return 2;
  }
  if (['help', '--help', '-h'].includes(args[1]!) || args.includes('--help')) {
    process.stdout.write(`${TENANTS_USAGE}\n`);
    return 0;
  }
  return withApplicationZones(securityPath, 'tenants need the application they subscribe to', async (zones, settings, storage, logger, records) => {
    const sessionKeys = settings.sessionKeys ?? sessionKeysFromSecret(resolveSecretKey(settings, () => undefined));
    const sessions = new StorageSessionStore({ storage, keyring: createKeyring(sessionKeys) });
    const set = setUpProvisioning({
      settings,
      storage,
      records,
      zones,
      logger,
      port: settings.port,
      // A running gateway's tenant cache forgets within a second on its own.
      revokeTenantSessions: async (subdomain) => void (await sessions.destroyTenantSessions(subdomain)),
    });
    if (typeof set === 'string') {
      process.stderr.write(`zonegate: tenants are not available: ${set}\n`);
      return 1;
    }
    return await runTenantsCli(args, {
      provisioning: set.provisioning,
      directory: zones.directory,
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  });
}

/**
 * Runs a one-shot command against the built-in zones with the application of xs-security.json
 * registered: the file is required (`missing` says why), loaded, the store opened, the zones started
 * and closed again whatever `run` does.
 */
async function withApplicationZones(
  securityPath: string | undefined,
  missing: string,
  run: (zones: Zones, settings: Settings, storage: Storage, logger: Logger, records: RecordsDatabase) => Promise<number>,
): Promise<number> {
  if (!securityPath) {
    process.stderr.write(`zonegate: ${missing}: xs-security.json in the working directory, or --security FILE\n`);
    return 1;
  }
  let security;
  try {
    security = loadXsSecurity(securityPath);
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
  return withStorage(async (settings, storage, logger, records, secretKey) => {
    const zones = await startZones({ settings, storage, records, security, logger, port: settings.port, secretKey });
    try {
      return await run(zones, settings, storage, logger, records);
    } finally {
      await zones.server.close();
    }
  });
}

const REGISTRY_CLIENT_USAGE = 'Usage: zonegate zones registry-client [--security FILE] [--json]';

/**
 * `zonegate zones registry-client`: the SaaS registry's client of the application of xs-security.json
 * (src/provisioning/registry-client.ts), created once and printed like a service key. The secret goes
 * to the operator who wires the registry, as `cf service-key` hands out an xsuaa binding's.
 */
async function registryClientCommand(args: string[]): Promise<number> {
  let values: { security?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({ args, options: { security: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (err) {
    process.stderr.write(`zonegate: ${(err as Error).message}\n${REGISTRY_CLIENT_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${REGISTRY_CLIENT_USAGE}\n`);
    return 0;
  }
  const securityPath = values.security ? path.resolve(values.security) : fs.existsSync('xs-security.json') ? path.resolve('xs-security.json') : undefined;
  return withApplicationZones(securityPath, "the registry client is the callbacks' caller of one application", async (zones, settings) => {
    try {
      const client = await ensureRegistryClient({
        directory: zones.directory,
        application: zones.registration!.application,
        provider: zones.provider,
        scopeName: settings.provisioning.callbackScope,
        uaaDomain: settings.uaaDomain,
        publicUrlFor: zones.publicUrlFor,
      });
      const c = client.credentials;
      if (values.json) {
        process.stdout.write(`${JSON.stringify(c, null, 2)}\n`);
        return 0;
      }
      process.stdout.write(
        [
          `Client id:      ${c.clientid}`,
          `Client secret:  ${c.clientsecret}`,
          `Token URL:      ${c.url}/oauth/token (grant client_credentials)`,
          `Authority:      ${client.scope}`,
          'The SaaS registry calls /callback/v1.0/ with a token of this client.',
        ].join('\n') + '\n',
      );
      return 0;
    } catch (err) {
      if (err instanceof RegistryClientError) {
        process.stderr.write(`zonegate: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  });
}

/** `--security FILE` (or `--security=FILE`) anywhere in argv; default ./xs-security.json when present. */
function takeSecurityOption(argv: string[]): { args: string[]; securityPath: string | undefined } {
  const args: string[] = [];
  let given: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--security') {
      given = argv[++i];
      if (given === undefined || given.startsWith('--')) throw new Error('--security needs a file');
    } else if (arg.startsWith('--security=')) given = arg.slice('--security='.length);
    else args.push(arg);
  }
  const securityPath = given ? path.resolve(given) : fs.existsSync('xs-security.json') ? path.resolve('xs-security.json') : undefined;
  return { args, securityPath };
}

/** File in the data directory where `start` and `zones start` leave the application's xsuaa credentials. */
const CREDENTIALS_FILE = 'xsuaa-credentials.json';

/** The credentials, xsuaa-binding-shaped, to `<data dir>/xsuaa-credentials.json`; the log names the file, never the secret. */
function writeCredentialsFile(dataDir: string, credentials: XsuaaCredentials, logger: Logger): void {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  makePrivateDir(dataDir);
  fs.rmSync(file, { force: true });
  // Holds the client secret: only the owner may read it, as with the generated key.
  writePrivateFile(file, `${JSON.stringify(credentials, null, 2)}\n`);
  logger.info('xsuaa credentials written', { file, xsappname: credentials.xsappname });
}

async function zonesStart(args: string[]): Promise<number> {
  let settings: Settings;
  let securityPath: string | undefined;
  try {
    const { values } = parseArgs({ args, options: { security: { type: 'string' } }, strict: true });
    securityPath = values.security ? path.resolve(values.security) : fs.existsSync('xs-security.json') ? path.resolve('xs-security.json') : undefined;
  } catch (err) {
    process.stderr.write(`zonegate: ${(err as Error).message}\nUsage: zonegate zones start [--security FILE]\n`);
    return 2;
  }
  let loaded;
  try {
    settings = zoneSettings();
    loaded = securityPath ? readXsSecurity(securityPath) : undefined;
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
  const logger = createLogger({ level: settings.logLevel });
  // What XSUAA accepts and the zones cannot serve (e.g. tenant-mode "external") is said at start.
  for (const w of loaded?.warnings ?? []) logger.warn('configuration', { file: w.file, path: w.path, problem: w.message });
  const security = loaded?.security;
  let storage: Storage | undefined;
  let records: RecordsDatabase | undefined;
  let bound: BoundServer | undefined;
  try {
    warnAboutExposedDataDir(settings.dataDir, logger);
    storage = await openStorage(settings.storage, logger, { checkDurability: true });
    records = await openRecords(settings.records, logger);
    const secretKey = await checkedSecretKey(settings, storage, records, logger);
    // Bound first: the zones' URLs carry the port (src/server/bind.ts).
    bound = await bindServer({ keepAliveTimeout: 65_000, headersTimeout: 66_000 }, settings.port, settings.host);
    const { server, port } = bound;
    const zones = await startZones({ settings, storage, records, security, logger, port, secretKey });
    server.on('request', zones.server.handle);
    bound.serve();
    if (zones.registration) writeCredentialsFile(settings.dataDir, zones.registration.credentials, logger);
    logger.info('listening', { port, uaaDomain: settings.uaaDomain, url: zones.publicUrlFor(settings.providerSubdomain), storage: storage.kind });
    const opened = storage;
    const openedRecords = records;
    return await untilSignal(async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = setTimeout(() => server.closeAllConnections(), settings.shutdownTimeoutMs);
      deadline.unref();
      await closed;
      clearTimeout(deadline);
      await zones.server.close();
      await opened.close();
      await openedRecords.close();
    }, logger);
  } catch (err) {
    await bound?.close();
    await records?.close();
    await storage?.close();
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${describeStartupError(err)}\n`);
    process.exit(1);
  },
);
