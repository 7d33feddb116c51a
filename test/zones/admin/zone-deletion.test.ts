/**
 * Issue 9, attack: an administrator deletes a zone through the admin API and the same zone id comes
 * back (SaaS tenant ids make that routine: a tenant unsubscribes and subscribes again, or an operator
 * re-creates a zone by id). Nothing of the old zone may work in the new one: not its access tokens,
 * refresh tokens, SSO session nor the gateway session of its tenant. Through the production assembly
 * (startGateway, built-in zones, sample routes) over real HTTP.
 */
import { createPublicKey } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ENV, callback, clientToken, guid, logIn, PASSWORD, ROUTES, securityWithCallbackAuthority, subscription } from '../../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../../support/browser.js';
import { startTestGateway, type TestGateway } from '../../support/gateway.js';

const ADMIN_SECRET = 'zone-deletion-admin-secret-0123456789';
const basic = `Basic ${Buffer.from(`admin:${ADMIN_SECRET}`).toString('base64')}`;

describe('deleting a zone through the admin API, then re-creating the same id', () => {
  let gw: TestGateway;
  let registryToken: string;

  beforeAll(async () => {
    gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': securityWithCallbackAuthority(), 'public/index.html': '<!doctype html><title>t</title>' },
      destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
      env: { ...BASE_ENV, ZONEGATE_ADMIN_SECRET: ADMIN_SECRET },
    });
    registryToken = await clientToken(gw, 'provider');
  });
  afterAll(() => gw?.stop());

  const admin = (method: string, path: string, body?: object) =>
    new ScriptedBrowser().request(`http://auth.localhost:${gw.port}${path}`, {
      method,
      headers: { authorization: basic, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  /** The zone by the admin API, the application subscribed (the registry's callback adopts the zone), a user with a password. */
  async function createTenantZone(tenantId: string, subdomain: string): Promise<void> {
    expect((await admin('POST', '/identity-zones', { id: tenantId, subdomain })).status).toBe(201);
    expect((await callback(gw, 'PUT', tenantId, { token: registryToken, body: subscription(tenantId, subdomain) })).status).toBe(200);
    await gw.running.directory!.createUser(tenantId, { userName: 'peter', email: 'peter@umbrella.example', password: PASSWORD, roleCollections: ['Demo Administrator'] });
  }

  it('brings back no key, token, refresh token, SSO session or gateway session of the old zone', async () => {
    const tenantId = guid(9001);
    const zoneUrl = `http://umbrella.auth.localhost:${gw.port}`;
    const base = `http://umbrella.localhost:${gw.port}`;
    const c = gw.running.credentials!;
    await createTenantZone(tenantId, 'umbrella');

    // The victim's state: a gateway session (and with it the zone's SSO cookie in the browser), the
    // access token the gateway forwards, and a refresh token (jwt-bearer answers with one).
    const browser = new ScriptedBrowser();
    await logIn(browser, base, 'peter', PASSWORD);
    const seen = await browser.get(`${base}/api/whoami`, { accept: 'application/json' });
    expect(seen.status).toBe(200);
    const accessToken = String(seen.json().headers.authorization).replace(/^Bearer /, '');
    const exchanged = await new ScriptedBrowser().post(
      `${zoneUrl}/oauth/token`,
      { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: accessToken, client_id: c.clientid, client_secret: c.clientsecret },
      { accept: 'application/json' },
    );
    expect(exchanged.status).toBe(200);
    const refreshToken = exchanged.json().refresh_token as string;
    expect(refreshToken).toMatch(/^[\w-]{32,}$/);
    const oldKid = decodeProtectedHeader(accessToken).kid;

    expect((await admin('DELETE', `/identity-zones/${tenantId}`)).status).toBe(200);
    expect((await admin('GET', `/identity-zones/${tenantId}`)).status).toBe(404);
    await createTenantZone(tenantId, 'umbrella');

    // Old access token: the re-created zone has a new key set, under which it does not verify.
    const published = (await new ScriptedBrowser().get(`${zoneUrl}/token_keys`, { accept: 'application/json' })).json().keys as { kid: string; value: string }[];
    expect(published.length).toBeGreaterThan(0);
    expect(published.map((k) => k.kid)).not.toContain(oldKid);
    for (const key of published) await expect(jwtVerify(accessToken, createPublicKey(key.value))).rejects.toThrow();
    expect((await new ScriptedBrowser().get(`${zoneUrl}/userinfo`, { authorization: `Bearer ${accessToken}`, accept: 'application/json' })).status).toBe(401);
    expect((await new ScriptedBrowser().get(`${base}/api/whoami`, { authorization: `Bearer ${accessToken}`, accept: 'application/json' })).status).toBe(401);
    // Nor can it be exchanged for new tokens.
    const reExchanged = await new ScriptedBrowser().post(
      `${zoneUrl}/oauth/token`,
      { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: accessToken, client_id: c.clientid, client_secret: c.clientsecret },
      { accept: 'application/json' },
    );
    expect(reExchanged.status).toBe(400);

    // Old refresh token: refused.
    const refreshed = await new ScriptedBrowser().post(
      `${zoneUrl}/oauth/token`,
      { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: c.clientid, client_secret: c.clientsecret },
      { accept: 'application/json' },
    );
    expect(refreshed.status).toBe(400);
    expect(refreshed.json().error).toBe('invalid_grant');

    // Old gateway session: gone; the browser is sent to log in again.
    const again = await browser.get(`${base}/api/whoami`);
    expect(again.status).toBe(302);
    // Old SSO cookie at the zone: the login form, not a code for the old user.
    const authorize = await browser.get(String(again.headers.location));
    expect(authorize.status).toBe(200);
    expect(authorize.text).toContain('name="password"');
  });
});
