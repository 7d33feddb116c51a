/**
 * `zonegate zones ...` and `zonegate users ...`: the zone directory from the command line, for
 * operators setting up the first zones and administrators. The entry point opens the records
 * database and the storage and passes them in, so these commands work on exactly what the running
 * server uses.
 *
 * Exit codes: 0 done, 1 the directory refused or failed (message on `err`), 2 usage error.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import type { RecordsDatabase } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import { ZONE_ADMIN_ROLE_COLLECTION } from './directory/admin-client.js';
import { createZoneDirectory, DEFAULT_ORIGIN } from './directory/directory.js';
import { createInvitationStore, INVITATION_PATH } from './invitations.js';
import type { ZoneDirectoryOptions } from './directory/directory.js';
import { DirectoryError } from './directory/errors.js';
import type { User, Zone, ZoneDirectory } from './directory/types.js';
import { removeZone, type ZoneRemovalParts } from './removal.js';

export interface DirectoryCliIo {
  /** The store of what is short-lived (invitations). */
  storage: Storage;
  /** The records database the directory lives in. */
  records: RecordsDatabase;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Passed to the directory (password hashing cost, secret key). */
  directory?: ZoneDirectoryOptions;
  /**
   * The public base URL of a zone (`http://<subdomain>.<UAA_DOMAIN>:<PORT>` or by UAA_URL), for the
   * links `users invite` prints; without it the command is refused.
   */
  zoneUrl?: (subdomain: string) => string;
  /** What `zones delete` removes besides the directory's record (./removal.ts): the keys, the tenant's gateway sessions. */
  zoneRemoval: Omit<ZoneRemovalParts, 'directory'>;
}

export const DIRECTORY_USAGE = `Usage:
  zonegate zones create <subdomain> [--id ID] [--name NAME]
  zonegate zones list [--json]
  zonegate zones delete <subdomain|id>
  zonegate zones admin-client [--json]      credentials of the built-in admin client for admin tooling
  zonegate users create <subdomain> <username> --email E --password P [--given-name G] [--family-name F] [--role-collection RC]...
  zonegate users list <subdomain> [--json]
  zonegate users assign <subdomain> <username> <role collection>
  zonegate users unassign <subdomain> <username> <role collection>
  zonegate users delete <subdomain> <username>
  zonegate users invite <subdomain> <username>   a new one-time set-password link (7 days; withdraws the previous)
A user with the role collection "${ZONE_ADMIN_ROLE_COLLECTION}" administers their zone through the admin API.`;

class UsageError extends Error {}
class CommandError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

interface Command {
  positionals: string[];
  options?: Options;
  run(args: { positionals: string[]; values: Record<string, unknown> }, dir: ZoneDirectory, out: (line: string) => void, io: DirectoryCliIo): Promise<void>;
}

const json = { json: { type: 'boolean' } } satisfies Options;

/** Columns padded to their widest cell, so lists read in a terminal. */
function table(rows: string[][], out: (line: string) => void): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

async function zoneBySubdomain(dir: ZoneDirectory, subdomain: string): Promise<Zone> {
  const zone = await dir.getZoneBySubdomain(subdomain);
  if (!zone) throw new CommandError(`No zone with subdomain "${subdomain}"`);
  return zone;
}

async function userByName(dir: ZoneDirectory, zone: Zone, userName: string): Promise<User> {
  const user = await dir.getUserByName(zone.id, userName);
  if (!user) throw new CommandError(`No user "${userName}" in zone ${zone.subdomain}`);
  return user;
}

