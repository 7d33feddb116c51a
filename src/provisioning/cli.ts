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
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DirectoryError } from '../zones/directory/errors.js';
import type { ZoneDirectory } from '../zones/directory/types.js';
import { isEmail } from '../zones/directory/validation.js';
import { ProvisioningError } from './errors.js';
import type { Provisioning, Tenant } from './service.js';

export interface TenantsCliIo {
  provisioning: Provisioning;
  /** To adopt a zone made with `zones create` (its id becomes the tenant id). */
  directory?: ZoneDirectory;
  out: (line: string) => void;
  err: (line: string) => void;
}

export const TENANTS_USAGE = `Usage:
  zonegate tenants subscribe <subdomain> [--id GUID] [--admin-user U --admin-email E]
  zonegate tenants unsubscribe <subdomain|id>
  zonegate tenants list [--json]`;

class UsageError extends Error {}

/** 24 characters of base64url: 144 bits, well past NIST SP 800-63B's minimum for a generated secret. */
function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, positionals: string[]) {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.positionals.length !== positionals.length) {
    const expected = positionals.map((p) => `<${p}>`).join(' ') || 'no arguments';
    throw new UsageError(`takes ${expected}, got ${parsed.positionals.length} argument${parsed.positionals.length === 1 ? '' : 's'}`);
  }
  return parsed;
}

function table(rows: string[][], out: (line: string) => void): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

async function subscribe(args: string[], { provisioning, directory, out }: TenantsCliIo): Promise<void> {
  const { values, positionals } = parse(
    args,
    { id: { type: 'string' }, 'admin-user': { type: 'string' }, 'admin-email': { type: 'string' } },
    ['subdomain'],
  );
  const subdomain = positionals[0]!;
  const adminUser = values['admin-user'] as string | undefined;
  const adminEmail = values['admin-email'] as string | undefined;
  // The zone's administrator is created only with an e-mail address: the name must be one (the directory's rule) or come with one.
  if (adminUser !== undefined && adminEmail === undefined && !isEmail(adminUser)) {
    throw new UsageError('--admin-user needs --admin-email (every user of a zone has an e-mail address)');
  }
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

async function unsubscribe(args: string[], { provisioning, out }: TenantsCliIo): Promise<void> {
  const { positionals } = parse(args, {}, ['subdomain|id']);
  const which = positionals[0]!;
  const tenant = await provisioning.findTenant(which);
  const result = await provisioning.unsubscribe(tenant?.tenantId ?? which);
  // Like the registry's DELETE: an unknown tenant is nothing to do, not an error (scripts can repeat it).
  if (result.removed) out(`Unsubscribed tenant ${result.subdomain} (id ${tenant?.tenantId ?? which.toLowerCase()}); its zone, users and sessions are gone`);
  else out(`No tenant "${which}"; nothing to do`);
}

async function list(args: string[], { provisioning, out }: TenantsCliIo): Promise<void> {
  const { values } = parse(args, { json: { type: 'boolean' } }, []);
  const tenants: Tenant[] = await provisioning.listTenants();
  if (values.json) return out(JSON.stringify(tenants, null, 2));
  if (tenants.length === 0) return out('No tenants.');
  table([['SUBDOMAIN', 'ID', 'URL', 'SUBSCRIBED'], ...tenants.map((t) => [t.subdomain, t.tenantId, t.url, t.subscribedAt ?? '-'])], out);
}

const COMMANDS: Record<string, (args: string[], io: TenantsCliIo) => Promise<void>> = { subscribe, unsubscribe, list };

/** `argv` as after `zonegate`: `['tenants', 'subscribe', 'acme', ...]`. */
export async function runTenantsCli(argv: string[], io: TenantsCliIo): Promise<number> {
  const [group, name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || rest.includes('--help')) {
    if (name === undefined) {
      io.err('zonegate: No command given');
      io.err(TENANTS_USAGE);
      return 2;
    }
    io.out(TENANTS_USAGE);
    return 0;
  }
  try {
    const command = group === 'tenants' ? COMMANDS[name] : undefined;
    if (!command) throw new UsageError(`Unknown command: ${[group, name].join(' ')}`);
    await command(rest, io);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`zonegate: ${group} ${name}: ${err.message}`);
      io.err(TENANTS_USAGE);
      return 2;
    }
    if (err instanceof ProvisioningError || err instanceof DirectoryError) {
      io.err(`zonegate: ${err.message}`);
      return 1;
    }
    io.err(`zonegate: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
