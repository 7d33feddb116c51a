#!/usr/bin/env node
/**
 * The `zonegate` command. This file (with the demo) is the only reader of process.env: it hands
 * plain objects to everything else (STYLE.md, "one reader of the environment").
 */
import cluster from 'node:cluster';
import fs from 'node:fs';
import path from 'node:path';
import { readSettings, resolveSecretKey, withDefaultEnv, type Settings, type XsuaaCredentials } from './config/environment.js';
import { loadXsSecurity, readXsSecurity } from './config/security.js';
import { readClientsBeside, type DeclaredClients } from './config/clients.js';
import { loadConfiguration, type ConfigurationFiles } from './server/configuration.js';
import { checkedSecretKey, describeStartupError, startGateway, warnAboutExposedDataDir } from './server/start.js';
import { bindServer, type BoundServer } from './server/bind.js';
import { startZones, zonesPublicUrl, type Zones } from './zones/start.js';
import { setUpProvisioning } from './provisioning/set-up.js';
import { ConfigError, formatProblem } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { checkDemoConfiguration, runDemo } from './demo/demo.js';
import { untilSignal } from './server/signals.js';
import { parseWorkers, reportListening, runWorkers, workersProblem } from './server/workers.js';
import type { RecordsDatabase } from './records/types.js';
import { openRecords } from './records/index.js';
import { APPS_USAGE, parseAppsCommand, runAppsCommand, type AppsCommand } from './html5-apps/cli.js';
import { DB_USAGE, IMPORT_INCOMPLETE_EXIT_CODE, parseDbCommand, PENDING_EXIT_CODE, runDbCommand, type DbCommand } from './records/cli.js';
import { openStorage, type Storage } from './storage/index.js';
import { makePrivateDir, writePrivateFile } from './storage/private-files.js';
import { CLIENTS_GROUP, CLIENTS_USAGE, parseClientsCommand, runClientsCommand, type ClientsInvocation } from './zones/clients/cli.js';
import { DIRECTORY_USAGE, directoryGroup, parseDirectoryCommand, runDirectoryCommand, type DirectoryInvocation } from './zones/cli.js';
import { IDP_USAGE, idpGroup, parseIdpCommand, runIdpCommand, type IdpInvocation } from './zones/idp/cli.js';
import { sessionKeysFromSecret } from './login/index.js';
import { createTenantConfigurations } from './tenant/configuration.js';
import { runTenantConfigCommand } from './tenant/config-cli.js';
import { parseTenantsCommand, runTenantsCommand, TENANTS_GROUP, TENANTS_USAGE, type TenantsInvocation } from './provisioning/cli.js';
import { parsePlatformCommand, PLATFORMS_GROUP, PLATFORMS_USAGE, RELAY_GROUP, RELAY_USAGE, runPlatformCommand, type PlatformInvocation } from './platform/cli.js';
import { isHelp, parseCommand, pickSubcommand, UsageError, USAGE_EXIT_CODE, type CommandGroup, type CommandSpec, type ParsedCommand } from './cli/args.js';
import { obtainPassword, PasswordUsageError, PromptCancelled } from './cli/password.js';
import { packageVersion } from './cli/version.js';
import { ensureRegistryClient, RegistryClientError } from './provisioning/registry-client.js';
import { EVENTS_USAGE, parseEventsCommand, runEventsCommand, type EventsCommand } from './events/cli.js';
import { forgetTenantEvents } from './events/store.js';
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
  demo [--check]  Start the gateway with an echo backend and the demo tenants (npm start);
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
  version         The version of zonegate (also --version, -v).
  help [COMMAND]  This help, or a command's: zonegate help zones create is zonegate zones create --help.
${DIRECTORY_USAGE.replace(/^Usage:\n/, '')}
${IDP_USAGE.replace(/^Usage:\n/, '')}
                  A zone's identity providers and role collection mappings (issue 13), as the
                  admin API's /identity-providers manages them.
${CLIENTS_USAGE.replace(/^Usage:\n/, '')}
                  Further OAuth clients of the application (a portal, a mobile app, a partner's
                  server) besides its own sb-<xsappname>!t<N>; also declared in clients.json.
${TENANTS_USAGE.replace(/^Usage:\n/, '')}
                  Tenants of the application of xs-security.json (--security FILE), as the SaaS
                  registry's callbacks make them; for self-hosted use without a registry. The
                  tenant URL comes from TENANT_URL_TEMPLATE, else TENANT_HOST_PATTERN and PORT.
