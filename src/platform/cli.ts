/**
 * `zonegate platforms add|list|remove` and `zonegate relay add|list|remove`: the registrations of
 * trusted platforms and relay installations (issue 15) from the operator's terminal, written where
 * the admin API writes them (the records database), through the same checks
 * (./trusted-platforms.ts readPlatformInput, ./relay.ts readInstallationInput).
 *
 * Exit codes as `zonegate tenants`: 0 done, 1 refused or failed (message on `err`), 2 usage error.
 */
import fs from 'node:fs';
import { isHelp, parseCommand, UsageError, type CommandGroup, type CommandSpec, type HelpRequest, type ParsedCommand } from '../cli/args.js';
import type { RecordsDatabase } from '../records/types.js';
import { createRelayInstallations, readInstallationInput } from './relay.js';
import { createTrustedPlatforms, readPlatformInput } from './trusted-platforms.js';

export interface PlatformCliIo {
  records: RecordsDatabase;
  out: (line: string) => void;
  err: (line: string) => void;
}

type Group = 'platforms' | 'relay';

const SPECS: Record<Group, Record<string, CommandSpec>> = {
  platforms: {
    add: {
      name: 'platforms add',
      synopsis: '<id> (--jwks-url URL | --public-key FILE [--algorithm ALG]) --subdomains PATTERN [--role-collection NAME]... [--name NAME]',
      details: `Registers a trusted platform: its id is the iss of the JWTs it signs and the origin of its users;
--jwks-url its JSON Web Key Set (https), or --public-key a PEM file (SPKI) with --algorithm (default
RS256); --subdomains the tenants it may create (a pattern with "*", e.g. "tix-*"); --role-collection,
repeated, the role collections it may grant.`,
      options: {
        'jwks-url': { type: 'string' },
        'public-key': { type: 'string' },
        algorithm: { type: 'string' },
        subdomains: { type: 'string' },
        'role-collection': { type: 'string', multiple: true },
        name: { type: 'string' },
      },
      positionals: ['id'],
    },
    list: { name: 'platforms list', synopsis: '[--json]', options: { json: { type: 'boolean' } } },
    remove: { name: 'platforms remove', synopsis: '<id>', details: 'Removes the registration; the tenants it created stay, and no platform may act on them.', positionals: ['id'] },
  },
  relay: {
    add: {
      name: 'relay add',
      synopsis: '<id> --callback URL [--callback URL]... [--name NAME]',
      details: `Registers an installation with the redirect relay, with its exact callback URLs (https; http only
for localhost). Prints the secret it asks for relay states with, once.`,
      options: { callback: { type: 'string', multiple: true }, name: { type: 'string' } },
      positionals: ['id'],
    },
    list: { name: 'relay list', synopsis: '[--json]', options: { json: { type: 'boolean' } } },
    remove: { name: 'relay remove', synopsis: '<id>', positionals: ['id'] },
  },
};

const usageOf = (group: Group) => `Usage:\n${Object.values(SPECS[group]).map((s) => `  zonegate ${s.name} ${s.synopsis}`).join('\n')}`;
export const PLATFORMS_USAGE = usageOf('platforms');
export const RELAY_USAGE = usageOf('relay');

export const PLATFORMS_GROUP: CommandGroup = { name: 'platforms', subcommands: Object.keys(SPECS.platforms), usage: `${PLATFORMS_USAGE}\nzonegate platforms <subcommand> --help says more.` };
export const RELAY_GROUP: CommandGroup = { name: 'relay', subcommands: Object.keys(SPECS.relay), usage: `${RELAY_USAGE}\nzonegate relay <subcommand> --help says more.` };

export interface PlatformInvocation {
  group: Group;
  name: string;
  parsed: ParsedCommand;
}

/** `zonegate platforms|relay <name> ...rest`, checked before anything is opened. Throws UsageError. */
export function parsePlatformCommand(group: Group, name: string, rest: readonly string[]): PlatformInvocation | HelpRequest {
  const specs = SPECS[group];
  if (!Object.hasOwn(specs, name)) throw new UsageError(`zonegate ${group}: unknown subcommand '${name}'`, (group === 'platforms' ? PLATFORMS_GROUP : RELAY_GROUP).usage);
  const parsed = parseCommand(specs[name]!, rest);
  if (isHelp(parsed)) return parsed;
  return { group, name, parsed };
}

function table(rows: string[][], out: (line: string) => void): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

async function run({ group, name, parsed }: PlatformInvocation, { records, out }: PlatformCliIo): Promise<void> {
  const { values, positionals } = parsed;
  const id = positionals[0]!;
  if (group === 'platforms') {
    const platforms = createTrustedPlatforms(records);
    if (name === 'add') {
      const keyFile = values['public-key'] as string | undefined;
      const input = await readPlatformInput({
        id,
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values['jwks-url'] !== undefined ? { jwksUri: values['jwks-url'] } : {}),
        ...(keyFile !== undefined ? { publicKeyPem: fs.readFileSync(keyFile, 'utf8') } : {}),
        ...(values.algorithm !== undefined ? { algorithm: values.algorithm } : {}),
        subdomainPattern: values.subdomains,
        roleCollections: values['role-collection'] ?? [],
      });
      const created = await platforms.create(input);
      out(`Registered trusted platform ${created.id}: may create tenants "${created.subdomainPattern}", grant ${created.roleCollections.map((c) => `"${c}"`).join(', ') || 'no role collections'}`);
    } else if (name === 'list') {
      const all = await platforms.list();
      if (values.json) return out(JSON.stringify(all, null, 2));
      if (all.length === 0) return out('No trusted platforms.');
      table([['ID', 'KEY', 'SUBDOMAINS', 'ROLE COLLECTIONS'], ...all.map((p) => [p.id, p.jwksUri ?? `PEM (${p.algorithm})`, p.subdomainPattern, p.roleCollections.join(', ') || '-'])], out);
    } else {
      const removed = await platforms.remove(id);
      out(removed ? `Removed trusted platform ${id}` : `No trusted platform "${id}"; nothing to do`);
    }
    return;
  }
  const installations = createRelayInstallations(records);
  if (name === 'add') {
    const created = await installations.create(readInstallationInput({ id, ...(values.name !== undefined ? { name: values.name } : {}), callbackUrls: values.callback ?? [] }));
    out(`Registered relay installation ${created.id}: ${created.callbackUrls.join(' ')}`);
    out(`Secret (HTTP Basic password for POST /platform/v1/relay/states): ${created.secret}`);
    out('The secret is shown only this once.');
  } else if (name === 'list') {
    const all = await installations.list();
    if (values.json) return out(JSON.stringify(all, null, 2));
    if (all.length === 0) return out('No relay installations.');
    table([['ID', 'CALLBACK URLS'], ...all.map((i) => [i.id, i.callbackUrls.join(' ')])], out);
  } else {
    const removed = await installations.remove(id);
    out(removed ? `Removed relay installation ${id}` : `No relay installation "${id}"; nothing to do`);
  }
}

/** Runs a parsed command: exit 0, or 1 with the reason on `err`. */
export async function runPlatformCommand(invocation: PlatformInvocation, io: PlatformCliIo): Promise<number> {
  try {
    await run(invocation, io);
    return 0;
  } catch (err) {
    io.err(`zonegate: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