const COMMANDS: Record<string, Record<string, Command>> = {
  zones: {
    create: {
      positionals: ['subdomain'],
      options: { id: { type: 'string' }, name: { type: 'string' } },
      async run({ positionals: [subdomain], values }, dir, out) {
        const zone = await dir.createZone({ subdomain: subdomain!, id: values.id as string | undefined, name: values.name as string | undefined });
        out(`Created zone ${zone.subdomain} (id ${zone.id})`);
        // A zone alone is no tenant: no application's role collections apply in it, and the gateway
        // does not serve its host. Subscribing adopts the zone, its id and the users made meanwhile.
        out(`It is an identity zone only: no application is subscribed in it, so its users get no application role collections and the gateway answers 404 for ${zone.subdomain}.`);
        out(`To make it a tenant of the application in xs-security.json: zonegate tenants subscribe ${zone.subdomain}`);
      },
    },
    list: {
      positionals: [],
      options: json,
      async run({ values }, dir, out) {
        const zones = await Promise.all((await dir.listZones()).map(async (z) => ({ ...z, applications: await dir.applicationsInZone(z.id) })));
        if (values.json) return out(JSON.stringify(zones, null, 2));
        if (zones.length === 0) return out('No zones.');
        const applications = (z: (typeof zones)[number]) =>
          z.applications.map((a) => (a.provider ? `${a.xsappname} (provider)` : a.xsappname)).join(', ') || '- (zone only)';
        table([['SUBDOMAIN', 'ID', 'NAME', 'APPLICATIONS'], ...zones.map((z) => [z.subdomain, z.id, z.name, applications(z)])], out);
        if (zones.some((z) => z.applications.length === 0)) {
          out('A zone only is no tenant; `zonegate tenants subscribe <subdomain>` subscribes the application in it.');
        }
      },
    },
    delete: {
      positionals: ['subdomain|id'],
      async run({ positionals: [which] }, dir, out, io) {
        const zone = (await dir.getZoneBySubdomain(which!)) ?? (await dir.getZone(which!));
        // The same removal as the admin API's and unsubscription's: a zone re-created with this id
        // must not find the old keys (which would verify the old tokens) or sessions.
        if (!zone || !(await removeZone({ directory: dir, ...io.zoneRemoval }, zone.id))) throw new CommandError(`No zone with subdomain or id "${which}"`);
        out(`Deleted zone ${zone.subdomain} (id ${zone.id}) with its users, role collections, signing keys and sessions`);
      },
    },
    'admin-client': {
      positionals: [],
      options: json,
      // The secret goes to the operator as `cf service-key` hands out an application's: it only
      // identifies the tool; what a token may do comes from the user's role collection.
      async run({ values }, dir, out) {
        const { application, clientSecret } = await dir.ensureAdminClient();
        const zonesAdminZone = application.providerZoneId ? await dir.getZone(application.providerZoneId) : undefined;
        const details = {
          clientid: application.clientId,
          clientsecret: clientSecret,
          grantTypes: application.grantTypes,
          redirectUris: application.redirectUris,
          roleCollection: ZONE_ADMIN_ROLE_COLLECTION,
          ...(zonesAdminZone ? { zonesAdminZone: zonesAdminZone.subdomain } : {}),
        };
        if (values.json) return out(JSON.stringify(details, null, 2));
        out(`Client id:      ${details.clientid}`);
        out(`Client secret:  ${details.clientsecret}`);
        out(`Grant types:    ${details.grantTypes.join(', ')} (use PKCE)`);
        out(`Redirect URIs:  ${details.redirectUris.join(', ')}`);
        out(`Users with the role collection "${ZONE_ADMIN_ROLE_COLLECTION}" get scim.read scim.write in their zone` +
          (zonesAdminZone ? `, and zones.read zones.write in zone ${zonesAdminZone.subdomain}.` : '.'));
      },
    },
  },
  users: {
    create: {
      positionals: ['subdomain', 'username'],
      options: {
        email: { type: 'string' },
        password: { type: 'string' },
        'given-name': { type: 'string' },
        'family-name': { type: 'string' },
        'role-collection': { type: 'string', multiple: true },
      },
      async run({ positionals: [subdomain, userName], values }, dir, out) {
        if (typeof values.email !== 'string') throw new UsageError('users create needs --email');
        if (typeof values.password !== 'string') throw new UsageError('users create needs --password');
        const zone = await zoneBySubdomain(dir, subdomain!);
        const user = await dir.createUser(zone.id, {
          userName: userName!,
          email: values.email,
          password: values.password,
          givenName: values['given-name'] as string | undefined,
          familyName: values['family-name'] as string | undefined,
          roleCollections: (values['role-collection'] as string[] | undefined) ?? [],
        });
        out(`Created user ${user.userName} in zone ${zone.subdomain} (id ${user.id})`);
      },
    },
    list: {
      positionals: ['subdomain'],
      options: json,
      async run({ positionals: [subdomain], values }, dir, out) {
        const zone = await zoneBySubdomain(dir, subdomain!);
        const users = await dir.listUsers(zone.id);
        if (values.json) return out(JSON.stringify(users, null, 2));
        if (users.length === 0) return out(`No users in zone ${zone.subdomain}.`);
        table([['USERNAME', 'EMAIL', 'ID', 'ROLE COLLECTIONS'], ...users.map((u) => [u.userName, u.email, u.id, u.roleCollections.join(', ')])], out);
      },
    },
    assign: {
      positionals: ['subdomain', 'username', 'role collection'],
      async run({ positionals: [subdomain, userName, rc] }, dir, out) {
        const zone = await zoneBySubdomain(dir, subdomain!);
        const user = await dir.assignRoleCollection(zone.id, (await userByName(dir, zone, userName!)).id, rc!);
        out(`Assigned "${rc}" to ${user.userName}; role collections: ${user.roleCollections.join(', ')}`);
      },
    },
    unassign: {
      positionals: ['subdomain', 'username', 'role collection'],
      async run({ positionals: [subdomain, userName, rc] }, dir, out) {
        const zone = await zoneBySubdomain(dir, subdomain!);
        const before = await userByName(dir, zone, userName!);
        if (!before.roleCollections.includes(rc!)) throw new CommandError(`${before.userName} does not have "${rc}"`);
        const user = await dir.unassignRoleCollection(zone.id, before.id, rc!);
        out(`Removed "${rc}" from ${user.userName}; role collections: ${user.roleCollections.join(', ') || '(none)'}`);
      },
    },
    invite: {
      positionals: ['subdomain', 'username'],
      // For a subscriber whose link expired or got lost, and for users created without a password:
      // the operator hands over a link, never a password they chose (src/zones/invitations.ts).
      async run({ positionals: [subdomain, userName] }, dir, out, io) {
        if (!io.zoneUrl) throw new CommandError('users invite needs the zones\' public URL (UAA_DOMAIN, UAA_URL, PORT)');
        const zone = await zoneBySubdomain(dir, subdomain!);
        const user = await userByName(dir, zone, userName!);
        if (user.origin !== DEFAULT_ORIGIN) throw new CommandError(`${user.userName} signs in at the identity provider "${user.origin}", not with a password here`);
        const { reference, expiresAt } = await createInvitationStore(io.storage).issue({ zoneId: zone.id, userId: user.id });
        out(`${io.zoneUrl(zone.subdomain)}${INVITATION_PATH}?code=${reference}`);
        out(`One use, until ${new Date(expiresAt).toISOString()}. Any earlier link of ${user.userName} no longer works.`);
      },
    },
    delete: {
      positionals: ['subdomain', 'username'],
      async run({ positionals: [subdomain, userName] }, dir, out) {
        const zone = await zoneBySubdomain(dir, subdomain!);
        const user = await userByName(dir, zone, userName!);
        await dir.deleteUser(zone.id, user.id);
        out(`Deleted user ${user.userName} from zone ${zone.subdomain}`);
      },
    },
  },
};

