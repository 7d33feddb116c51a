import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS } from '../../src/demo/demo.js';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { startDemoGateway, type TestGateway } from '../support/gateway.js';

/**
 * The production assembly (startGateway): built-in zones in the gateway process, the sample
 * routes.json and xs-security.json, and a login that goes over HTTP to `<tenant>.auth.localhost`.
 */
describe('the gateway with its built-in zones, as npm start runs it', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startDemoGateway();
  });
  afterAll(() => gw.stop());

  it('logs the demo admin in at acme.auth.localhost and forwards a token with the expanded scopes', async () => {
    const base = `http://acme.localhost:${gw.port}`;
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${base}/api/whoami`);
    expect(start.status).toBe(302);
    expect(new URL(String(start.headers.location)).host).toBe(`acme.auth.localhost:${gw.port}`);
    const page = await browser.get(String(start.headers.location));
    expect(page.status).toBe(200);
    const admin = DEMO_USERS[0];
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: admin.userName, password: admin.password });
    expect(form.status).toBe(302);
    const callback = await browser.get(String(form.headers.location));
    expect(callback.status).toBe(302);
    const res = await browser.get(`${base}/api/whoami`);
    expect(res.status).toBe(200);
    const claims = decodeJwt(String(res.json().headers.authorization).replace('Bearer ', ''));
    const instance = gw.running.credentials!.xsappname;
    expect(instance).toMatch(/^zonegate-demo!t\d+$/);
    expect(claims.scope).toEqual(expect.arrayContaining([`${instance}.Viewer`, `${instance}.Admin`]));
    expect((claims.ext_attr as { zdn: string }).zdn).toBe('acme');
  });

  it('lets the viewer read but not change the admin route (per-method scope)', async () => {
    const base = `http://globex.localhost:${gw.port}`;
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${base}/admin/settings`);
    const page = await browser.get(String(start.headers.location));
    const viewer = DEMO_USERS[1];
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: viewer.userName, password: viewer.password });
    await browser.get(String(form.headers.location));
    const read = await browser.get(`${base}/admin/settings`);
    expect(read.status).toBe(200);
    // The user's own credentials never reach the backend: only the token the gateway attaches.
    expect(read.json().headers.cookie).toBeUndefined();
    const token = String((await browser.get(`${base}/admin/settings`, { 'x-csrf-token': 'fetch' })).headers['x-csrf-token']);
    const put = await browser.request(`${base}/admin/settings`, { method: 'PUT', headers: { 'x-csrf-token': token, accept: 'application/json' } });
    expect(put.status).toBe(403);
  });
});
