/**
 * The production assembly's pieces for the provisioning tests in test/server/provisioning-*.test.ts:
 * the sample routes, an xs-security.json whose client may act as the SaaS registry, and requests
 * as the registry sends them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { ensureRegistryClient } from '../../src/provisioning/registry-client.js';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import type { TestGateway } from '../support/gateway.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ROUTES = JSON.parse(fs.readFileSync(path.join(ROOT, 'routes.json'), 'utf8'));
export const PASSWORD = 'initech-test-pass-1';

/**
 * The demo application, whose client may also act as the registry: in BTP the registry's own client
 * gets `$XSAPPNAME.Callback` through grant-as-authority-to-apps; the built-in zones have no registry
 * client, so the application grants the scope to itself as an authority (with Viewer, so that a
 * client-credentials token without the callback scope can be asked for).
 */
export function securityWithCallbackAuthority(): string {
  const doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'xs-security.json'), 'utf8'));
  doc.authorities = ['$XSAPPNAME.Callback', '$XSAPPNAME.Viewer'];
  return JSON.stringify(doc);
}

export const BASE_ENV = {
  TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$',
  UAA_DOMAIN: 'auth.localhost',
  SESSION_KEYS: 'k1:' + 'b'.repeat(40),
};

export function guid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export async function clientToken(gw: TestGateway, subdomain: string, scope?: string): Promise<string> {
  const c = gw.running.credentials!;
  const res = await new ScriptedBrowser().post(
    `http://${subdomain}.auth.localhost:${gw.port}/oauth/token`,
    { grant_type: 'client_credentials', client_id: c.clientid, client_secret: c.clientsecret, ...(scope ? { scope } : {}) },
    { accept: 'application/json' },
  );
  if (res.status !== 200) throw new Error(`client_credentials at ${subdomain}: ${res.status} ${res.text}`);
  return res.json().access_token as string;
}

/** A client-credentials token from the zone at `url` (a binding's `url`, or a zone's). */
export async function clientCredentials(url: string, clientId: string, clientSecret: string): Promise<string> {
  const res = await new ScriptedBrowser().post(`${url}/oauth/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }, { accept: 'application/json' });
  if (res.status !== 200) throw new Error(`client_credentials: ${res.status} ${res.text}`);
  return res.json().access_token as string;
}

/**
 * The SaaS registry's token where `xsuaa`'s built-in zones stand in for XSUAA: from the client
 * `zonegate zones registry-client` creates, granted `$XSAPPNAME.Callback` as an authority.
 */
export async function registryClientToken(xsuaa: TestGateway): Promise<string> {
  const directory = xsuaa.running.directory!;
  const registry = await ensureRegistryClient({
    directory,
    application: (await directory.getApplication('zonegate-demo'))!,
    provider: (await directory.getZoneBySubdomain('provider'))!,
    scopeName: 'Callback',
    uaaDomain: 'auth.localhost',
    publicUrlFor: (sub) => `http://${sub}.auth.localhost:${xsuaa.port}`,
  });
  return clientCredentials(registry.credentials.url, registry.credentials.clientid, registry.credentials.clientsecret);
}

export function callback(gw: TestGateway, method: string, tenantId: string, options: { token?: string; body?: object; headers?: Record<string, string> } = {}) {
  return new ScriptedBrowser().request(`http://localhost:${gw.port}/callback/v1.0/tenants/${tenantId}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(options.body ? { body: JSON.stringify(options.body) } : {}),
  });
}

export function subscription(tenantId: string, subdomain: string) {
  return {
    subscribedTenantId: tenantId,
    subscribedSubdomain: subdomain,
    subscriptionAppName: 'zonegate-demo',
    globalAccountGUID: guid(999),
    eventType: 'CREATE',
    userInfo: { userName: `owner@${subdomain}.example`, email: `owner@${subdomain}.example` },
  };
}

export async function logIn(browser: ScriptedBrowser, base: string, userName: string, password: string): Promise<void> {
  const start = await browser.get(`${base}/api/whoami`);
  expect(start.status).toBe(302);
  const page = await browser.get(String(start.headers.location));
  expect(page.status).toBe(200);
  const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: userName, password });
  expect(form.status).toBe(302);
  const done = await browser.get(String(form.headers.location));
  expect(done.status).toBe(302);
}