${PLATFORMS_USAGE.replace(/^Usage:\n/, '')}
${RELAY_USAGE.replace(/^Usage:\n/, '')}
                  Trusted platforms (POST /platform/v1/organizations and /platform/v1/autologin) and
                  the redirect relay's installations (/platform/v1/relay/), in the records database.
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
${APPS_USAGE.replace(/^Usage:\n/, '')}
                  The HTML5 application repository (routes with service "html5-apps-repo-rt"):
                  deploy built applications (a directory or a zip each, in one transaction),
                  list them, remove a version or an application. Needs the records database only.
${EVENTS_USAGE.replace(/^Usage:\n/, '')}
                  The event relay's dead letters (Redis with REDIS_URL, else <data dir>/events.db):
                  list them, or queue them again for a running gateway to deliver.


Options:
  --routes FILE     routes.json to read (default ./routes.json)
  --security FILE   xs-security.json to read (default ./xs-security.json when present)
  -h, --help        This help; after any command or subcommand, that command's help.
  -v, --version     The version of zonegate.

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

const COMMANDS = ['start', 'check-config', 'demo', 'zones', 'users', 'idps', 'role-mappings', 'clients', 'tenants', 'platforms', 'relay', 'events', 'keys', 'db', 'apps', 'version', 'help'] as const;

/** After a usage error at the top level: the full help is long, the line that says what went wrong would scroll away. */
const SHORT_USAGE = `Usage: zonegate <command> [options]
Commands: ${COMMANDS.join(', ')}
zonegate --help lists them; zonegate <command> --help describes one.`;

const FILE_OPTIONS = { routes: { type: 'string' }, security: { type: 'string' } } as const;

const START: CommandSpec = {
  name: 'start',
  synopsis: '[--routes FILE] [--security FILE] [--workers N|auto]',
  details: `Starts the gateway: reads routes.json (--routes, default ./routes.json) and xs-security.json
(--security, default ./xs-security.json when present) and the environment (see zonegate --help).
Without an xsuaa binding, and with an xs-security.json, the built-in identity zones run in the same
process on <subdomain>.UAA_DOMAIN. Stops on SIGTERM or SIGINT.
--workers N|auto: N processes serve the same port (auto: one per core); they share sessions and
records through the stores. Default 1.`,
  options: { ...FILE_OPTIONS, workers: { type: 'string' } },
};

const CHECK_CONFIG: CommandSpec = {
  name: 'check-config',
  synopsis: '[--routes FILE] [--security FILE]',
  details: 'Validates the configuration start would read, without starting; exit 1 on any problem.',
  options: FILE_OPTIONS,
};

const DEMO: CommandSpec = {
  name: 'demo',
  synopsis: '[--check]',
  details: `Starts the gateway with an echo backend and the demo tenants (npm start); --check validates
that configuration without starting (npm run check-config).`,
  options: { check: { type: 'boolean' } },
};

const ZONES_START: CommandSpec = {
  name: 'zones start',
  synopsis: '[--security FILE]',
  details: `Runs only the identity zones on their own HTTP server (PORT, UAA_DOMAIN); with an xs-security.json
(--security, default ./xs-security.json when present), registers the application and writes its
xsuaa credentials to <data dir>/xsuaa-credentials.json for a gateway bound to these zones.`,
  options: { security: { type: 'string' } },
};

const REGISTRY_CLIENT: CommandSpec = {
  name: 'zones registry-client',
  synopsis: '[--security FILE] [--json]',
  details: `Creates (once) the SaaS registry's client in the provider zone and prints its credentials: a
client-credentials client granted $XSAPPNAME.Callback through the callback scope's
grant-as-authority-to-apps, for calling /callback/v1.0/.`,
  options: { security: { type: 'string' }, json: { type: 'boolean' } },
};

const KEYS_ROTATE: CommandSpec = {
  name: 'keys rotate',
  synopsis: '[--zone SUBDOMAIN]',
  details: `A new signing key for one zone (or every zone); the old keys stay published until the tokens they
signed have expired.`,
  options: { zone: { type: 'string' } },
};

const ZONES_GROUP = directoryGroup('zones', {
  subcommands: ['start', 'registry-client'],
  lines: [`  zonegate ${ZONES_START.name} ${ZONES_START.synopsis}`, `  zonegate ${REGISTRY_CLIENT.name} ${REGISTRY_CLIENT.synopsis}`],
});
const USERS_GROUP = directoryGroup('users');
const KEYS_GROUP: CommandGroup = { name: 'keys', subcommands: ['rotate'], usage: `Usage:\n  zonegate ${KEYS_ROTATE.name} ${KEYS_ROTATE.synopsis}` };

