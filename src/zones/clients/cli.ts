/**
 * `zonegate clients create|list|rotate-secret|delete` (issue 14): the applications' further OAuth
 * clients from the command line, on the records database the running server uses (a running zone
 * sees a change at its next request). A secret is printed once, by the command that made it.
 *
 * Exit codes: 0 done, 1 refused or failed (message on `err`), 2 usage error.
 */
import { randomUUID } from 'node:crypto';
import { isHelp, parseCommand, pickSubcommand, UsageError, type CommandGroup, type CommandSpec, type HelpRequest, type ParsedCommand } from '../../cli/args.js';
import type { RecordsDatabase } from '../../records/types.js';
import { ADMIN_XSAPPNAME } from '../directory/admin-client.js';
import { createZoneDirectory } from '../directory/directory.js';
import { DirectoryError } from '../directory/errors.js';
import { clientContextOf, readClient } from './input.js';
import { createClientStore, DEFAULT_SECRET_GRACE_SECONDS } from './store.js';
import type { OAuthClient } from './types.js';
import { clientView } from './wire.js';

export interface ClientsCliIo {
  records: RecordsDatabase;
  /** ZONEGATE_SECRET_KEY: seals the secrets a command makes. */
  secretKey?: Uint8Array;
  out: (line: string) => void;
  err: (line: string) => void;
}

class CommandError extends Error {}

interface Command extends Omit<CommandSpec, 'name'> {
  summary: string;
  run(args: ParsedCommand, io: ClientsCliIo): Promise<void>;
}

const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : undefined);

/** The application a command is about: --xsappname, else the only one registered. */
async function applicationName(io: ClientsCliIo, given: unknown): Promise<string> {
  if (typeof given === 'string') return given;
  const rows = await io.records.all<{ xsappname: string }>('SELECT xsappname FROM applications WHERE xsappname <> $1', [ADMIN_XSAPPNAME]);
  if (rows.length === 1) return rows[0]!.xsappname;
  throw new CommandError(rows.length === 0 ? 'No application is registered: start the gateway (or `zonegate zones start`) with its xs-security.json first' : `Several applications are registered (${rows.map((r) => r.xsappname).sort().join(', ')}): name one with --xsappname`);
}

function printSecret(client: OAuthClient, secret: string | undefined, out: (line: string) => void): void {
  if (secret === undefined) return;
  out(`Client secret: ${secret}`);
  out(`Shown this once: keep it now. \`zonegate clients rotate-secret ${client.clientId}\` makes a new one.`);
}

