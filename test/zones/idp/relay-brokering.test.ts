/**
 * Issue 15, part 2, where zonegate uses the relay itself: one OpenID provider, with ONE redirect URI
 * registered (the gateway's relay on the bare UAA_DOMAIN), serves the brokered logins of two zones.
 * Each zone's provider has `useRelay`; the relay hands each answer to the zone that started the
 * login, with that zone's own state, and the zone checks it as without the relay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../../support/browser.js';
import { startDemoGateway, type TestGateway } from '../../support/gateway.js';
import { signInAtIdp, startTestIdp, type TestIdp } from './oidc-idp.js';

const ADMIN_SECRET = 'relay-brokering-admin-secret';
let gw: TestGateway;
let idp: TestIdp;
const zoneUrl = (sub: string) => `http://${sub}.auth.localhost:${gw.port}`;
const appUrl = (sub: string) => `http://${sub}.localhost:${gw.port}`;
const relayUrl = () => `http://auth.localhost:${gw.port}/platform/v1/relay/callback`;
const unescapeHtml = (s: string) => s.replace(/&amp;/g, '&').replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));

function admin(sub: string, method: string, path: string, body?: unknown) {
  return new ScriptedBrowser().request(`${zoneUrl(sub)}${path}`, {
    method,
    headers: { accept: 'application/json', authorization: `Basic ${Buffer.from(`admin:${ADMIN_SECRET}`).toString('base64')}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

beforeAll(async () => {
  gw = await startDemoGateway({ ZONEGATE_ADMIN_SECRET: ADMIN_SECRET });
  idp = await startTestIdp({
    clientId: 'zonegate-all-zones',
    clientSecret: 'one-client-for-every-zone-0123',
    redirectUris: [relayUrl()],
    accounts: { alice: { email: 'alice@corp.example', groups: ['staff'] } },
  });
  for (const sub of ['acme', 'globex']) {
    const created = await admin(sub, 'POST', '/identity-providers', {
      type: 'oidc1.0',
      originKey: 'corp',
      config: {
        discoveryUrl: `${idp.issuer}/.well-known/openid-configuration`,
        relyingPartyId: idp.clientId,
        relyingPartySecret: idp.clientSecret,
        scopes: ['openid', 'profile', 'email', 'groups'],
        useRelay: true,
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json().config.useRelay).toBe(true);
    const mapped = await admin(sub, 'PUT', `/identity-providers/${created.json().id}/role-collection-mappings`, [{ group: 'staff', roleCollection: 'Demo Viewer' }]);
    expect(mapped.status, mapped.text).toBe(200);
  }
}, 60_000);

afterAll(async () => {
  await idp?.stop();
  await gw?.stop();
});

/** From the tenant's page through the zone's login page link to the IdP; returns where the IdP sends the browser. */
async function toIdpAndBack(browser: ScriptedBrowser, sub: string): Promise<URL> {
  const start = await browser.get(`${appUrl(sub)}/api/whoami`);
  expect(start.status).toBe(302);
  const page = await browser.get(String(start.headers.location));
  expect(page.status).toBe(200);
  const href = /<a href="([^"]+)">Sign in with /.exec(page.text)?.[1];
  expect(href, page.text.slice(0, 500)).toBeDefined();
  const toIdp = await browser.get(new URL(unescapeHtml(href!), page.url).href);
  expect(toIdp.status).toBe(302);
  const location = new URL(String(toIdp.headers.location));
  // The IdP is asked to answer at the relay, with a relay state (never the zone's own).
  expect(location.searchParams.get('redirect_uri')).toBe(relayUrl());
  return signInAtIdp(browser, idp, location.href, 'alice');
}

describe('brokered login through the redirect relay', () => {
  for (const sub of ['acme', 'globex']) {
    it(`${sub}: the IdP answers at the relay, the relay hands it to ${sub}'s zone, the user is logged in`, async () => {
      const browser = new ScriptedBrowser();
      const atRelay = await toIdpAndBack(browser, sub);
      expect(`${atRelay.origin}${atRelay.pathname}`).toBe(relayUrl());
      const relayed = await browser.get(atRelay.href);
      expect(relayed.status).toBe(302);
      const toZone = new URL(String(relayed.headers.location));
      expect(`${toZone.origin}${toZone.pathname}`).toBe(`${zoneUrl(sub)}/login/callback/corp`);
      const done = await browser.follow(await browser.get(toZone.href));
      expect(done.status, done.text.slice(0, 300)).toBe(200);
      expect(done.url.host).toBe(`${sub}.localhost:${gw.port}`);
      const claims = done.json().jwt.claims;
      expect(claims).toMatchObject({ user_name: 'alice', origin: 'corp', zid: (await gw.running.directory!.getZoneBySubdomain(sub))!.id });
      expect(claims.scope).toContain(`${gw.running.credentials!.xsappname}.Viewer`);

      // The IdP's answer, replayed at the relay: refused, not relayed again.
      const replay = await new ScriptedBrowser().get(atRelay.href);
      expect(replay.status).toBe(400);
      expect(replay.headers.location).toBeUndefined();
    });
  }

  it('a relayed answer opened in another browser is refused by the zone (the login stays bound to its browser)', async () => {
    const browser = new ScriptedBrowser();
    const atRelay = await toIdpAndBack(browser, 'acme');
    const relayed = await new ScriptedBrowser().get(atRelay.href);
    expect(relayed.status).toBe(302);
    const elsewhere = await new ScriptedBrowser().get(String(relayed.headers.location));
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.headers['x-zonegate-error']).toBe('ZG_ERR_FORM_EXPIRED');
  });
});
