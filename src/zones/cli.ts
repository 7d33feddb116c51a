/**
 * `zonegate zones ...` and `zonegate users ...`: the zone directory from the command line, for
 * operators setting up the first zones and administrators. The entry point parses the command
 * (`parseDirectoryCommand`: help and usage errors need no store), reads a password when the command
 * sets one (src/cli/password.ts), then opens the records database and the storage and runs it
 * (`runDirectoryCommand`), so these commands work on exactly what the running server uses.
 *
 * Exit codes: 0 done, 1 the directory refused or failed (message on `err`), 2 usage error.
 */
import { commandUsage, isHelp, parseCommand, pickSubcommand, UsageError, type CommandGroup, type CommandOptions, type CommandSpec, type HelpRequest, type ParsedCommand } from '../cli/args.js';
import type { PasswordSource } from '../cli/password.js';
import type { RecordsDatabase } from '../records/types.js';
import type { Storage } from '../storage/types.js';
import { ZONE_ADMIN_ROLE_COLLECTION } from './directory/admin-client.js';
import { createZoneDirectory, DEFAULT_ORIGIN } from './directory/directory.js';
import { createInvitationStore, INVITATION_PATH } from './invitations.js';
import type { ZoneDirectoryOptions } from './directory/directory.js';
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

class CommandError extends Error {}

type DirectoryGroup = 'zones' | 'users';

interface Command extends Omit<CommandSpec, 'name'> {
  /** The line of the group's usage after the synopsis. */
  summary?: string;
  /** Sets a user's password: the entry point reads it (--password, --password-stdin or a prompt) before running. */
  setsPassword?: boolean;
  run(args: ParsedCommand & { password?: string }, dir: ZoneDirectory, out: (line: string) => void, io: DirectoryCliIo): Promise<void>;
}

const json = { json: { type: 'boolean' } } satisfies CommandOptions;

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

const COMMANDS: Record<DirectoryGroup, Record<string, Command>> = {
  zones: {
    create: {
      positionals: ['subdomain'],
      synopsis: '<subdomain> [--id ID] [--name NAME]',
      details: 'An identity zone on <subdomain>.UAA_DOMAIN (--id: its id, default a new UUID; --name: its display name).',
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
      synopsis: '[--json]',
      details: 'The zones with the applications subscribed in them.',
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
      synopsis: '<subdomain|id>',
      details: 'Deletes the zone with its users, role collections, signing keys and its tenant\'s gateway sessions.',
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
      synopsis: '[--json]',
      summary: 'credentials of the built-in admin client for admin tooling',
      details: `Credentials of the built-in admin client for admin tooling. A user with the role collection
"${ZONE_ADMIN_ROLE_COLLECTION}" administers their zone through the admin API with it.`,
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
      synopsis: '<subdomain> <username> --email E [--password-stdin] [--given-name G] [--family-name F] [--role-collection RC]...',
      details: `The password is asked for (twice, not echoed) when run in a terminal; --password-stdin reads it
from the first line of stdin instead (printf '%s\\n' "$PW" | zonegate users create ...).
--password P still works but is visible to other users (ps) and kept in shell history.`,
      setsPassword: true,
      options: {
        email: { type: 'string' },
        password: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        'given-name': { type: 'string' },
        'family-name': { type: 'string' },
        'role-collection': { type: 'string', multiple: true },
      },
      async run({ positionals: [subdomain, userName], values, password }, dir, out) {
        if (password === undefined) throw new CommandError('users create: no password read');
        const zone = await zoneBySubdomain(dir, subdomain!);
        const user = await dir.createUser(zone.id, {
          userName: userName!,
          email: values.email as string,
          password,
          givenName: values['given-name'] as string | undefined,
          familyName: values['family-name'] as string | undefined,
          roleCollections: (values['role-collection'] as string[] | undefined) ?? [],
        });
        out(`Created user ${user.userName} in zone ${zone.subdomain} (id ${user.id})`);
      },
    },
    list: {
      positionals: ['subdomain'],
      synopsis: '<subdomain> [--json]',
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
      synopsis: '<subdomain> <username> <role collection>',
      async run({ positionals: [subdomain, userName, rc] }, dir, out) {
        const zone = await zoneBySubdomain(dir, subdomain!);
        const user = await dir.assignRoleCollection(zone.id, (await userByName(dir, zone, userName!)).id, rc!);
        out(`Assigned "${rc}" to ${user.userName}; role collections: ${user.roleCollections.join(', ')}`);
      },
    },
    unassign: {
      positionals: ['subdomain', 'username', 'role collection'],
      synopsis: '<subdomain> <username> <role collection>',
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
      synopsis: '<subdomain> <username>',
      summary: 'a new one-time set-password link (7 days; withdraws the previous)',
      details: 'Prints a new one-time set-password link, valid 7 days; the previous link of the user stops working.',
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
      synopsis: '<subdomain> <username>',
      async run({ positionals: [subdomain, userName] }, dir, out) {
        const zone = await zoneBySubdomain(dir, subdomain!);
        const user = await userByName(dir, zone, userName!);
        await dir.deleteUser(zone.id, user.id);
        out(`Deleted user ${user.userName} from zone ${zone.subdomain}`);
      },
    },
  },
};

