import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type http from 'node:http';
import { fileURLToPath } from 'node:url';
import { seedDemoZones } from '../../src/demo/demo.js';
import { createEchoBackend, listenEcho } from '../../src/demo/echo-backend.js';
import { createMemoryLogger } from '../../src/log.js';
import { loadConfiguration } from '../../src/server/configuration.js';
import { startGateway, type RunningGateway } from '../../src/server/start.js';

export interface TestGateway {
  port: number;
  running: RunningGateway;
  logs: string[];
  dir: string;
  echoUrl: string;
  stop(): Promise<void>;
}

/**
 * A real gateway on port 0 in front of a real echo backend, configured through the same loader as
 * production (routes.json written to a temp dir). `destinations` may use "ECHO" as a URL placeholder.
 */
export async function startTestGateway(options: {
  routes: object;
  env?: Record<string, string>;
  destinations?: object[];
  files?: Record<string, string>;
}): Promise<TestGateway> {
  const echo = createEchoBackend();
  const echoUrl = await listenEcho(echo);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-test-'));
  fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify(options.routes));
  for (const [name, content] of Object.entries(options.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  const destinations = (options.destinations ?? [{ name: 'echo', url: 'ECHO' }]).map((d) =>
    JSON.parse(JSON.stringify(d).replaceAll('"ECHO', `"${echoUrl}`)),
  );
  const config = loadConfiguration(
    { ZONEGATE_DATA_DIR: path.join(dir, 'data'), destinations: JSON.stringify(destinations), ...options.env },
    { cwd: dir },
  );
  const logger = createMemoryLogger('info');
  const running = await startGateway(config, { logger, port: 0 });
  return {
    port: running.port,
    running,
    logs: logger.lines,
    dir,
    echoUrl,
    async stop() {
      await running.stop();
      const closed = new Promise<void>((resolve) => (echo as http.Server).close(() => resolve()));
      echo.closeAllConnections();
      await closed;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The gateway as `npm start` runs it: the sample routes.json and xs-security.json, the built-in zones
 * in the process on `<tenant>.auth.localhost`, tenants from `<tenant>.localhost`, and the demo's
 * tenants and users seeded. `env` adds to (or overrides) that environment; `extraRoutes` go before the sample's routes.
 */
export async function startDemoGateway(env: Record<string, string> = {}, extraRoutes: object[] = []): Promise<TestGateway> {
  const routes = JSON.parse(fs.readFileSync(path.join(ROOT, 'routes.json'), 'utf8')) as { routes: object[] };
  // Routes a test adds come first, so they win over the sample's catch-all.
  routes.routes = [...extraRoutes, ...routes.routes];
  const gw = await startTestGateway({
    routes,
    files: {
      'xs-security.json': fs.readFileSync(path.join(ROOT, 'xs-security.json'), 'utf8'),
      'public/index.html': '<!doctype html><title>demo</title>',
    },
    destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
    env: { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$', UAA_DOMAIN: 'auth.localhost', SESSION_KEYS: 'k1:' + 'a'.repeat(40), ...env },
  });
  await seedDemoZones(gw.running.directory!, gw.running.credentials!.clientid);
  return gw;
}