export async function runDirectoryCli(argv: string[], io: DirectoryCliIo): Promise<number> {
  const [group, name, ...rest] = argv;
  const command = group !== undefined && name !== undefined ? COMMANDS[group]?.[name] : undefined;
  if (group === 'help' || group === '--help' || name === '--help' || name === 'help') {
    io.out(DIRECTORY_USAGE);
    return 0;
  }
  try {
    if (!command) {
      throw new UsageError(group === undefined ? 'No command given' : `Unknown command: ${[group, name].filter(Boolean).join(' ')}`);
    }
    let parsed: { positionals: string[]; values: Record<string, unknown> };
    try {
      parsed = parseArgs({ args: rest, options: command.options ?? {}, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (parsed.positionals.length !== command.positionals.length) {
      const expected = command.positionals.map((p) => `<${p}>`).join(' ') || 'no arguments';
      throw new UsageError(`${group} ${name} takes ${expected}, got ${parsed.positionals.length} argument${parsed.positionals.length === 1 ? '' : 's'}`);
    }
    await command.run(parsed, createZoneDirectory(io.records, io.directory), io.out, io);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`zonegate: ${err.message}`);
      io.err(DIRECTORY_USAGE);
      return 2;
    }
    if (err instanceof CommandError || err instanceof DirectoryError) {
      io.err(`zonegate: ${err.message}`);
      return 1;
    }
    io.err(`zonegate: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
