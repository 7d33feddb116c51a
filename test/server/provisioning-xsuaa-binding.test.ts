/**
 * Issue 12: the subscription callbacks when the gateway is bound to an external XSUAA. The "external
 * XSUAA" is a second zonegate with the built-in zones (its own port, its own store); the gateway
 * under test is bound to it through VCAP_SERVICES, as on Cloud Foundry, and checks the callers'
 * tokens against the binding's `/token_keys` over HTTP. The registry's client is the one
 * `zonegate zones registry-client` creates (src/provisioning/registry-client.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ENV, clientCredentials, guid, registryClientToken, ROOT, ROUTES, subscription } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

/** The demo descriptor with the application's own client holding only Viewer: its token lacks Callback. */
function security(): string {
  const doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'xs-security.json'), 'utf8'));
  doc.authorities = ['$XSAPPNAME.Viewer'];
  return JSON.stringify(doc);
}

describe('subscription callbacks with an external XSUAA bound', () => {
  let xsuaa: TestGateway;
  let gw: TestGateway;
  let registryToken: string;
  let appToken: string;

  beforeAll(async () => {
    xsuaa = await startTestGateway({ routes: ROUTES, files: { 'xs-security.json': security(), 'public/index.html': '<!doctype html><title>t</title>' }, env: BASE_ENV });
    const binding = xsuaa.running.credentials!;
    registryToken = await registryClientToken(xsuaa);
    appToken = await clientCredentials(binding.url, binding.clientid, binding.clientsecret);
    gw = await startTestGateway({
      routes: ROUTES,
      files: { 'public/index.html': '<!doctype html><title>t</title>' },
      env: {
        TENANT_HOST_PATTERN: BASE_ENV.TENANT_HOST_PATTERN,
        SESSION_KEYS: BASE_ENV.SESSION_KEYS,
        VCAP_SERVICES: JSON.stringify({ xsuaa: [{ label: 'xsuaa', name: 'uaa', credentials: binding }] }),
      },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await xsuaa?.stop();
  });

  const call = (method: string, tenantId: string, token?: string, body?: object) =>
    new ScriptedBrowser().request(`http://localhost:${gw.port}/callback/v1.0/tenants/${tenantId}`, {
      method,
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  it('mounts the callbacks and says so', () => {
    expect(gw.running.directory).toBeUndefined();
    expect(gw.logs.some((l) => l.includes('subscription callbacks mounted') && l.includes('xsuaa binding'))).toBe(true);
  });

  it('the registry client (Callback as a granted authority) subscribes and unsubscribes', async () => {
    const tenantId = guid(21);
    const put = await call('PUT', tenantId, registryToken, subscription(tenantId, 'initech'));
    expect(put.status).toBe(200);
    expect(put.headers['content-type']).toMatch(/^text\/plain/);
    expect(put.text).toBe(`http://initech.localhost:${gw.port}`);
    const del = await call('DELETE', tenantId, registryToken);
    expect(del.status).toBe(200);
    expect(del.text).toContain('unsubscribed');
    const deps = await new ScriptedBrowser().get(`http://localhost:${gw.port}/callback/v1.0/dependencies`, { authorization: `Bearer ${registryToken}` });
    expect(deps.status).toBe(200);
    expect(deps.json()).toEqual([]);
  });

  it('a valid token of the binding without the Callback scope is a 403', async () => {
    const res = await call('PUT', guid(22), appToken, subscription(guid(22), 'globex'));
    expect(res.status).toBe(403);
    expect(String(res.headers['www-authenticate'])).toContain('insufficient_scope');
  });

  it('no token is a 401; a token signed by someone else is a 401', async () => {
    expect((await call('PUT', guid(23), undefined, subscription(guid(23), 'hooli'))).status).toBe(401);
    const [h, p] = registryToken.split('.');
    const forged = `${h}.${p}.${Buffer.from('not the signature').toString('base64url')}`;
    expect((await call('PUT', guid(23), forged, subscription(guid(23), 'hooli'))).status).toBe(401);
  });
});
