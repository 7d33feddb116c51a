/**
 * zonegate as a library (issue 17, Operate), as `require('@sap/approuter')().start(options)` is used:
 * `start(options)` runs the gateway `zonegate start` runs, in the caller's process, with its own
 * routes, destinations and environment, and extension middleware at SAP's extension points. This
 * module is an entry point: it, like src/cli.ts, may read `process.env` (only as the default).
 */
import type http from 'node:http';
import type { Environment } from './config/environment.js';
import type { RoutesFile } from './config/types.js';
import { createLogger, type Level, type LogSink } from './log.js';
import { loadConfiguration } from './server/configuration.js';
import type { Extensions } from './server/extensions.js';
import type { ReloadOutcome } from './server/reload.js';
import { describeStartupError, startGateway } from './server/start.js';

export { requestContext } from './server/extensions.js';
export type { ExtensionErrorHandler, ExtensionHandler, Extensions, GatewayRequestContext, Mounted, Next } from './server/extensions.js';
export type { ReloadOutcome } from './server/reload.js';
export type { RoutesFile } from './config/types.js';
export type { GatewayError } from './errors.js';
export type { Level, LogSink } from './log.js';

/** A destination as the `destinations` environment variable holds one (SAP's approuter's properties, and `maxSockets`). */
export interface DestinationInput {
  name: string;
  url: string;
  forwardAuthToken?: boolean;
  /** Milliseconds; default 30000. */
  timeout?: number;
  maxSockets?: number;
  setXForwardedHeaders?: boolean;
  strictSSL?: boolean;
  proxyHost?: string;
  proxyPort?: number;
  /** Other properties (SAP's destination service adds many) are accepted and ignored. */
  [other: string]: unknown;
}

/** SAP's approuter's extension objects: `{ insertMiddleware: { first, beforeRequestHandler, beforeErrorHandler } }`. */
export interface ApprouterExtension {
  insertMiddleware: Extensions;
}

export interface StartOptions {
  /** Where routes.json, xs-security.json, default-env.json and the data directory (`.zonegate`) are; default `process.cwd()`. */
  cwd?: string;
  /** The environment the settings are read from (PORT, TENANT_HOST_PATTERN, VCAP_SERVICES, ...): all of it; default `process.env`. */
  env?: Environment;
  /** routes.json: a file name (relative to `cwd`) or its content; default `<cwd>/routes.json`. */
  routes?: string | RoutesFile;
  /** xs-security.json's file name; default `<cwd>/xs-security.json` when it exists. */
  security?: string;
  /** The destinations, in place of the environment's `destinations`. */
  destinations?: readonly DestinationInput[];
  /** The port to listen on, in place of PORT; 0: any free port (see `Gateway.port`). */
  port?: number;
  /** Extension middleware: one set, or SAP's list of extensions (their handlers run in the list's order). */
  extensions?: Extensions | readonly ApprouterExtension[];
  /** Reload when routes.json or default-env.json change; default ZONEGATE_WATCH_CONFIG. */
  watch?: boolean;
  /** JSON log lines: their level (default LOG_LEVEL, else info) and where they go (default stdout). */
  log?: { level?: Level; sink?: LogSink };
}

export interface Gateway {
  /** The port it listens on. */
  readonly port: number;
  /** The Node server it answers on. */
  readonly server: http.Server;
  /** Reads routes.json and the destinations again, as SIGHUP does for `zonegate start`; an invalid configuration is refused. */
  reload(): Promise<ReloadOutcome>;
  /** Stops gracefully: no new connections, requests under way finish, then the stores close. */
  stop(): Promise<void>;
  /** The same as stop(). */
  close(): Promise<void>;
}

/**
 * Starts a gateway. Rejects with an Error whose message lists every configuration problem (the
 * file or variable, the JSON path, what was expected), as `zonegate start` prints them.
 */
export async function start(options: StartOptions = {}): Promise<Gateway> {
  const cwd = options.cwd ?? process.cwd();
  const env: Record<string, string | undefined> = { ...(options.env ?? process.env) };
  if (options.destinations) env.destinations = JSON.stringify(options.destinations);
  if (options.port !== undefined) env.PORT = String(options.port);
  const routes = options.routes;
  let config;
  try {
    config = loadConfiguration(env, {
      cwd,
      files: typeof routes === 'object' ? { routesDocument: routes, security: options.security } : { routes, security: options.security },
    });
  } catch (err) {
    throw new Error(describeStartupError(err), { cause: err });
  }
  const logger = createLogger({ level: options.log?.level ?? config.settings.logLevel, sink: options.log?.sink, format: config.settings.logFormat });
  for (const w of config.warnings) logger.warn('configuration', { file: w.file, path: w.path, problem: w.message });
  const running = await startGateway(config, { logger, extensions: extensionsOf(options.extensions), watch: options.watch }).catch((err: unknown) => {
    throw new Error(describeStartupError(err), { cause: err });
  });
  logger.info('listening', { port: running.port });
  const stop = () => running.stop();
  return { port: running.port, server: running.gateway.server, reload: running.reload, stop, close: stop };
}

export default start;

/** SAP's list of extensions as one set: each point's handlers in the list's order. */
function extensionsOf(given: StartOptions['extensions']): Extensions | undefined {
  if (given === undefined) return undefined;
  if (!Array.isArray(given)) return given as Extensions;
  const points = (given as readonly ApprouterExtension[]).map((e) => e.insertMiddleware);
  return {
    first: points.flatMap((p) => p.first ?? []),
    beforeRequestHandler: points.flatMap((p) => p.beforeRequestHandler ?? []),
    beforeErrorHandler: points.flatMap((p) => p.beforeErrorHandler ?? []),
  };
}