const COMMANDS: Record<string, Command> = {
  create: {
    positionals: ['client_id'],
    synopsis: '<client_id> [--xsappname APP] [--name NAME] [--public] [--pkce-only] [--zone Z]... [--redirect-uri PATTERN]... [--redirect-uri-regex REGEX]... [--grant-type G]... [--scope S]... [--authority A]... [--referrer PATTERN]... [--json]',
    summary: 'a further OAuth client of the application; prints its secret once',
    details: `A further OAuth client of the application (--xsappname, default the only one registered).
--public: no secret, PKCE required (an SPA, a mobile app, an installation at a customer).
--zone: a zone (subdomain or id) it may be used in; default every zone the application is in.
--redirect-uri: XSUAA's pattern form (* one host label, ** any path); --redirect-uri-regex: a regular
expression matched against the whole URL. --grant-type: default authorization_code and refresh_token;
password only when listed. --scope: the application's scopes its tokens may carry ($XSAPPNAME.Read);
default all. --referrer: pages the authorization request must come from.`,
    options: {
      xsappname: { type: 'string' },
      name: { type: 'string' },
      public: { type: 'boolean' },
      'pkce-only': { type: 'boolean' },
      zone: { type: 'string', multiple: true },
      'redirect-uri': { type: 'string', multiple: true },
      'redirect-uri-regex': { type: 'string', multiple: true },
      'grant-type': { type: 'string', multiple: true },
      scope: { type: 'string', multiple: true },
      authority: { type: 'string', multiple: true },
      referrer: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    },
    async run({ positionals: [clientId], values }, io) {
      const xsappname = await applicationName(io, values.xsappname);
      const application = await createZoneDirectory(io.records, io.secretKey ? { secretKey: io.secretKey } : {}).getApplication(xsappname);
      if (!application) throw new CommandError(`Application ${xsappname} is not registered`);
      const raw = {
        client_id: clientId,
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values.public ? { public: true } : {}),
        ...(values['pkce-only'] ? { pkceOnly: true } : {}),
        ...(list(values.zone) ? { zones: list(values.zone) } : {}),
        ...(list(values['redirect-uri']) ? { redirect_uri: list(values['redirect-uri']) } : {}),
        ...(list(values['redirect-uri-regex']) ? { redirect_uri_regex: list(values['redirect-uri-regex']) } : {}),
        ...(list(values['grant-type']) ? { authorized_grant_types: list(values['grant-type']) } : {}),
        ...(list(values.scope) ? { scope: list(values.scope) } : {}),
        ...(list(values.authority) ? { authorities: list(values.authority) } : {}),
        ...(list(values.referrer) ? { referrers: list(values.referrer) } : {}),
      };
      const { input, problems } = readClient(raw, clientContextOf(application), { newId: randomUUID });
      if (!input) throw new CommandError(`the client is not valid:\n${problems.map((p) => `  ${p.path.slice(1)}: ${p.message}`).join('\n')}`);
      const { client, clientSecret } = await createClientStore(io.records, io.secretKey ? { secretKey: io.secretKey } : {}).create(input);
      if (values.json) return io.out(JSON.stringify({ ...clientView(client), ...(clientSecret !== undefined ? { client_secret: clientSecret } : {}) }, null, 2));
      io.out(`Created ${client.public ? 'public' : 'confidential'} client ${client.clientId} of ${client.xsappname}`);
      printSecret(client, clientSecret, io.out);
    },
  },
  list: {
    positionals: [],
    synopsis: '[--xsappname APP] [--json]',
    summary: 'the further clients (never their secrets)',
    options: { xsappname: { type: 'string' }, json: { type: 'boolean' } },
    async run({ values }, io) {
      const clients = await createClientStore(io.records).list(values.xsappname as string | undefined);
      if (values.json) return io.out(JSON.stringify(clients.map(clientView), null, 2));
      if (clients.length === 0) return io.out('No clients besides the applications\' own.');
      const rows = [
        ['CLIENT ID', 'APPLICATION', 'TYPE', 'GRANTS', 'ZONES', 'SOURCE'],
        ...clients.map((c) => [
          c.clientId,
          c.xsappname,
          c.public ? 'public' : c.hasSecret ? 'confidential' : 'confidential (no secret yet)',
          c.grantTypes.map((g) => g.replace('urn:ietf:params:oauth:grant-type:', '')).join(','),
          c.zones === 'subscribed' ? 'subscribed' : c.zones.join(','),
          c.source,
        ]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const row of rows) io.out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
    },
  },
  'rotate-secret': {
    positionals: ['client_id'],
    synopsis: `<client_id> [--grace SECONDS] [--delete-previous] [--json]`,
    summary: 'a new secret, printed once; the old one works a day more (--grace)',
    details: `Makes a new secret and prints it once; the old one stays valid for --grace seconds (default
${DEFAULT_SECRET_GRACE_SECONDS}, 0 ends it at once), so the client's servers can switch one by one.
--delete-previous ends the old secret now and makes no new one.`,
    options: { grace: { type: 'string' }, 'delete-previous': { type: 'boolean' }, json: { type: 'boolean' } },
    async run({ positionals: [clientId], values }, io) {
      const grace = values.grace === undefined ? undefined : Number(values.grace);
      if (grace !== undefined && !/^\d+$/.test(values.grace as string)) throw new CommandError(`--grace: expected whole seconds, got "${values.grace}"`);
      const store = createClientStore(io.records, io.secretKey ? { secretKey: io.secretKey } : {});
      const { client, clientSecret } = await store.rotateSecret(clientId!, { changeMode: values['delete-previous'] ? 'DELETE' : 'ADD', ...(grace !== undefined ? { graceSeconds: grace } : {}) });
      if (values.json) return io.out(JSON.stringify({ ...clientView(client), ...(clientSecret !== undefined ? { client_secret: clientSecret } : {}) }, null, 2));
      if (clientSecret === undefined) return io.out(`The previous secret of ${client.clientId} no longer works.`);
      io.out(`New secret for ${client.clientId}.`);
      printSecret(client, clientSecret, io.out);
      if (client.previousSecretExpiresAt !== undefined) io.out(`The previous secret works until ${new Date(client.previousSecretExpiresAt).toISOString()}.`);
    },
  },
  delete: {
    positionals: ['client_id'],
    synopsis: '<client_id>',
    summary: 'its access tokens run out; its refresh tokens stop at once',
    async run({ positionals: [clientId] }, io) {
      const removed = await createClientStore(io.records).remove(clientId!);
      if (!removed) throw new CommandError(`No client "${clientId}"`);
      io.out(`Deleted client ${removed.clientId} of ${removed.xsappname}`);
    },
  },
};

function usageLines(): string[] {
  return Object.entries(COMMANDS).map(([name, c]) => {
    const line = `  zonegate clients ${name} ${name === 'create' || name === 'rotate-secret' ? '<client_id> [options]' : c.synopsis}`;
    return `${line}${line.length < 40 ? ' '.repeat(42 - line.length) : '   '}${c.summary}`;
  });
}

export const CLIENTS_USAGE = `Usage:\n${usageLines().join('\n')}`;

export const CLIENTS_GROUP: CommandGroup = {
  name: 'clients',
  subcommands: Object.keys(COMMANDS),
  usage: `${CLIENTS_USAGE}\nzonegate clients <subcommand> --help says more.`,
};

export interface ClientsInvocation {
  name: string;
  parsed: ParsedCommand;
}

export function parseClientsCommand(name: string, rest: readonly string[]): ClientsInvocation | HelpRequest {
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`zonegate clients: unknown subcommand '${name}'`, CLIENTS_GROUP.usage);
  const { run: _run, summary: _summary, ...spec } = command;
  const parsed = parseCommand({ name: `clients ${name}`, ...spec }, rest);
  return isHelp(parsed) ? parsed : { name, parsed };
}

export async function runClientsCommand(invocation: ClientsInvocation, io: ClientsCliIo): Promise<number> {
  try {
    await COMMANDS[invocation.name]!.run(invocation.parsed, io);
    return 0;
  } catch (err) {
    if (!(err instanceof CommandError || err instanceof DirectoryError)) throw err;
    io.err(`zonegate: ${err.message}`);
    return 1;
  }
}

/** Parse and run in one, with the records already open (tests drive the commands in-process this way). */
export async function runClientsCli(argv: string[], io: ClientsCliIo): Promise<number> {
  try {
    const picked = pickSubcommand(CLIENTS_GROUP, argv);
    const invocation = isHelp(picked) ? picked : parseClientsCommand(picked.name, picked.rest);
    if (isHelp(invocation)) {
      io.out(invocation.help);
      return 0;
    }
    return await runClientsCommand(invocation, io);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(err.message);
    io.err(err.usage);
    return 2;
  }
}