async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n${err.usage}\n`);
    return USAGE_EXIT_CODE;
  }
}

function printHelp(help: string): number {
  process.stdout.write(`${help.replace(/\n+$/, '')}\n`);
  return 0;
}

/**
 * Parses a command's arguments and runs it, or prints its help: `run` (which reads the
 * configuration and opens stores) is reached only with arguments that parse.
 */
async function command(spec: CommandSpec, args: string[], run: (parsed: ParsedCommand) => Promise<number> | number): Promise<number> {
  const parsed = parseCommand(spec, args);
  return isHelp(parsed) ? printHelp(parsed.help) : run(parsed);
}

async function dispatch(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
    case undefined:
      throw new UsageError(`zonegate: missing command (${COMMANDS.join(', ')})`, SHORT_USAGE);
    case '-h':
    case '--help':
      return printHelp(USAGE);
    case 'help':
      // `zonegate help zones create` is `zonegate zones create --help`.
      return rest.length === 0 ? printHelp(USAGE) : dispatch([...rest, '--help']);
    case '-v':
    case '--version':
    case 'version':
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    case 'start':
      return command(START, rest, start);
    case 'check-config':
      return command(CHECK_CONFIG, rest, checkConfig);
    case 'demo':
      return command(DEMO, rest, demo);
    case 'zones':
    case 'users': {
      const picked = pickSubcommand(name === 'zones' ? ZONES_GROUP : USERS_GROUP, rest);
      if (isHelp(picked)) return printHelp(picked.help);
      if (name === 'zones' && picked.name === 'start') return command(ZONES_START, picked.rest, zonesStart);
      if (name === 'zones' && picked.name === 'registry-client') return command(REGISTRY_CLIENT, picked.rest, registryClientCommand);
      const invocation = parseDirectoryCommand(name, picked.name, picked.rest);
      return isHelp(invocation) ? printHelp(invocation.help) : directoryCommand(invocation);
    }
    case 'idps':
    case 'role-mappings': {
      const picked = pickSubcommand(idpGroup(name), rest);
      const invocation = isHelp(picked) ? picked : parseIdpCommand(name, picked.name, picked.rest);
      return isHelp(invocation) ? printHelp(invocation.help) : idpCommand(invocation);
    }
    case 'clients': {
      const picked = pickSubcommand(CLIENTS_GROUP, rest);
      const invocation = isHelp(picked) ? picked : parseClientsCommand(picked.name, picked.rest);
      return isHelp(invocation) ? printHelp(invocation.help) : clientsCommand(invocation);
    }
    case 'keys': {
      const picked = pickSubcommand(KEYS_GROUP, rest);
      return isHelp(picked) ? printHelp(picked.help) : command(KEYS_ROTATE, picked.rest, keysCommand);
    }
    case 'tenants': {
      const picked = pickSubcommand(TENANTS_GROUP, rest);
      const invocation = isHelp(picked) ? picked : parseTenantsCommand(picked.name, picked.rest);
      return isHelp(invocation) ? printHelp(invocation.help) : tenantsCommand(invocation);
    }
    case 'platforms':
    case 'relay': {
      const picked = pickSubcommand(name === 'platforms' ? PLATFORMS_GROUP : RELAY_GROUP, rest);
      const invocation = isHelp(picked) ? picked : parsePlatformCommand(name, picked.name, picked.rest);
      return isHelp(invocation) ? printHelp(invocation.help) : platformCommand(invocation);
    }
    case 'db': {
      const parsed = parseDbCommand(rest);
      return isHelp(parsed) ? printHelp(parsed.help) : dbCommand(parsed);
    }
    case 'apps': {
      const parsed = parseAppsCommand(rest);
      return isHelp(parsed) ? printHelp(parsed.help) : appsCommand(parsed);
    }
    case 'events': {
      const parsed = parseEventsCommand(rest);
      return isHelp(parsed) ? printHelp(parsed.help) : eventsCommand(parsed);
    }
    default:
      throw new UsageError(`zonegate: unknown command '${name}'`, SHORT_USAGE);
  }
}

function fileOptions({ values }: ParsedCommand): ConfigurationFiles {
  return { routes: values.routes as string | undefined, security: values.security as string | undefined };
}

/** `zonegate demo [--check]`: --check validates the demo's configuration (`npm run check-config`) and exits. */
async function demo({ values }: ParsedCommand): Promise<number> {
  if (!values.check) return runDemo({ env: process.env, cwd: process.cwd() });
  return reportConfiguration(() => checkDemoConfiguration(process.env), ' as npm start runs it (the demo echo backend as "echo")');
}

function checkConfig(parsed: ParsedCommand): number {
  return reportConfiguration(() => loadConfiguration(process.env, { cwd: process.cwd(), files: fileOptions(parsed) }));
}

function reportConfiguration(load: () => ReturnType<typeof loadConfiguration>, how = ''): number {
  try {
    const config = load();
    for (const w of config.warnings) process.stdout.write(`warning: ${formatProblem(w).trim()}\n`);
    process.stdout.write(
      `${config.routesPath}: OK (${config.routesFile.routes?.length ?? 0} routes, ${config.settings.destinations.length} destinations` +
        `${config.security ? `, xs-security.json for ${config.security.xsappname}` : ''}` +
        `${config.clients ? `, clients.json with ${config.clients.clients.length} client${config.clients.clients.length === 1 ? '' : 's'}` : ''})${how}\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
}

