/**
 * `zonegate tenants subscribe|unsubscribe|list`: subscriptions for self-hosted use without a SaaS
 * registry, through the same service as the callbacks (issue 5), so a tenant subscribed here is
 * exactly what a registry subscription makes.
 *
 * `subscribe --admin-user U --admin-email E` creates the tenant's first administrator with a
 * generated initial password, printed once: unlike the registry, which has no channel to hand a
 * password to the subscriber (and XSUAA's subscribers log in at their own identity provider), the
 * operator at this terminal is that channel. The password is stored only as its password hash.
 *
 * Exit codes as `zonegate zones`: 0 done, 1 refused or failed (message on `err`), 2 usage error.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { commandUsage, isHelp, parseCommand, pickSubcommand, UsageError, type CommandGroup, type CommandSpec, type HelpRequest, type ParsedCommand } from '../cli/args.js';
import type { ZoneDirectory } from '../zones/directory/types.js';
import { isEmail } from '../zones/directory/validation.js';
import type { Provisioning, Tenant } from './service.js';
import { runTenantConfigCommand, type TenantConfigIo } from '../tenant/config-cli.js';

export interface TenantsCliIo {
  provisioning: Provisioning;
  /** For `tenants config`: the configuration store and the application's destinations. */
  configurations?: Omit<TenantConfigIo, 'out' | 'err'>;
  /** To adopt a zone made with `zones create` (its id becomes the tenant id). */
  directory?: ZoneDirectory;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Every tenants command reads the application from xs-security.json; the entry point loads it. */
const SECURITY = { security: { type: 'string' } } as const;

type TenantsCommandName = 'subscribe' | 'unsubscribe' | 'list' | 'config';

const SPECS: Record<TenantsCommandName, CommandSpec> = {
  subscribe: {
    name: 'tenants subscribe',
    synopsis: '<subdomain> [--id GUID] [--admin-user U --admin-email E] [--security FILE]',
    details: `Subscribes the application of xs-security.json (--security FILE, default ./xs-security.json) in a
new zone <subdomain>, as the SaaS registry's callback does (--id: the tenant id, default a new UUID,
or the id of a zone made with \`zones create\`). --admin-user/--admin-email create the tenant's first
administrator with a generated initial password, printed once.`,
    options: { ...SECURITY, id: { type: 'string' }, 'admin-user': { type: 'string' }, 'admin-email': { type: 'string' } },
    positionals: ['subdomain'],
  },
  unsubscribe: {
    name: 'tenants unsubscribe',
    synopsis: '<subdomain|id> [--security FILE]',
    details: "Removes the tenant's zone, users and gateway sessions; an unknown tenant is nothing to do (exit 0).",
    options: SECURITY,
    positionals: ['subdomain|id'],
  },
  list: {
    name: 'tenants list',
    synopsis: '[--json] [--security FILE]',
    options: { ...SECURITY, json: { type: 'boolean' } },
  },
  config: {
    name: 'tenants config',
    synopsis: 'get|set|unset|credential <subdomain> [--json DOC | --file FILE]',
    details: `A tenant's own configuration (src/tenant/configuration.ts), served by running gateways within a
second: \`set\` replaces it with the document of --json or --file, {"destinations": {"<name>": {"url": ...}},
"settings": {...}} (destination overrides are checked against the \`destinations\` variable); \`get\`
prints it; \`unset\` removes it; \`credential\` makes the tenant's metadata credential (TENANT_METADATA_PATH),
printed once. Needs no xs-security.json.`,
    options: { json: { type: 'string' }, file: { type: 'string' } },
    positionals: ['action', 'subdomain'],
  },
};

const usageLine = (spec: CommandSpec) => `  zonegate ${spec.name} ${spec.synopsis!.replace(' [--security FILE]', '')}`;

export const TENANTS_USAGE = `Usage:
${Object.values(SPECS).map(usageLine).join('\n')}`;

export const TENANTS_GROUP: CommandGroup = {
  name: 'tenants',
  subcommands: Object.keys(SPECS),
  usage: `${TENANTS_USAGE}
Each takes --security FILE (default ./xs-security.json); zonegate tenants <subcommand> --help says more.`,
};

/** A tenants command, parsed and checked; `securityPath` is its --security. */
export interface TenantsInvocation {
  name: TenantsCommandName;
  parsed: ParsedCommand;
  securityPath?: string;
}

/** `zonegate tenants <name> ...rest`, checked before anything is opened. Throws UsageError. */
export function parseTenantsCommand(name: string, rest: readonly string[]): TenantsInvocation | HelpRequest {
  if (!Object.hasOwn(SPECS, name)) throw new UsageError(`zonegate tenants: unknown subcommand '${name}'`, TENANTS_GROUP.usage);
  const spec = SPECS[name as TenantsCommandName];
  const parsed = parseCommand(spec, rest);
  if (isHelp(parsed)) return parsed;
  const adminUser = parsed.values['admin-user'];
  // The zone's administrator is created only with an e-mail address: the name must be one (the directory's rule) or come with one.
  if (typeof adminUser === 'string' && parsed.values['admin-email'] === undefined && !isEmail(adminUser)) {
    throw new UsageError('zonegate tenants subscribe: --admin-user needs --admin-email (every user of a zone has an e-mail address)', commandUsage(spec));
  }
  const security = parsed.values.security;
  return { name: name as TenantsCommandName, parsed, ...(typeof security === 'string' ? { securityPath: security } : {}) };
}

