import fs from 'node:fs';
import path from 'node:path';
import { readSettings, withDefaultEnv, type Environment, type Settings } from '../config/environment.js';
import { declaredDestinationNames } from '../config/destinations.js';
import { loadRoutesFile, validateRoutesDocument } from '../config/routes.js';
import { readXsSecurity } from '../config/security.js';
import { readClientsBeside, type DeclaredClients } from '../config/clients.js';
import type { RoutesFile, XsSecurity } from '../config/types.js';
import { ConfigError, type ConfigProblem } from '../errors.js';

export interface ConfigurationFiles {
  /** routes.json; default `<cwd>/routes.json`. */
  routes?: string;
  /** xs-security.json; default `<cwd>/xs-security.json` when it exists. */
  security?: string;
  /**
   * routes.json's content, given as an object instead of a file (the library's `routes` option):
   * validated the same, with `routes` (or `<cwd>/routes.json`) as the name problems are reported
   * under and the directory `localDir` is resolved from.
   */
  routesDocument?: unknown;
}

/** Everything the gateway starts from, validated, before anything listens. */
export interface Configuration {
  settings: Settings;
  routesFile: RoutesFile;
  routesPath: string;
  security: XsSecurity | undefined;
  /** clients.json beside xs-security.json (issue 14): the further clients a start applies. */
  clients?: DeclaredClients;
  errorPages: ReadonlyMap<number, string>;
  /** What the files ask for that zonegate ignores or cannot serve: told at start, never refused. */
  warnings: readonly ConfigProblem[];
  /**
   * Reads it all again from where it came from (a reload, src/server/reload.ts): the same environment
   * as given, and the files as they are now, default-env.json included. Throws as loadConfiguration.
   */
  reread?: () => Configuration;
  /** The files a reload reads: what `ZONEGATE_WATCH_CONFIG` watches. */
  watchedFiles?: readonly string[];
}

/**
 * Reads the environment, routes.json and xs-security.json, and reports every problem of all three
 * at once (one ConfigError), so an operator fixes a deployment in one pass. The route table is
 * compiled by the start (src/server/start.ts), once `$XSAPPNAME` is known: the application's
 * instance name (`myapp!t7`) comes from the binding or from the registration in the built-in zones.
 */
export function loadConfiguration(
  env: Environment,
  options: { cwd: string; files?: ConfigurationFiles; defaultPort?: number },
): Configuration {
  const { cwd } = options;
  const problems: ConfigProblem[] = [];
  const collect = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (err) {
      if (err instanceof ConfigError) {
        problems.push(...err.problems);
        return undefined;
      }
      throw err;
    }
  };

  const merged = withDefaultEnv(env, cwd);
  problems.push(...merged.problems);
  const settings = collect(() => readSettings(merged.env, { cwd, defaultPort: options.defaultPort }));

  const routesPath = path.resolve(cwd, options.files?.routes ?? 'routes.json');
  // From the names the variable declares, not from the settings: another variable's problem (or one
  // bad destination) leaves no settings, and every route would then be reported as pointing nowhere.
  const destinationNames = declaredDestinationNames(merged.env.destinations);
  const routesDocument = options.files?.routesDocument;
  const loaded = routesDocument !== undefined
    ? collect(() => validateRoutesDocument(structuredClone(routesDocument), routesPath, { destinationNames }))
    : fs.existsSync(routesPath)
    ? collect(() => loadRoutesFile(routesPath, { destinationNames }))
    : (problems.push({ file: routesPath, path: '', message: 'file not found (zonegate reads routes.json from the working directory, or the file named by --routes)' }), undefined);

  const securityPath = options.files?.security
    ? path.resolve(cwd, options.files.security)
    : fs.existsSync(path.join(cwd, 'xs-security.json'))
      ? path.join(cwd, 'xs-security.json')
      : undefined;
  const security = securityPath ? collect(() => readXsSecurity(securityPath)) : undefined;
  const clients = securityPath && security ? collect(() => readClientsBeside(securityPath, security.security)) : undefined;

  const errorPages = new Map<number, string>();
  for (const [i, page] of (loaded?.config.errorPage ?? []).entries()) {
    const file = path.resolve(path.dirname(routesPath), page.file.replace(/^\//, ''));
    try {
      const html = fs.readFileSync(file, 'utf8');
      for (const status of Array.isArray(page.status) ? page.status : [page.status]) errorPages.set(status, html);
    } catch (err) {
      problems.push({ file: routesPath, path: `/errorPage/${i}/file`, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    }
  }

  if (problems.length || !settings || !loaded) throw new ConfigError(problems);
  return {
    settings,
    routesFile: loaded.config,
    routesPath,
    security: security?.security,
    ...(clients ? { clients } : {}),
    errorPages,
    warnings: [...loaded.warnings, ...(security?.warnings ?? [])],
    reread: () => loadConfiguration(env, options),
    watchedFiles: [...(routesDocument === undefined ? [routesPath] : []), path.join(cwd, 'default-env.json'), ...errorPageFiles(loaded.config, routesPath)],
  };
}

function errorPageFiles(routesFile: RoutesFile, routesPath: string): string[] {
  return (routesFile.errorPage ?? []).map((page) => path.resolve(path.dirname(routesPath), page.file.replace(/^\//, '')));
}
