import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Environment } from '../config/environment.js';
import { createLogger } from '../log.js';
import { loadConfiguration } from '../server/configuration.js';
import { untilSignal } from '../server/signals.js';
import { describeStartupError, startGateway } from '../server/start.js';
import { createEchoBackend, listenEcho } from './echo-backend.js';

/** The package root: the demo uses the sample routes.json, xs-security.json and public/ shipped with it. */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const DEMO_TENANTS = ['acme', 'globex'] as const;

/**
 * `npm start`: the whole thing on embedded defaults, nothing installed. An echo backend, the sample
 * routes.json, tenants on `<tenant>.localhost` (RFC 6761: browsers and curl resolve every
 * `*.localhost` name to this machine). Anything set in the environment still wins.
 */
export async function runDemo(options: { env: Environment; cwd: string }): Promise<number> {
  const echo = createEchoBackend();
  const echoUrl = await listenEcho(echo);
  const env: Environment = {
    TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$',
    ZONEGATE_DATA_DIR: path.join(PACKAGE_ROOT, '.zonegate'),
    ...options.env,
    destinations: options.env.destinations ?? JSON.stringify([{ name: 'echo', url: echoUrl }]),
  };
  let config;
  try {
    config = loadConfiguration(env, { cwd: PACKAGE_ROOT });
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    echo.close();
    return 1;
  }
  const logger = createLogger({ level: config.settings.logLevel });
  let running;
  try {
    running = await startGateway(config, { logger });
  } catch (err) {
    process.stderr.write(`${describeStartupError(err)}\n`);
    echo.close();
    return 1;
  }
  const base = (tenant: string) => `http://${tenant}.localhost:${running.port}`;
  process.stdout.write(
    [
      '',
      'zonegate demo is running. Open:',
      ...DEMO_TENANTS.map((t) => `  tenant ${t.padEnd(8)} ${base(t)}/`),
      `  public route    ${base('acme')}/echo/hello   (the echo backend shows what the gateway forwards)`,
      `  health          http://localhost:${running.port}/healthz  and  /readyz`,
      '  (*.localhost names resolve to this machine in browsers and curl, RFC 6761.)',
      'Stop with Ctrl+C.',
      '',
      '',
    ].join('\n'),
  );
  const stopped = await untilSignal(async () => {
    await running.stop();
    echo.close();
  }, logger);
  return stopped;
}