async function start(parsed: ParsedCommand): Promise<number> {
  const workers = parseWorkers((parsed.values.workers as string | undefined) ?? '1');
  if (typeof workers !== 'number') {
    process.stderr.write(`${workers.problem}\n`);
    return USAGE_EXIT_CODE;
  }
  let config;
  try {
    config = loadConfiguration(process.env, { cwd: process.cwd(), files: fileOptions(parsed) });
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
  const problem = workersProblem(workers, config.settings.metrics);
  if (problem) {
    process.stderr.write(`Invalid configuration: ${problem}\n`);
    return 1;
  }
  const worker = cluster.isWorker ? { worker: cluster.worker!.id } : undefined;
  const logger = createLogger({ level: config.settings.logLevel, format: config.settings.logFormat, ...(worker ? { base: worker } : {}) });
  // The primary of --workers: the configuration is valid (said once, here), the workers serve it.
  if (workers > 1 && cluster.isPrimary) {
    return runWorkers({ workers, logger, metrics: config.settings.metrics, shutdownTimeoutMs: config.settings.shutdownTimeoutMs });
  }
  for (const w of config.warnings) logger.warn('configuration', { file: w.file, path: w.path, problem: w.message });
  try {
    const running = await startGateway(config, { logger, clusterWorker: cluster.isWorker });
    // The application's client in the built-in zones: what a backend validating forwarded tokens, or
    // a second gateway, is bound with. Written as `zones start` writes it, so one command is enough.
    if (running.directory && running.credentials) writeCredentialsFile(config.settings.dataDir, running.credentials, logger);
    logger.info('listening', { port: running.port, metricsPort: running.metricsPort, tenantHostPattern: config.settings.tenantHostPattern?.source, storage: running.storage.kind });
    reportListening(running.port);
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

/**
 * A zones or users command, parsed. The password of `users create` is read first (stdin or the
 * prompt: src/cli/password.ts), before the store is opened and its warnings are printed.
 */
async function directoryCommand(invocation: DirectoryInvocation): Promise<number> {
  let password: string | undefined;
  if (invocation.password) {
    const [subdomain, userName] = invocation.parsed.positionals;
    try {
      password = await obtainPassword(invocation.password, { input: process.stdin, output: process.stderr }, `Password for ${userName} in zone ${subdomain}`);
    } catch (err) {
      if (err instanceof PasswordUsageError) throw new UsageError(`zonegate ${invocation.group} ${invocation.name}: ${err.message}`, invocation.usage);
      // As a shell reports a command ended by Ctrl-C: 128 + SIGINT.
      if (err instanceof PromptCancelled) return 130;
      throw err;
    }
  }
  return withStorage((settings, storage, logger, records, secretKey) => {
    // A deleted zone's tenant sessions end in the shared storage, as `tenants unsubscribe` ends them;
    // a running gateway's caches forget within a second on their own.
    const sessions = new StorageSessionStore({ storage, keyring: createKeyring(settings.sessionKeys ?? sessionKeysFromSecret(secretKey)) });
    return runDirectoryCommand(
      invocation,
      {
        storage,
        records,
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
        directory: { secretKey },
        zoneUrl: zonesPublicUrl(settings, settings.port),
        zoneRemoval: {
          keys: createKeyStore({ records, logger, maxTokenValiditySeconds: DEFAULT_MAX_TOKEN_VALIDITY_SECONDS, secretKey, notices: storage }),
          revokeTenantSessions: async (subdomain) => {
            await sessions.destroyTenantSessions(subdomain);
            await forgetTenantEvents(records, subdomain);
          },
        },
      },
      password,
    );
  });
}

/** `zonegate idps ...` / `zonegate role-mappings ...` (src/zones/idp/cli.ts) on the records database the server uses. */
async function idpCommand(invocation: IdpInvocation): Promise<number> {
  return withStorage((settings, _storage, _logger, records, secretKey) =>
    runIdpCommand(invocation, {
      records,
      secretKey,
      zoneUrl: zonesPublicUrl(settings, settings.port),
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    }),
  );
}

/** `zonegate clients ...` (src/zones/clients/cli.ts) on the records database, with the secret key that seals new secrets. */
async function clientsCommand(invocation: ClientsInvocation): Promise<number> {
  return withStorage((_settings, _storage, _logger, records, secretKey) =>
    runClientsCommand(invocation, { records, secretKey, out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) }),
  );
}

/** `zonegate db migrate|status|import` (src/records/cli.ts): needs the settings, not routes.json or the store. */
/** `zonegate events dead-letters|redrive` on the configured queue (src/events/cli.ts). */
async function eventsCommand(command: EventsCommand): Promise<number> {
  let settings: Settings;
  try {
    settings = zoneSettings();
  } catch (e) {
    process.stderr.write(`${describeStartupError(e)}\n`);
    return 1;
  }
  return runEventsCommand(command, { settings, out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) });
}

async function dbCommand(command: DbCommand): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
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

/** `zonegate apps deploy|list|remove` (src/html5-apps/cli.ts): the records database only. */
async function appsCommand(command: AppsCommand): Promise<number> {
  let settings: Settings;
  try {
    settings = zoneSettings();
  } catch (e) {
    process.stderr.write(`${describeStartupError(e)}\n`);
    return 1;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  return runAppsCommand(command, { records: settings.records, logger: stderrLogger(), out, err });
}

async function keysCommand({ values }: ParsedCommand): Promise<number> {
  const zone = values.zone as string | undefined;
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

/** `zonegate platforms|relay ...`: registrations in the records database (src/platform/cli.ts). */
async function platformCommand(invocation: PlatformInvocation): Promise<number> {
  return withStorage(async (_settings, _storage, _logger, records) =>
    runPlatformCommand(invocation, { records, out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) }),
  );
}

/**
 * `zonegate tenants ...` through the gateway's own provisioning service, so a tenant subscribed here
 * is what a registry callback makes. It registers xs-security.json's application in the provider
 * zone as `zones start` does (a repeat finds it), and ends an unsubscribed tenant's gateway sessions
 * in the shared storage.
 */
async function tenantsCommand(invocation: TenantsInvocation): Promise<number> {
  // A tenant's configuration needs only the records database and the storage (its change notices).
  if (invocation.name === 'config') return withStorage((settings, storage, _logger, records) => tenantConfigCommand(invocation, settings, storage, records));
  const securityPath = securityFile(invocation.securityPath);
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
      revokeTenantSessions: async (subdomain) => {
        await sessions.destroyTenantSessions(subdomain);
        await forgetTenantEvents(records, subdomain);
      },
    });
    if (typeof set === 'string') {
      process.stderr.write(`zonegate: tenants are not available: ${set}\n`);
      return 1;
    }
    return await runTenantsCommand(invocation, {
      provisioning: set.provisioning,
      directory: zones.directory,
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  });
}

