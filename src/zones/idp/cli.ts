/**
 * `zonegate idps ...` and `zonegate role-mappings ...` (issue 13): a zone's identity providers and
 * role collection mappings from the command line, for operators. The same documents, checks and
 * store as the admin API's `/identity-providers` (./admin.ts): `idps create` takes the JSON body a
 * POST takes (secrets sealed, the discovery document or SAML metadata fetched first), and
 * `role-mappings set` replaces a provider's mappings whole, as the PUT does.
 *
 * Exit codes: 0 done, 1 refused or failed (message on `err`), 2 usage error.
 */
import fs from 'node:fs';
import { commandUsage, isHelp, parseCommand, UsageError, type CommandGroup, type CommandSpec, type HelpRequest, type ParsedCommand } from '../../cli/args.js';
import type { RecordsDatabase } from '../../records/types.js';
import { createZoneDirectory } from '../directory/directory.js';
import { DirectoryError } from '../directory/errors.js';
import type { Zone } from '../directory/types.js';
import { checkIdentityProviderReachable } from './admin.js';
import { identityProviderView, readIdentityProvider, readMappings } from './config.js';
import { CALLBACK_PREFIX } from './login.js';
import { SAML_METADATA_PREFIX } from './saml.js';
import { createIdentityProviderStore, type IdentityProviderStore } from './store.js';
import type { IdentityProvider } from './types.js';

export interface IdpCliIo {
  records: RecordsDatabase;
  /** ZONEGATE_SECRET_KEY: seals the OIDC client secret and the user backend's shared secret. */
  secretKey?: Uint8Array;
  /** The public base URL of a zone, for the redirect URI / SP metadata URL printed after `create`. */
  zoneUrl?: (subdomain: string) => string;
  /** What `--file -` reads. */
  stdin?: () => string;
  out: (line: string) => void;
  err: (line: string) => void;
}

type Group = 'idps' | 'role-mappings';

interface Command extends Omit<CommandSpec, 'name'> {
  summary: string;
  run(args: ParsedCommand, ctx: { store: IdentityProviderStore; zone: Zone; io: IdpCliIo }): Promise<void>;
}

class CommandError extends Error {}

const json = { json: { type: 'boolean' } } as const;

function table(rows: string[][], out: (line: string) => void): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

async function byOrigin(store: IdentityProviderStore, zone: Zone, originKey: string): Promise<IdentityProvider> {
  const idp = await store.getByOrigin(zone.id, originKey);
  if (!idp) throw new CommandError(`No identity provider with originKey "${originKey}" in zone ${zone.subdomain}`);
  return idp;
}

