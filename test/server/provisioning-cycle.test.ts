/**
 * Issue 5 through the production assembly (startGateway, built-in zones in the gateway process, the
 * sample routes.json): the SaaS registry's callbacks on the gateway's own port, a tenant that logs in
 * at once, and an unsubscription that leaves nothing of it usable. Real HTTP throughout; the registry
 * is played by requests with real client-credentials tokens of the provider zone.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ENV, callback, clientToken, guid, logIn, PASSWORD, ROUTES, securityWithCallbackAuthority, subscription } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

describe('subscription callbacks on the gateway (production assembly)', () => {
  let gw: TestGateway;
  let registryToken: string;
  let instance: string;

  beforeAll(async () => {
    gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': securityWithCallbackAuthority(), 'public/index.html': '<!doctype html><title>t</title>' },
      destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
      env: { ...BASE_ENV, SAAS_DEPENDENCIES: JSON.stringify([{ xsappname: 'destination-xsappname!b404' }]) },
    });
    registryToken = await clientToken(gw, 'provider');
    instance = gw.running.credentials!.xsappname;
  });
  afterAll(() => gw?.stop());

  it('says at start-up that the callbacks are mounted, and exposes the provisioning service', () => {
    expect(gw.running.provisioning).toBeDefined();
    expect(gw.logs.some((l) => l.includes('subscription callbacks mounted') && l.includes(`${instance}.Callback`))).toBe(true);
  });

  it('subscribe → log in at once → unsubscribe: host 404, old session and old token worth nothing', async () => {
    const tenantId = guid(1);
    const base = `http://initech.localhost:${gw.port}`;
    expect((await new ScriptedBrowser().get(`${base}/api/whoami`, { accept: 'application/json' })).status).toBe(404);

    const put = await callback(gw, 'PUT', tenantId, { token: registryToken, body: subscription(tenantId, 'initech') });
    expect(put.status).toBe(200);
    expect(put.headers['content-type']).toMatch(/^text\/plain/);
    expect(put.text).toBe(base);
    const subscribedAt = Date.now();
    // No propagation delay: the host is served (the login starts at the tenant's own zone) at once,
    // with no cache to wait for; this instance or another, the registry never caches a "no".
    const first = await new ScriptedBrowser().get(`${base}/api/whoami`);
    expect(first.status).toBe(302);
    expect(new URL(String(first.headers.location)).host).toBe(`initech.auth.localhost:${gw.port}`);
    expect(Date.now() - subscribedAt).toBeLessThan(1000);

    // The subscriber's administrator exists with the administrator role collection (chosen from
    // xs-security.json: the one whose templates carry the most scopes). The registry sends no
    // password, so the administrator gives this user one (as the zone's admin API would).
    const directory = gw.running.directory!;
    const owner = await directory.getUserByName(tenantId, 'owner@initech.example');
    expect(owner?.roleCollections).toEqual(['Demo Administrator']);
    await directory.createUser(tenantId, { userName: 'peter', email: 'peter@initech.example', password: PASSWORD, roleCollections: ['Demo Administrator'] });

    const browser = new ScriptedBrowser();
    await logIn(browser, base, 'peter', PASSWORD);
    const seen = await browser.get(`${base}/api/whoami`, { accept: 'application/json' });
    expect(seen.status).toBe(200);
    const bearer = String(seen.json().headers.authorization);
    expect(decodeJwt(bearer.replace(/^Bearer /, ''))).toMatchObject({ zid: tenantId, ext_attr: { zdn: 'initech' }, scope: expect.arrayContaining([`${instance}.Admin`]) });
    expect((await new ScriptedBrowser().get(`${base}/api/whoami`, { authorization: bearer, accept: 'application/json' })).status).toBe(200);

    const del = await callback(gw, 'DELETE', tenantId, { token: registryToken });
    expect(del.status).toBe(200);
    const gone = await browser.get(`${base}/api/whoami`, { accept: 'application/json' });
    expect(gone.status).toBe(404);
    expect(gone.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_UNKNOWN');
    expect((await new ScriptedBrowser().get(`${base}/api/whoami`, { authorization: bearer, accept: 'application/json' })).status).toBe(404);
    expect(await directory.getZone(tenantId)).toBeUndefined();

    // The same tenant subscribes again at once: the host is served, but the old session cookie and
    // the old (unexpired) access token open nothing on this very instance.
    expect((await callback(gw, 'PUT', tenantId, { token: registryToken, body: subscription(tenantId, 'initech') })).status).toBe(200);
    const oldSession = await browser.get(`${base}/api/whoami`, { accept: 'application/json' });
    expect(oldSession.status).toBe(401);
    const oldToken = await new ScriptedBrowser().get(`${base}/api/whoami`, { authorization: bearer, accept: 'application/json' });
    expect(oldToken.status).toBe(401);
    expect(oldToken.headers['www-authenticate']).toContain('invalid_token');
    expect((await callback(gw, 'DELETE', tenantId, { token: registryToken })).status).toBe(200);
  });

  it('is idempotent, refuses a taken subdomain with 409 and a clear message, and deletes an unknown tenant as a no-op', async () => {
    const first = await callback(gw, 'PUT', guid(2), { token: registryToken, body: subscription(guid(2), 'hooli') });
    const again = await callback(gw, 'PUT', guid(2), { token: registryToken, body: subscription(guid(2), 'hooli') });
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.text).toBe(first.text);
    const taken = await callback(gw, 'PUT', guid(3), { token: registryToken, body: subscription(guid(3), 'hooli') });
    expect(taken.status).toBe(409);
    expect(taken.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_SUBDOMAIN_TAKEN');
    expect(taken.json().error.message).toContain('"hooli" is already used by another tenant');
    const unknown = await callback(gw, 'DELETE', guid(4), { token: registryToken });
    expect(unknown.status).toBe(200);
    expect(unknown.text).toContain('was not subscribed');
  });

  it('answers the configured dependencies', async () => {
    const res = await new ScriptedBrowser().get(`http://localhost:${gw.port}/callback/v1.0/dependencies`, { authorization: `Bearer ${registryToken}`, accept: 'application/json' });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual([{ xsappname: 'destination-xsappname!b404' }]);
  });

  describe('attacks', () => {
    it('no token: 401 with a Bearer challenge, and nothing is created', async () => {
      const res = await callback(gw, 'PUT', guid(10), { body: subscription(guid(10), 'nohands') });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
      expect(await gw.running.directory!.getZone(guid(10))).toBeUndefined();
    });

    it('a forged token (the registry token re-signed by nobody) is 401', async () => {
      const [header, payload] = registryToken.split('.');
      const res = await callback(gw, 'DELETE', guid(2), { token: `${header}.${payload}.${'A'.repeat(342)}` });
      expect(res.status).toBe(401);
      expect((await gw.running.provisioning!.findTenant('hooli'))?.tenantId).toBe(guid(2));
    });

    it("a provider client token without the callback scope: 403 naming the scope", async () => {
      const narrow = await clientToken(gw, 'provider', `${instance}.Viewer`);
      expect(decodeJwt(narrow).scope).toEqual([`${instance}.Viewer`]);
      const res = await callback(gw, 'PUT', guid(11), { token: narrow, body: subscription(guid(11), 'narrow') });
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toContain(`scope="${instance}.Callback"`);
      expect(await gw.running.directory!.getZone(guid(11))).toBeUndefined();
    });

    it("a tenant zone's token, even with the callback scope, is 403: a tenant cannot unsubscribe another", async () => {
      const tenantToken = await clientToken(gw, 'hooli');
      const claims = decodeJwt(tenantToken);
      expect(claims.scope).toContain(`${instance}.Callback`);
      expect(claims.zid).toBe(guid(2));
      const res = await callback(gw, 'DELETE', guid(2), { token: tenantToken });
      expect(res.status).toBe(403);
      expect((await gw.running.provisioning!.findTenant('hooli'))?.tenantId).toBe(guid(2));
    });
  });
});

describe('asynchronous subscriptions (STATUS_CALLBACK)', () => {
  it('answers 202, reports the outcome to SAAS_REGISTRY_URL with a provider client token, and stop() waits for the report', async () => {
    const reports: { path: string; authorization: string | undefined; body: Record<string, unknown> }[] = [];
    const registry = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        // A slow registry: the report is still in flight when the gateway is told to stop.
        setTimeout(() => {
          reports.push({ path: req.url ?? '', authorization: req.headers.authorization, body: JSON.parse(body) });
          res.writeHead(200).end();
        }, 300);
      });
    });
    await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
    const registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
    const gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': securityWithCallbackAuthority() },
      destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
      env: { ...BASE_ENV, SAAS_REGISTRY_URL: registryUrl },
    });
    let stopped = false;
    try {
      const tenantId = guid(20);
      const token = await clientToken(gw, 'provider');
      const res = await callback(gw, 'PUT', tenantId, { token, body: subscription(tenantId, 'umbrella'), headers: { status_callback: '/api/v2.0/jobs/42' } });
      expect(res.status).toBe(202);
      const providerId = gw.running.credentials!.tenantid;
      const clientId = gw.running.credentials!.clientid;
      await gw.stop();
      stopped = true;
      expect(reports).toHaveLength(1);
      const [report] = reports;
      expect(report!.path).toBe('/api/v2.0/jobs/42');
      expect(report!.body).toEqual({ status: 'SUCCEEDED', message: expect.any(String), subscriptionUrl: `http://umbrella.localhost:${gw.port}` });
      // The subscriber sees the status message: it hands over the administrator's set-password link (issue 12).
      expect(report!.body.message).toMatch(
        new RegExp(`^http://umbrella\\.localhost:${gw.port}\\. \\S+ sets a password at http://umbrella\\.auth\\.localhost:${gw.port}/invitation\\?code=[A-Za-z0-9_-]{43} \\(one use, until `),
      );
      const claims = decodeJwt(String(report!.authorization).replace(/^Bearer /, ''));
      expect(claims).toMatchObject({ grant_type: 'client_credentials', zid: providerId, cid: clientId });
    } finally {
      if (!stopped) await gw.stop();
      registry.closeAllConnections();
      await new Promise((r) => registry.close(r));
    }
  });
});
