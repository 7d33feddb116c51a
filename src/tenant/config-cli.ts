/**
 * `zonegate tenants config get|set|unset|credential <subdomain>`: a tenant's configuration
 * (./configuration.ts) and its metadata credential (./metadata.ts), written to the records database
 * with a change notice, so running gateways serve it within a second, without a restart.
 *
 *   set        --json DOC | --file FILE: replaces the tenant's document (validated against the
 *              application's `destinations`; every problem at once)
 *   get        prints the document (JSON)
 *   unset      removes the document and the metadata credential
 *   credential makes a new metadata credential, printed once (only its digest is stored)
 */
import fs from 'node:fs';
import type { Destination } from '../config/types.js';
import { ConfigError, formatProblem } from '../errors.js';
import type { ParsedCommand } from '../cli/args.js';
import { EMPTY_CONFIGURATION, isTenantSubdomain, setTenantConfiguration, type TenantConfigurations } from './configuration.js';
import { issueMetadataCredential } from './metadata.js';

export interface TenantConfigIo {
  store: TenantConfigurations;
  /** The application's destinations (the `destinations` variable): what overrides may name. */
  destinations: readonly Destination[];
  out: (line: string) => void;
  err: (line: string) => void;
}

export const CONFIG_ACTIONS = ['get', 'set', 'unset', 'credential'] as const;

/** Runs one action: 0 done, 1 refused (the reason on `err`), 2 a usage error. */
export async function runTenantConfigCommand({ positionals, values }: ParsedCommand, io: TenantConfigIo): Promise<number> {
  const [action, subdomain] = positionals as [string, string];
  if (!(CONFIG_ACTIONS as readonly string[]).includes(action)) {
    io.err(`zonegate tenants config: unknown action '${action}' (${CONFIG_ACTIONS.join(', ')})`);
    return 2;
  }
  if (!isTenantSubdomain(subdomain)) {
    io.err(`zonegate tenants config: "${subdomain}" is not a tenant subdomain (lower-case letters, digits and hyphens)`);
    return 2;
  }
  try {
    if (action === 'get') {
      const stored = await io.store.get(subdomain);
      io.out(JSON.stringify(stored?.configuration ?? EMPTY_CONFIGURATION, null, 2));
      return 0;
    }
    if (action === 'unset') {
      const removed = await io.store.delete(subdomain);
      io.out(removed ? `Tenant ${subdomain}: configuration and metadata credential removed` : `Tenant ${subdomain} has no configuration; nothing to do`);
      return 0;
    }
    if (action === 'credential') {
      const credential = await issueMetadataCredential(io.store, subdomain);
      io.out(`Metadata credential of tenant ${subdomain} (it replaces any earlier one): ${credential}`);
      io.out('It is shown only this once; the gateway keeps only its digest.');
      return 0;
    }
    const json = values.json as string | undefined;
    const file = values.file as string | undefined;
    if ((json === undefined) === (file === undefined)) {
      io.err('zonegate tenants config set: give the document with --json DOC or --file FILE (one of them)');
      return 2;
    }
    const source = file ?? 'the --json document';
    let doc: unknown;
    try {
      doc = JSON.parse(file !== undefined ? fs.readFileSync(file, 'utf8') : json!);
    } catch (err) {
      io.err(`zonegate: ${source} is not readable JSON: ${(err as Error).message}`);
      return 1;
    }
    const configuration = await setTenantConfiguration(io.store, subdomain, doc, io.destinations, source);
    const overrides = Object.keys(configuration.destinations);
    io.out(`Tenant ${subdomain}: configuration stored (${overrides.length ? `overrides ${overrides.join(', ')}` : 'no destination overrides'}, ${Object.keys(configuration.settings).length} settings)`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`zonegate: the tenant configuration is invalid (${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}):`);
      for (const p of err.problems) io.err(formatProblem(p));
    } else io.err(`zonegate: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
