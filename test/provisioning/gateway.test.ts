/**
 * Issue 5's whole cycle over real HTTP: the SaaS registry subscribes a tenant through the callbacks,
 * its user logs in through a real gateway (login feature, built-in zones over HTTP) within the same
 * second, the registry unsubscribes it, and then its host answers 404, its session is gone, and its
 * old access token is refused even after the same tenant subscribes again.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/environment.js';
import { validateRoutesDocument } from '../../src/config/routes.js';
import type { RoutesFile } from '../../src/config/types.js';
import { createEchoBackend, listenEcho } from '../../src/demo/echo-backend.js';
import { setUpLogin } from '../../src/login/index.js';
import { createMemoryLogger } from '../../src/log.js';
import { createTenantRegistry } from '../../src/provisioning/registry.js';
import { createProvisioning } from '../../src/provisioning/service.js';
import { compileTenantUrl } from '../../src/provisioning/tenant-url.js';
import { compileRouteTable } from '../../src/routing/route-table.js';
import { createGateway, type Gateway } from '../../src/server/gateway.js';
import { createKeyring } from '../../src/sessions/crypto.js';
import { StorageSessionStore } from '../../src/sessions/store.js';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/types.js';
import type { Application } from '../../src/zones/directory/types.js';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { LOGIN_ROUTES } from '../support/login-stack.js';
import { PASSWORD, security, startZones, type Harness } from '../zones/oauth/harness.js';
import { clientToken, guid, startCallbacks, verifierFor, type CallbackServer } from './support.js';

const SESSION_KEYS = [{ id: 'k1', secret: 'test-session-key-0123456789-abcdefghijklmnop' }];

let zones: Harness;
let app: Application;
let appSecret: string;
let gateway: Gateway;
let gatewayStorage: Storage;
let port = 0;
let callbacks: CallbackServer;
let echo: http.Server;
let echoUrl: string;
let dir: string;
let tenants: ReturnType<typeof createTenantRegistry>;
let tenantHostPattern: RegExp | undefined;

/** A gateway instance with the login feature and the provisioning registry, on the shared gateway storage. */
async function startGateway(backendUrl: string) {
  const logger = createMemoryLogger('info');
  const routesFile = validateRoutesDocument(LOGIN_ROUTES, 'routes.json', { destinationNames: new Set(['echo', 'plain']) }).config as RoutesFile;
  const settings = readSettings({ TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.gw\\.localhost$', destinations: JSON.stringify([{ name: 'echo', url: backendUrl, forwardAuthToken: true }, { name: 'plain', url: backendUrl }]) }, { cwd: dir });
  const routes = compileRouteTable(routesFile, { destinations: new Map(settings.destinations.map((d) => [d.name, d])), baseDir: dir, xsappname: app.instanceName });
  const login = setUpLogin({
    credentials: { clientid: app.clientId, clientsecret: appSecret, url: zones.url('provider'), uaadomain: 'localhost', xsappname: app.instanceName },
    storage: gatewayStorage,
    routesFile,
    sessionKeys: SESSION_KEYS,
    sessionTimeoutMinutes: 15,
    logger,
  });
  const registry = createTenantRegistry({ directory: zones.directory, application: app });
  const instance = createGateway({ settings, routesFile, routes, logger, storage: gatewayStorage, login, tenants: registry });
  return { gateway: instance, port: await instance.listen(0, '127.0.0.1'), tenants: registry, tenantHostPattern: settings.tenantHostPattern };
}

beforeAll(async () => {
  zones = await startZones();
  const registered = await zones.directory.registerApplication(security('saas', { redirectUris: ['http://*.gw.localhost:*/login/callback'] }), zones.provider.id);
  app = registered.application;
  appSecret = registered.clientSecret;
  echo = createEchoBackend();
  echoUrl = await listenEcho(echo);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-provisioning-gw-'));
  gatewayStorage = await openStorage({ kind: 'sqlite', file: path.join(dir, 'gateway.db') });
  const logger = createMemoryLogger('info');
  ({ gateway, port, tenants, tenantHostPattern } = await startGateway(echoUrl));

  // The session store of the gateway's storage: what src/sessions offers the lead to wire in.
  const sessions = new StorageSessionStore({ storage: gatewayStorage, keyring: createKeyring(SESSION_KEYS) });
  const tenantUrl = compileTenantUrl(tenantHostPattern, undefined, { protocol: 'http', port });
  if (typeof tenantUrl === 'string') throw new Error(tenantUrl);
  const provisioning = createProvisioning({
    directory: zones.directory,
    records: zones.records,
    storage: zones.storage,
    application: app,
    adminRoleCollection: 'saas_Administrator',
    tenantUrlFor: tenantUrl,
    revokeTenantSessions: async (subdomain) => {
      tenants.forget(subdomain);
      await sessions.destroyTenantSessions(subdomain);
    },
    deleteZoneKeys: (zoneId) => zones.server.keys.deleteKeys(zoneId),
    logger,
  });
  callbacks = await startCallbacks({ provisioning, verifyToken: verifierFor(zones) });
});

afterAll(async () => {
  await callbacks?.close();
  await gateway?.shutdown();
  await gatewayStorage?.close();
  echo?.closeAllConnections();
  await new Promise((r) => echo?.close(r));
  await zones?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function registryCall(method: 'PUT' | 'DELETE', tenantId: string, subdomain: string): Promise<{ status: number; text: string }> {
  const token = await clientToken(zones, 'provider', { id: app.clientId, secret: appSecret });
  const body = JSON.stringify({ subscribedTenantId: tenantId, subscribedSubdomain: subdomain, eventType: 'CREATE', userInfo: { userName: `owner@${subdomain}.example` } });
  const res = await new ScriptedBrowser().request(`http://127.0.0.1:${callbacks.port}/callback/v1.0/tenants/${tenantId}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/plain' },
    ...(method === 'PUT' ? { body } : {}),
  });
  return { status: res.status, text: res.text };
}

async function logIn(browser: ScriptedBrowser, base: string, userName: string): Promise<void> {
  const start = await browser.get(`${base}/api/whoami`);
  expect(start.status).toBe(302);
  const page = await browser.get(String(start.headers.location));
  expect(page.status).toBe(200);
  const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: userName, password: PASSWORD });
  expect(form.status).toBe(302);
  const callback = await browser.get(String(form.headers.location));
  expect(callback.status).toBe(302);
}

describe('subscribe → log in → unsubscribe', () => {
  it('serves a tenant the moment it is subscribed, and nothing of it once unsubscribed', async () => {
    const tenantId = guid(77);
    const base = `http://initrode.gw.localhost:${port}`;
    expect((await new ScriptedBrowser().get(`${base}/public/x`)).status).toBe(404);

    const put = await registryCall('PUT', tenantId, 'initrode');
    expect(put).toEqual({ status: 200, text: base });
    // The subscriber's administrator logs in at their own IdP in XSUAA; here an administrator of the
    // zone gives a colleague a password (the admin API's job), and that user logs in at once.
    await zones.directory.createUser(tenantId, { userName: 'milton', email: 'milton@initrode.example', password: PASSWORD, roleCollections: ['saas_Administrator'] });
    const browser = new ScriptedBrowser();
    await logIn(browser, base, 'milton');
    const seen = (await browser.get(`${base}/api/whoami`, { accept: 'application/json' })).json();
    const bearer = String(seen.headers.authorization);
    expect(decodeJwt(bearer.replace(/^Bearer /, ''))).toMatchObject({ zid: tenantId, ext_attr: { zdn: 'initrode' }, scope: expect.arrayContaining([`${app.instanceName}.Admin`]) });
    expect((await new ScriptedBrowser().get(`${base}/api/s2s`, { authorization: bearer, accept: 'application/json' })).status).toBe(200);

    const del = await registryCall('DELETE', tenantId, 'initrode');
    expect(del.status).toBe(200);
    const gone = await browser.get(`${base}/api/whoami`, { accept: 'application/json' });
    expect(gone.status).toBe(404);
    expect(gone.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_UNKNOWN');
    expect((await new ScriptedBrowser().get(`${base}/api/s2s`, { authorization: bearer, accept: 'application/json' })).status).toBe(404);

    // The same tenant comes back: the old session and the old token (not yet expired) are worth nothing.
    expect((await registryCall('PUT', tenantId, 'initrode')).status).toBe(200);
    await sleep(10);
    const oldSession = await browser.get(`${base}/api/whoami`, { accept: 'application/json' });
    expect(oldSession.status).toBe(401);
    // Its signing key is gone: an instance that fetches the zone's keys now refuses the token.
    // (This hand-assembled gateway does not wire login.forgetTenant; the production assembly does,
    // and refuses the old token on the same instance: test/server/provisioning-cycle.test.ts.)
    const fresh = await startGateway(echoUrl);
    try {
      const oldToken = await new ScriptedBrowser().get(`http://initrode.gw.localhost:${fresh.port}/api/s2s`, { authorization: bearer, accept: 'application/json' });
      expect(oldToken.status).toBe(401);
      expect(oldToken.headers['www-authenticate']).toContain('invalid_token');
    } finally {
      await fresh.gateway.shutdown();
    }
  });
});