/** `zonegate tenants config ...` (src/tenant/config-cli.ts). */
function tenantConfigCommand(invocation: TenantsInvocation, settings: Settings, storage: Storage, records: RecordsDatabase): Promise<number> {
  return runTenantConfigCommand(invocation.parsed, {
    store: createTenantConfigurations(records, storage),
    destinations: settings.destinations,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
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

/**
 * `zonegate zones registry-client`: the SaaS registry's client of the application of xs-security.json
 * (src/provisioning/registry-client.ts), created once and printed like a service key. The secret goes
 * to the operator who wires the registry, as `cf service-key` hands out an xsuaa binding's.
 */
async function registryClientCommand({ values }: ParsedCommand): Promise<number> {
  const securityPath = securityFile(values.security as string | undefined);
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

/** `--security FILE`, else ./xs-security.json when present. */
function securityFile(given: string | undefined): string | undefined {
  return given ? path.resolve(given) : fs.existsSync('xs-security.json') ? path.resolve('xs-security.json') : undefined;
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

async function zonesStart({ values }: ParsedCommand): Promise<number> {
  let settings: Settings;
  const securityPath = securityFile(values.security as string | undefined);
  let loaded;
  let clients: DeclaredClients | undefined;
  try {
    settings = zoneSettings();
    loaded = securityPath ? readXsSecurity(securityPath) : undefined;
    clients = securityPath && loaded ? readClientsBeside(securityPath, loaded.security) : undefined;
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    return 1;
  }
  const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
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
    const zones = await startZones({ settings, storage, records, security, clients, logger, port, secretKey });
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
