import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { compileRouteTable } from '../routing/route-table.js';
import { openStorage } from '../storage/index.js';
import type { Storage } from '../storage/types.js';
import type { Configuration } from './configuration.js';
import { createGateway, type Gateway } from './gateway.js';

export interface RunningGateway {
  gateway: Gateway;
  port: number;
  storage: Storage;
  /** Graceful stop, then the storage is closed. */
  stop(): Promise<void>;
}

/**
 * Starts the gateway from a validated Configuration: opens storage, assembles the pipeline and
 * listens. Nothing here reads the environment; the caller passed everything in.
 */
export async function startGateway(config: Configuration, options: { logger: Logger; port?: number }): Promise<RunningGateway> {
  const { settings, routesFile } = config;
  const storage = await openStorage(settings.storage);
  const routes = compileRouteTable(routesFile, {
    destinations: new Map(settings.destinations.map((d) => [d.name, d])),
    baseDir: path.dirname(config.routesPath),
    xsappname: settings.xsuaa?.xsappname,
  });
  const gateway = createGateway({
    settings,
    routesFile,
    routes,
    logger: options.logger,
    storage,
    errorPages: config.errorPages,
  });
  let port: number;
  try {
    port = await gateway.listen(options.port ?? settings.port, settings.host);
  } catch (err) {
    await storage.close();
    throw err;
  }
  return {
    gateway,
    port,
    storage,
    async stop() {
      await gateway.shutdown();
      await storage.close();
    },
  };
}

/** Prints a ConfigError the way an operator reads it: every problem, one per line. */
export function describeStartupError(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return `The port is already in use (${e.message}). Set PORT to another port.`;
  return e.stack ?? String(err);
}
