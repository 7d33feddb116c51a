import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { readSettings } from '../../src/config/environment.js';
import type { RoutesFile } from '../../src/config/types.js';
import { validateRoutesDocument } from '../../src/config/routes.js';
import { createEchoBackend, listenEcho } from '../../src/demo/echo-backend.js';
import { createForwardAuth } from '../../src/forward-auth/forward-auth.js';
import { setUpLogin } from '../../src/login/index.js';
import type { FetchLike } from '../../src/login/relying-party.js';
import { createMemoryLogger } from '../../src/log.js';
import { compileRouteTable } from '../../src/routing/route-table.js';
import type { Html5Apps } from '../../src/html5-apps/serve.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/types.js';
import type { Application, User } from '../../src/zones/directory/types.js';
import { PASSWORD, security, startZones, type Harness } from '../zones/oauth/harness.js';
import { hiddenFields, ScriptedBrowser } from './browser.js';

export const LOGIN_ROUTES = {
  authenticationMethod: 'route',
  logout: { logoutEndpoint: '/logout', logoutPage: '/bye.html' },
  routes: [
    { source: '^/public/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' },
    { source: '^/api/(.*)$', target: '/$1', destination: 'echo', scope: '$XSAPPNAME.Viewer' },
    { source: '^/admin/(.*)$', target: '/admin/$1', destination: 'echo', scope: { GET: '$XSAPPNAME.Viewer', default: '$XSAPPNAME.Admin' } },
    { source: '^/nocsrf/(.*)$', target: '/$1', destination: 'echo', csrfProtection: false },
    { source: '^/noforward/(.*)$', target: '/$1', destination: 'plain' },
    { source: '^/user-api(.*)', target: '$1', service: 'sap-approuter-userapi' },
  ],
};

export interface LoginStack {
  zones: Harness;
  app: Application;
  secret: string;
  users: { alice: User; bob: User; carol: User };
  gateways: { port: number; gateway: Gateway; storage: Storage; logs: string[] }[];
  /** `http://<tenant>.gw.localhost:<port of gateway i>` */
  base(tenant: string, i?: number): string;
  login(browser: ScriptedBrowser, tenant: string, userName: string, path?: string, i?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The whole login path over real HTTP: identity zones on their own server (uaadomain `localhost`,
 * zones at `<tenant>.localhost`), an echo backend, and one or more gateways on
 * `<tenant>.gw.localhost`, logging in exactly as against an external XSUAA.
 */
export async function startLoginStack(
  options: {
    instances?: number;
    redisUrl?: string;
    /** Redis command timeout (ms) of each gateway's storage; short in tests that stall Redis. */
    redisCommandTimeoutMs?: number;
    tokenValidity?: number;
    refreshAheadMs?: number;
    routes?: object;
    destinations?: { name: string; url: string }[];
    /** The fetch the gateways call the zones with (default: the gateway's own), e.g. to act at a precise step of a refresh. */
    fetch?: FetchLike;
    /** More gateway environment (e.g. TRUSTED_PROXIES, to test behind a TLS-terminating proxy; TENANT_HOST_PATTERN '' for none). */
    env?: Record<string, string>;
    /** Deployed HTML5 applications (src/html5-apps/), made with the registered application's xsappname. */
    html5Apps?: (xsappname: string) => Html5Apps;
    /** FORWARD_AUTH's paths on the gateways (src/forward-auth/); set TRUSTED_PROXIES in `env` too. */
    forwardAuth?: boolean;
    /** The application's redirect-uris (default: the callback on every `*.gw.localhost` host). */
    redirectUris?: string[];
  } = {},
): Promise<LoginStack> {
  const zones = await startZones();
  const { directory } = zones;
  const { application: app, clientSecret: secret } = await directory.registerApplication(
    security('gwapp', { redirectUris: options.redirectUris ?? ['http*://*.gw.localhost:*/login/callback'], tokenValidity: options.tokenValidity }),
    zones.provider.id,
  );
  await directory.subscribe(app, zones.acme.id);
  await directory.subscribe(app, zones.globex.id);
  const alice = await directory.assignRoleCollection(zones.acme.id, zones.alice.id, 'gwapp_Administrator');
  const bob = await directory.assignRoleCollection(zones.acme.id, zones.bob.id, 'gwapp_Viewer');
  const carol = await directory.assignRoleCollection(zones.globex.id, zones.carol.id, 'gwapp_Administrator');

  const echo = createEchoBackend();
  const echoUrl = await listenEcho(echo);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-login-'));
  const credentials = { clientid: app.clientId, clientsecret: secret, url: zones.url('provider'), uaadomain: 'localhost', xsappname: app.instanceName };
  const extra = options.destinations ?? [];
  const routesFile = validateRoutesDocument(options.routes ?? LOGIN_ROUTES, 'routes.json', { destinationNames: new Set(['echo', 'plain', ...extra.map((d) => d.name)]) }).config as RoutesFile;
  const settings = readSettings({ TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.gw\\.localhost$', ...options.env, destinations: JSON.stringify([
        { name: 'echo', url: echoUrl, forwardAuthToken: true },
        { name: 'plain', url: echoUrl },
        ...extra.map((d) => ({ forwardAuthToken: true, ...d })),
      ]),
    }, { cwd: dir });
  const routes = compileRouteTable(routesFile, { destinations: new Map(settings.destinations.map((d) => [d.name, d])), baseDir: dir, xsappname: app.instanceName });