function readJsonFile(file: string, io: IdpCliIo): unknown {
  let text: string;
  try {
    text = file === '-' ? (io.stdin ?? (() => fs.readFileSync(0, 'utf8')))() : fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CommandError(`Cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CommandError(`${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const COMMANDS: Record<Group, Record<string, Command>> = {
  idps: {
    create: {
      positionals: ['subdomain'],
      synopsis: '<subdomain> --file FILE',
      summary: 'an OIDC, SAML or user-backend provider from its JSON document',
      details: `Adds an identity provider to the zone from FILE (- reads stdin): the JSON document the admin
API's POST /identity-providers takes ({"type": "oidc1.0" | "saml" | "userbackend", "originKey", "name",
"config": {...}}). Secrets are sealed with ZONEGATE_SECRET_KEY; the discovery document or SAML metadata
must answer first.`,
      options: { file: { type: 'string' } },
      async run({ values }, { store, zone, io }) {
        const input = readIdentityProvider(readJsonFile(values.file as string, io));
        await checkIdentityProviderReachable(input);
        const idp = await store.create(zone.id, input);
        io.out(`Created identity provider ${idp.originKey} (${idp.type}, id ${idp.id}) in zone ${zone.subdomain}`);
        const base = io.zoneUrl?.(zone.subdomain);
        if (base && idp.type === 'oidc1.0') io.out(`Register this redirect URI at the IdP: ${base}${CALLBACK_PREFIX}${idp.originKey}`);
        if (base && idp.type === 'saml') io.out(`Give the IdP the zone's SP metadata: ${base}${SAML_METADATA_PREFIX}${idp.originKey}`);
      },
    },
    list: {
      positionals: ['subdomain'],
      synopsis: '<subdomain> [--json]',
      summary: 'the zone\'s providers (never their secrets)',
      options: json,
      async run({ values }, { store, zone, io }) {
        const idps = await store.list(zone.id);
        if (values.json) return io.out(JSON.stringify(idps.map(identityProviderView), null, 2));
        if (idps.length === 0) return io.out(`No identity providers in zone ${zone.subdomain}.`);
        table([['ORIGIN', 'TYPE', 'ACTIVE', 'NAME', 'ID'], ...idps.map((p) => [p.originKey, p.type, p.active ? 'yes' : 'no', p.name, p.id])], io.out);
      },
    },
    delete: {
      positionals: ['subdomain', 'originKey'],
      synopsis: '<subdomain> <originKey>',
      summary: 'removes the provider and its mappings',
      details: 'Removes the provider and its role collection mappings; its shadow users stay but can no longer log in.',
      async run({ positionals: [, originKey] }, { store, zone, io }) {
        const idp = await byOrigin(store, zone, originKey!);
        await store.remove(zone.id, idp.id);
        io.out(`Deleted identity provider ${idp.originKey} from zone ${zone.subdomain}`);
      },
    },
  },
  'role-mappings': {
    set: {
      positionals: ['subdomain', 'originKey'],
      synopsis: '<subdomain> <originKey> (--map GROUP=ROLE_COLLECTION ... | --clear)',
      summary: 'replaces the provider\'s mappings',
      details: `Replaces the provider's role collection mappings: a user whose IdP asserts GROUP gets ROLE_COLLECTION
at each login (XSUAA's role collection mappings). --clear removes them all.`,
      options: { map: { type: 'string', multiple: true }, clear: { type: 'boolean' } },
      async run({ positionals: [, originKey], values }, { store, zone, io }) {
        const pairs = (values.map as string[] | undefined) ?? [];
        const body = pairs.map((pair) => {
          const eq = pair.indexOf('=');
          if (eq <= 0) throw new CommandError(`--map ${pair}: expected GROUP=ROLE_COLLECTION`);
          return { group: pair.slice(0, eq), roleCollection: pair.slice(eq + 1) };
        });
        const idp = await byOrigin(store, zone, originKey!);
        const mappings = await store.replaceMappings(zone.id, idp.originKey, readMappings(body));
        if (mappings.length === 0) return io.out(`Identity provider ${idp.originKey} has no role collection mappings now.`);
        io.out(`Role collection mappings of ${idp.originKey} in zone ${zone.subdomain}:`);
        for (const m of mappings) io.out(`  ${m.group} -> ${m.roleCollection}`);
      },
    },
    list: {
      positionals: ['subdomain', 'originKey'],
      synopsis: '<subdomain> <originKey> [--json]',
      summary: 'the provider\'s mappings',
      options: json,
      async run({ positionals: [, originKey], values }, { store, zone, io }) {
        const idp = await byOrigin(store, zone, originKey!);
        const mappings = await store.mappings(zone.id, idp.originKey);
        if (values.json) return io.out(JSON.stringify(mappings, null, 2));
        if (mappings.length === 0) return io.out(`Identity provider ${idp.originKey} has no role collection mappings.`);
        table([['GROUP', 'ROLE COLLECTION'], ...mappings.map((m) => [m.group, m.roleCollection])], io.out);
      },
    },
  },
};

function specOf(group: Group, name: string): CommandSpec {
  const { run: _run, summary: _summary, ...spec } = COMMANDS[group][name]!;
  return { name: `${group} ${name}`, ...spec };
}

function usageLines(group: Group): string[] {
  return Object.entries(COMMANDS[group]).map(([name, c]) => {
    const line = `  zonegate ${group} ${name} ${c.synopsis ?? ''}`.trimEnd();
    return `${line}\n${' '.repeat(18)}${c.summary}`;
  });
}

export const IDP_USAGE = `Usage:\n${[...usageLines('idps'), ...usageLines('role-mappings')].join('\n')}`;

export function idpGroup(group: Group): CommandGroup {
  return { name: group, subcommands: Object.keys(COMMANDS[group]), usage: `Usage:\n${usageLines(group).join('\n')}\nzonegate ${group} <subcommand> --help says more.` };
}

export const IDP_GROUPS: readonly Group[] = ['idps', 'role-mappings'];

export interface IdpInvocation {
  group: Group;
  name: string;
  parsed: ParsedCommand;
  usage: string;
}

/** Checked without opening anything: help, unknown options, arguments, required options. Throws UsageError. */
export function parseIdpCommand(group: Group, name: string, rest: readonly string[]): IdpInvocation | HelpRequest {
  if (!Object.hasOwn(COMMANDS[group], name)) throw new UsageError(`zonegate ${group}: unknown subcommand '${name}'`, idpGroup(group).usage);
  const spec = specOf(group, name);
  const parsed = parseCommand(spec, rest);
  if (isHelp(parsed)) return parsed;
  const usage = commandUsage(spec);
  if (group === 'idps' && name === 'create' && typeof parsed.values.file !== 'string') throw new UsageError('zonegate idps create: needs --file FILE (- for stdin)', usage);
  if (group === 'role-mappings' && name === 'set') {
    const maps = (parsed.values.map as string[] | undefined) ?? [];
    if ((maps.length === 0) === (parsed.values.clear !== true)) throw new UsageError('zonegate role-mappings set: needs --map GROUP=ROLE_COLLECTION (one or more) or --clear', usage);
  }
  return { group, name, parsed, usage };
}

export async function runIdpCommand(invocation: IdpInvocation, io: IdpCliIo): Promise<number> {
  try {
    const directory = createZoneDirectory(io.records, io.secretKey !== undefined ? { secretKey: io.secretKey } : {});
    const subdomain = invocation.parsed.positionals[0]!;
    const zone = await directory.getZoneBySubdomain(subdomain);
    if (!zone) throw new CommandError(`No zone with subdomain "${subdomain}"`);
    const store = createIdentityProviderStore(io.records, directory, io.secretKey !== undefined ? { secretKey: io.secretKey } : {});
    await COMMANDS[invocation.group][invocation.name]!.run(invocation.parsed, { store, zone, io });
    return 0;
  } catch (err) {
    if (!(err instanceof CommandError) && !(err instanceof DirectoryError)) throw err;
    io.err(`zonegate: ${err.message}`);
    return 1;
  }
}