/** 24 characters of base64url: 144 bits, well past NIST SP 800-63B's minimum for a generated secret. */
function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

function table(rows: string[][], out: (line: string) => void): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

async function subscribe({ values, positionals }: ParsedCommand, { provisioning, directory, out }: TenantsCliIo): Promise<void> {
  const subdomain = positionals[0]!;
  const adminUser = values['admin-user'] as string | undefined;
  const adminEmail = values['admin-email'] as string | undefined;
  // Repeating the command without --id is idempotent: it finds the tenant it subscribed before. A
  // zone made with `zones create` is adopted under its own id, with the users made in it meanwhile.
  const before = await provisioning.findTenant(subdomain);
  const tenantId =
    (values.id as string | undefined) ??
    before?.tenantId ??
    (await directory?.getZoneBySubdomain(subdomain))?.id ??
    randomUUID();
  const userName = adminUser ?? adminEmail;
  const password = userName !== undefined ? generatePassword() : undefined;
  const result = await provisioning.subscribe({
    tenantId,
    subdomain,
    ...(userName !== undefined ? { userInfo: { userName, ...(adminEmail !== undefined ? { email: adminEmail } : {}) } } : {}),
    ...(password !== undefined ? { adminPassword: password } : {}),
  });
  // `created` says whether the zone was made; a zone made with `zones create` is adopted, not "already subscribed".
  out(`${result.created || before === undefined ? 'Subscribed' : 'Already subscribed:'} tenant ${result.subdomain} (id ${result.tenantId}): ${result.url}`);
  if (result.admin?.created) {
    out(`Administrator ${result.admin.userName}, initial password: ${password}`);
    out('The password is shown only this once.');
  } else if (result.admin) {
    out(`Administrator ${result.admin.userName} already exists; password unchanged.`);
  }
}

async function unsubscribe({ positionals }: ParsedCommand, { provisioning, out }: TenantsCliIo): Promise<void> {
  const which = positionals[0]!;
  const tenant = await provisioning.findTenant(which);
  const result = await provisioning.unsubscribe(tenant?.tenantId ?? which);
  // Like the registry's DELETE: an unknown tenant is nothing to do, not an error (scripts can repeat it).
  if (result.removed) out(`Unsubscribed tenant ${result.subdomain} (id ${tenant?.tenantId ?? which.toLowerCase()}); its zone, users and sessions are gone`);
  else out(`No tenant "${which}"; nothing to do`);
}

async function list({ values }: ParsedCommand, { provisioning, out }: TenantsCliIo): Promise<void> {
  const tenants: Tenant[] = await provisioning.listTenants();
  if (values.json) return out(JSON.stringify(tenants, null, 2));
  if (tenants.length === 0) return out('No tenants.');
  table([['SUBDOMAIN', 'ID', 'URL', 'SUBSCRIBED'], ...tenants.map((t) => [t.subdomain, t.tenantId, t.url, t.subscribedAt ?? '-'])], out);
}

const COMMANDS: Record<Exclude<TenantsCommandName, 'config'>, (parsed: ParsedCommand, io: TenantsCliIo) => Promise<void>> = { subscribe, unsubscribe, list };

/** Runs a parsed command: exit 0, or 1 with the reason on `err` when the service refuses or fails. */
export async function runTenantsCommand(invocation: TenantsInvocation, io: TenantsCliIo): Promise<number> {
  if (invocation.name === 'config') {
    if (!io.configurations) {
      io.err('zonegate: tenants config is not available here');
      return 1;
    }
    return runTenantConfigCommand(invocation.parsed, { ...io.configurations, out: io.out, err: io.err });
  }
  try {
    await COMMANDS[invocation.name](invocation.parsed, io);
    return 0;
  } catch (err) {
    io.err(`zonegate: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

/** Parse and run in one, with the provisioning service already set up: for driving the commands in-process. `argv` as after `zonegate`: `['tenants', 'subscribe', 'acme', ...]`. */
export async function runTenantsCli(argv: string[], io: TenantsCliIo): Promise<number> {
  const [group, ...rest] = argv;
  try {
    if (group !== 'tenants') throw new UsageError(`zonegate: unknown command '${group}'`, TENANTS_GROUP.usage);
    const picked = pickSubcommand(TENANTS_GROUP, rest);
    const invocation = isHelp(picked) ? picked : parseTenantsCommand(picked.name, picked.rest);
    if (isHelp(invocation)) {
      io.out(invocation.help);
      return 0;
    }
    return await runTenantsCommand(invocation, io);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(err.message);
    io.err(err.usage);
    return 2;
  }
}