  const gateways: LoginStack['gateways'] = [];
  const prefix = `zonegate-test:login:${Date.now()}-${Math.random().toString(36).slice(2)}:`;
  const sharedSqlite = path.join(dir, 'gateway.db');
  for (let i = 0; i < (options.instances ?? 1); i++) {
    const storage = options.redisUrl
      ? await openStorage({ kind: 'redis', url: options.redisUrl, keyPrefix: prefix, commandTimeoutMs: options.redisCommandTimeoutMs })
      : await openStorage({ kind: 'sqlite', file: sharedSqlite });
    const logger = createMemoryLogger('info');
    const login = setUpLogin({
      credentials,
      storage,
      routesFile,
      sessionKeys: [{ id: 'k1', secret: 'test-session-key-0123456789-abcdefghijklmnop' }],
      sessionTimeoutMinutes: 15,
      refreshAheadMs: options.refreshAheadMs,
      logger,
      fetch: options.fetch,
    });
    const html5Apps = options.html5Apps?.(app.instanceName);
    const forwardAuth = options.forwardAuth ? createForwardAuth({ routes, trustedProxies: settings.trustedProxies, login }) : undefined;
    const gateway = createGateway({ settings, routesFile, routes, logger, storage, login, forwardAuth, ...(html5Apps ? { html5Apps } : {}) });
    const port = await gateway.listen(0, '127.0.0.1');
    gateways.push({ port, gateway, storage, logs: logger.lines });
  }
  const base = (tenant: string, i = 0) => `http://${tenant}.gw.localhost:${gateways[i]!.port}`;

  return {
    zones,
    app,
    secret,
    users: { alice, bob, carol },
    gateways,
    base,
    async login(browser, tenant, userName, where = '/api/whoami', i = 0) {
      const start = await browser.get(base(tenant, i) + where);
      if (start.status !== 302) throw new Error(`expected a login redirect, got ${start.status}: ${start.text.slice(0, 200)}`);
      const page = await browser.get(String(start.headers.location));
      // The zone's SSO session logs a browser in silently the second time.
      let callbackUrl = page.status === 302 ? String(page.headers.location) : undefined;
      if (!callbackUrl) {
        if (page.status !== 200) throw new Error(`login page answered ${page.status}: ${page.text.slice(0, 200)}`);
        const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: userName, password: PASSWORD });
        if (form.status !== 302) throw new Error(`login form answered ${form.status}: ${form.text.slice(0, 300)}`);
        callbackUrl = String(form.headers.location);
      }
      const callback = await browser.get(callbackUrl);
      if (callback.status !== 302) throw new Error(`callback answered ${callback.status}: ${callback.text.slice(0, 300)}`);
    },
    async close() {
      for (const g of gateways) {
        await g.gateway.shutdown();
        await g.storage.close();
      }
      echo.closeAllConnections();
      await new Promise((r) => (echo as http.Server).close(r));
      await zones.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The pending-login cookies (`zonegate.login.<id>`, one per login started) in a browser's jar for `host`. */
export function loginCookies(browser: ScriptedBrowser, host: string): [name: string, value: string][] {
  return [...browser.cookies(host).entries()].filter(([name]) => name.startsWith('zonegate.login.'));
}

/**
 * Counts the session reads that reach a gateway's storage (`sess:` keys), to tell a request answered
 * from the instance's recent read from one that went to the store. `stop()` restores the storage.
 */
export function countSessionReads(stack: LoginStack, gateway = 0): { readonly count: number; stop(): void } {
  const storage = stack.gateways[gateway]!.storage;
  const original = storage.get;
  let count = 0;
  storage.get = (key) => {
    if (key.startsWith('sess:')) count++;
    return original.call(storage, key);
  };
  return {
    get count() {
      return count;
    },
    stop: () => void (storage.get = original),
  };
}