function specOf(group: DirectoryGroup, name: string): CommandSpec {
  const { run: _run, summary: _summary, setsPassword: _sets, ...spec } = COMMANDS[group][name]!;
  return { name: `${group} ${name}`, ...spec };
}

/** One line per command of the group, as `zonegate --help` and the group's help list them. */
function usageLines(group: DirectoryGroup): string[] {
  return Object.entries(COMMANDS[group]).map(([name, c]) => {
    const line = `  zonegate ${group} ${name}${c.synopsis ? ` ${c.synopsis}` : ''}`;
    return c.summary ? `${line}${line.length < 40 ? ' '.repeat(42 - line.length) : '   '}${c.summary}` : line;
  });
}

const ADMIN_NOTE = `A user with the role collection "${ZONE_ADMIN_ROLE_COLLECTION}" administers their zone through the admin API.`;

export const DIRECTORY_USAGE = `Usage:\n${[...usageLines('zones'), ...usageLines('users')].join('\n')}\n${ADMIN_NOTE}`;

/** `zonegate zones` and `zonegate users` as groups; `extra` are subcommands the entry point runs itself (`zones start`). */
export function directoryGroup(group: DirectoryGroup, extra: { lines: string[]; subcommands: string[] } = { lines: [], subcommands: [] }): CommandGroup {
  return {
    name: group,
    subcommands: [...extra.subcommands, ...Object.keys(COMMANDS[group])],
    usage: `Usage:\n${[...extra.lines, ...usageLines(group)].join('\n')}${group === 'users' ? '' : `\n${ADMIN_NOTE}`}\nzonegate ${group} <subcommand> --help says more.`,
  };
}

/** A directory command, parsed; `password` says where its password comes from, when it sets one. */
export interface DirectoryInvocation {
  group: DirectoryGroup;
  name: string;
  parsed: ParsedCommand;
  /** The command's own usage, printed after a usage error found later (no password to be had). */
  usage: string;
  password?: PasswordSource;
}

/**
 * `zonegate <group> <name> ...rest`, checked without the directory: help, unknown options, the
 * number of arguments, required options. Throws UsageError.
 */
export function parseDirectoryCommand(group: DirectoryGroup, name: string, rest: readonly string[]): DirectoryInvocation | HelpRequest {
  const command = COMMANDS[group][name];
  if (!command) throw new UsageError(`zonegate ${group}: unknown subcommand '${name}'`, directoryGroup(group).usage);
  const spec = specOf(group, name);
  const parsed = parseCommand(spec, rest);
  if (isHelp(parsed)) return parsed;
  const usage = commandUsage(spec);
  if (group === 'users' && name === 'create' && typeof parsed.values.email !== 'string') throw new UsageError('zonegate users create: needs --email', usage);
  const invocation: DirectoryInvocation = { group, name, parsed, usage };
  if (command.setsPassword) {
    const argv = parsed.values.password;
    invocation.password = { stdin: parsed.values['password-stdin'] === true, ...(typeof argv === 'string' ? { argv } : {}) };
  }
  return invocation;
}

/** Runs a parsed command on the directory; `password` is what the entry point read for it. Exit code 0 or 1. */
export async function runDirectoryCommand(invocation: DirectoryInvocation, io: DirectoryCliIo, password?: string): Promise<number> {
  try {
    const command = COMMANDS[invocation.group][invocation.name]!;
    await command.run({ ...invocation.parsed, ...(password !== undefined ? { password } : {}) }, createZoneDirectory(io.records, io.directory), io.out, io);
    return 0;
  } catch (err) {
    io.err(`zonegate: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

/**
 * Parse and run in one, with the store already open and the password only from `--password`: for
 * driving the commands in-process (test/zones/cli.test.ts). The command line goes through the
 * entry point, which reads passwords from stdin or a prompt too.
 */
export async function runDirectoryCli(argv: string[], io: DirectoryCliIo): Promise<number> {
  const [group, ...rest] = argv;
  try {
    if (group === undefined || group === 'help' || group === '--help' || group === '-h') {
      if (group === undefined) throw new UsageError('zonegate: missing command (zones, users)', DIRECTORY_USAGE);
      io.out(DIRECTORY_USAGE);
      return 0;
    }
    if (group !== 'zones' && group !== 'users') throw new UsageError(`zonegate: unknown command '${group}'`, DIRECTORY_USAGE);
    const picked = pickSubcommand(directoryGroup(group), rest);
    const invocation = isHelp(picked) ? picked : parseDirectoryCommand(group, picked.name, picked.rest);
    if (isHelp(invocation)) {
      io.out(invocation.help);
      return 0;
    }
    if (invocation.password && (invocation.password.stdin || invocation.password.argv === undefined)) {
      throw new UsageError(`zonegate ${group} ${invocation.name}: needs --password`, invocation.usage);
    }
    return await runDirectoryCommand(invocation, io, invocation.password?.argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(err.message);
    io.err(err.usage);
    return 2;
  }
}
