/**
 * `zonegate apps deploy|list|remove`: the HTML5 application repository from the command line, as
 * SAP's HTML5 application deployer fills its repository. The commands need the records database only
 * (DATABASE_URL, else <data dir>/records.db): they run beside running gateways, which serve a
 * deployment within seconds (./serve.ts, versionTtlMs).
 *
 * Exit codes: 0 done, 1 refused or failed (the message names package, file and JSON path), 2 usage.
 */
import { commandUsage, isHelp, parseCommand, pickSubcommand, UsageError, type CommandGroup, type CommandSpec, type HelpRequest } from '../cli/args.js';
import { ZonegateError } from '../errors.js';
import type { Logger } from '../log.js';
import { describeRecords, openRecords, RecordsOpenError, type RecordsConfig } from '../records/index.js';
import type { RecordsDatabase } from '../records/types.js';
import { AppInvalid, readAppPackage } from './package.js';
import { createHtml5AppStore, type DeployedApp } from './store.js';

type AppsCommandName = 'deploy' | 'list' | 'remove';

const SPECS: Record<AppsCommandName, CommandSpec> = {
  deploy: {
    name: 'apps deploy',
    synopsis: '<dir|zip>...',
    details: `Deploys built HTML5 applications (manifest.json at the root names each by sap.app.id and
sap.app.applicationVersion.version; its xs-app.json routes inside it), all in one transaction:
every one, or none. The new version becomes current; earlier ones stay at /<app>-<version>/.`,
  },
  list: { name: 'apps list', synopsis: '[--json]', details: 'Lists the deployed applications, one line per version.', options: { json: { type: 'boolean' } } },
  remove: {
    name: 'apps remove',
    synopsis: '<app> [--version VERSION]',
    details: `Removes one version of an application (the newest remaining becomes current), or, without
--version, the application with all its versions. <app> is the URL name: sap.app.id without dots.`,
    options: { version: { type: 'string' } },
    positionals: ['app'],
  },
};

export const APPS_USAGE = `Usage:
${Object.values(SPECS).map((spec) => `  zonegate ${spec.name}${spec.synopsis ? ` ${spec.synopsis}` : ''}`).join('\n')}`;

export const APPS_GROUP: CommandGroup = { name: 'apps', subcommands: Object.keys(SPECS), usage: APPS_USAGE };

export type AppsCommand = { name: 'deploy'; sources: string[] } | { name: 'list'; json: boolean } | { name: 'remove'; app: string; version?: string };

export interface AppsCliIo {
  records: RecordsConfig;
  logger?: Logger;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** `args`: what follows `apps`. Throws UsageError. */
export function parseAppsCommand(args: readonly string[]): AppsCommand | HelpRequest {
  const picked = pickSubcommand(APPS_GROUP, args);
  if (isHelp(picked)) return picked;
  const name = picked.name as AppsCommandName;
  if (name === 'deploy') {
    // Any number of packages: as many positionals as there are arguments (deploy has no options).
    const count = Math.max(1, picked.rest.filter((a) => !a.startsWith('-')).length);
    const parsed = parseCommand({ ...SPECS.deploy, positionals: Array.from({ length: count }, () => 'dir|zip') }, picked.rest);
    return isHelp(parsed) ? parsed : { name, sources: parsed.positionals };
  }
  const parsed = parseCommand(SPECS[name], picked.rest);
  if (isHelp(parsed)) return parsed;
  if (name === 'list') return { name, json: parsed.values.json === true };
  const version = parsed.values.version as string | undefined;
  if (version !== undefined && !/^\d+\.\d+\.\d+$/.test(version)) throw new UsageError(`zonegate apps remove: --version expects major.minor.patch, got '${version}'`, commandUsage(SPECS.remove));
  return { name, app: parsed.positionals[0]!, ...(version !== undefined ? { version } : {}) };
}

export async function runAppsCommand(command: AppsCommand, io: AppsCliIo): Promise<number> {
  let db: RecordsDatabase | undefined;
  try {
    // Read and check every package before the database is opened: a bad one costs no connection.
    const packages = command.name === 'deploy' ? await Promise.all(command.sources.map((s) => readAppPackage(s))) : [];
    db = await openRecords(io.records, io.logger);
    const store = createHtml5AppStore(db);
    if (command.name === 'deploy') {
      for (const outcome of await store.deploy(packages)) {
        const what = outcome.outcome === 'deployed' ? 'Deployed' : 'Unchanged (already deployed, now current)';
        io.out(`${what}: ${outcome.appId} ${outcome.version}, served at /${outcome.name}/ and /${outcome.name}-${outcome.version}/`);
      }
      return 0;
    }
    if (command.name === 'list') {
      const apps = await store.list();
      if (command.json) io.out(JSON.stringify(apps, null, 2));
      else if (apps.length === 0) io.out(`No applications deployed (records database ${describeRecords(io.records)}).`);
      else for (const line of table(apps)) io.out(line);
      return 0;
    }
    const removed = await store.remove(command.app, command.version);
    for (const app of removed) io.out(`Removed: ${app.appId} ${app.version}`);
    return 0;
  } catch (err) {
    if (err instanceof AppInvalid) {
      io.err(`zonegate: ${err.message}`);
      io.err('Nothing was deployed.');
      return 1;
    }
    if (err instanceof RecordsOpenError) {
      io.err(`zonegate: ${err.message}`);
      return 1;
    }
    if (err instanceof ZonegateError && err.expose) {
      io.err(`zonegate: ${err.message}${command.name === 'deploy' ? '\nNothing was deployed.' : ''}`);
      return 1;
    }
    throw err;
  } finally {
    await db?.close();
  }
}

function table(apps: readonly DeployedApp[]): string[] {
  const rows = [
    ['APP', 'VERSION', 'CURRENT', 'SAP.APP.ID', 'SERVICE', 'PUBLIC', 'FILES', 'BYTES', 'DEPLOYED'],
    ...apps.map((a) => [a.name, a.version, a.current ? 'yes' : '', a.appId, a.service ?? '', a.public ? 'yes' : 'no', String(a.fileCount), String(a.totalBytes), a.deployedAt]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}
