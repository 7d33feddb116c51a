/**
 * Issue 13, SAML 2.0 brokering through a real gateway: two tenants, each with its own real SAML IdP
 * (test/zones/idp/saml-idp.ts: its own key pair, signed assertions, HTTP-Redirect and HTTP-POST
 * bindings over HTTP), configured by the tenants' zone administrators over the admin API. Chromium
 * logs in through tenant A's IdP and the backend sees origin = A's key and the scopes mapped from the
 * IdP's groups; every attack on the assertion consumer service is refused.
 */
/// <reference lib="dom" />
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Zone } from '../../../src/zones/directory/types.js';
import { ensureZone } from '../../../src/zones/start.js';
import { ScriptedBrowser } from '../../support/browser.js';
import { launchChromium } from '../../support/chromium.js';
import { startDemoGateway, type TestGateway } from '../../support/gateway.js';
import { startTestSamlIdp, type AuthnRequestSeen, type TestSamlIdp } from './saml-idp.js';
import { adminCall, appUrl, unescapeHtml, zoneAdminToken, zoneUrl } from './zone-admin.js';

let gw: TestGateway;
let idpA: TestSamlIdp;
let idpB: TestSamlIdp;
let zoneA: Zone;
let zoneB: Zone;
let instance: string;
let chromium: Browser;
const tokens: Record<string, string> = {};
const ids: Record<string, string> = {};

const admin = (sub: string, method: string, path: string, body?: unknown) => adminCall(gw, sub, tokens[sub]!, method, path, body);

function samlProvider(originKey: string, metaDataLocation: string) {
  return {
    type: 'saml',
    originKey,
    name: `SAML ${originKey}`,
    config: { metaDataLocation, nameID: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified', attributeMappings: { external_groups: ['groups'] } },
  };
}

/** From the application to the zone's redirect to the IdP (through the login page's link when the zone has local users). */
async function startLogin(browser: ScriptedBrowser, sub: string, origin: string): Promise<{ redirect: string; request: AuthnRequestSeen; idp: TestSamlIdp }> {
  const start = await browser.get(`${appUrl(gw, sub)}/api/whoami`);
  expect(start.status).toBe(302);
  const authorize = new URL(String(start.headers.location));
  authorize.searchParams.set('idp', origin);
  const zone = await browser.get(authorize.href);
  expect(zone.status, zone.text.slice(0, 300)).toBe(302);
  const redirect = String(zone.headers.location);
  const idp = redirect.startsWith(idpA.metadataUrl.replace('/metadata', '')) ? idpA : idpB;
  return { redirect, request: idp.readRequest(redirect), idp };
}

/** Posts a SAMLResponse to the zone's ACS as the IdP's auto-submitting form does. */
function postToAcs(browser: ScriptedBrowser, sub: string, origin: string, samlResponse: string) {
  return browser.post(`${zoneUrl(gw, sub)}/login/callback/${origin}`, { SAMLResponse: samlResponse });
}

function expectRefused(res: { status: number; headers: Record<string, unknown>; text: string }, code = 'ZG_ERR_LOGIN_FAILED') {
  expect(res.status, res.text.slice(0, 300)).toBe(code === 'ZG_ERR_LOGIN_FAILED' ? 401 : 403);
  expect(res.headers['x-zonegate-error']).toBe(code);
  expect(res.headers.location).toBeUndefined();
}

beforeAll(async () => {
  // A route that names its IdP, as SAP's routes.json can (identityProvider).
  gw = await startDemoGateway({}, [{ source: '^/corp/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'xsuaa', scope: '$XSAPPNAME.Viewer', identityProvider: 'corp-b' }]);
  const directory = gw.running.directory!;
  const application = (await directory.getApplicationByClientId(gw.running.credentials!.clientid))!;
  instance = application.instanceName;
  zoneA = await ensureZone(directory, 'samla', 'SAML Tenant A');
  zoneB = await ensureZone(directory, 'samlb', 'SAML Tenant B');
  await directory.subscribe(application, zoneA.id);
  await directory.subscribe(application, zoneB.id);
  idpA = await startTestSamlIdp({ name: 'A', accounts: { alice: { email: 'alice@a.example', givenName: 'Alice', familyName: 'Anders', groups: ['admins', 'staff'] } } });
  idpB = await startTestSamlIdp({ name: 'B', accounts: { bob: { email: 'bob@b.example', groups: ['admins'] } } });
  const a = await zoneAdminToken(gw, 'samla', zoneA);
  const b = await zoneAdminToken(gw, 'samlb', zoneB);
  tokens.samla = a.token;
  tokens.samlb = b.token;
  chromium = await launchChromium();
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await idpA?.stop();
  await idpB?.stop();
  await gw?.stop();
});

describe('SAML identity providers over the admin API', () => {
  it('tenant A adds its IdP by metadata URL, tenant B by metadata XML; mappings to role collections', async () => {
    const a = await admin('samla', 'POST', '/identity-providers', samlProvider('corp-a', idpA.metadataUrl));
    expect(a.status, a.text).toBe(201);
    expect(a.json()).toMatchObject({ originKey: 'corp-a', type: 'saml', identityZoneId: zoneA.id, config: { metaDataLocation: idpA.metadataUrl, attributeMappings: { user_name: 'NameID' } } });
    ids.corpA = a.json().id;
    const mapped = await admin('samla', 'PUT', `/identity-providers/${ids.corpA}/role-collection-mappings`, [
      { group: 'admins', roleCollection: 'Demo Administrator' },
      { group: 'staff', roleCollection: 'Demo Viewer' },
    ]);
    expect(mapped.status, mapped.text).toBe(200);
    const b = await admin('samlb', 'POST', '/identity-providers', samlProvider('corp-b', idpB.metadataXml));
    expect(b.status, b.text).toBe(201);
    ids.corpB = b.json().id;
    expect((await admin('samlb', 'PUT', `/identity-providers/${ids.corpB}/role-collection-mappings`, [{ group: 'admins', roleCollection: 'Demo Viewer' }])).status).toBe(200);
    // Tenant B trusts A's IdP too (the same corporate IdP can serve two tenants): A's assertions must still not work at B.
    const shared = await admin('samlb', 'POST', '/identity-providers', samlProvider('shared-a', idpA.metadataXml));
    expect(shared.status, shared.text).toBe(201);
    const rows = await gw.running.records.all<{ sealed_secret: string | null }>(`SELECT sealed_secret FROM identity_providers WHERE type = 'saml'`);
    expect(rows.map((r) => r.sealed_secret)).toEqual([null, null, null]);
  });

  it('refuses unusable metadata and a bad config, naming each field', async () => {
    const unreachable = await admin('samla', 'POST', '/identity-providers', samlProvider('nowhere', 'http://127.0.0.1:9/metadata'));
    expect(unreachable.status).toBe(400);
    expect(unreachable.json().error_description).toContain('config.metaDataLocation');
    expect(unreachable.json().error_description).toContain('http://127.0.0.1:9/metadata');
    const noCert = idpA.metadataXml.replace(/<md:KeyDescriptor[\s\S]*<\/md:KeyDescriptor>/, '');
    const bad = await admin('samla', 'POST', '/identity-providers', {
      type: 'saml',
      originKey: 'bad',
      config: { metaDataLocation: noCert, nameID: 'email', attributeMappings: { user_name: 'NameID', shoe_size: 'x' } },
    });
    expect(bad.status).toBe(400);
    const text = bad.json().error_description as string;
    expect(text).toContain('config.metaDataLocation: the IdP names no signing certificate');
    expect(text).toContain('config.nameID');
    expect(text).toContain('config.attributeMappings.shoe_size');
    const entities = await admin('samla', 'POST', '/identity-providers', samlProvider('xxe', `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${idpA.metadataXml}`));
    expect(entities.status).toBe(400);
    expect(entities.json().error_description).toContain('DOCTYPE');
  });

  it('serves the zone\'s SP metadata per IdP, which the IdPs are given to trust', async () => {
    const res = await new ScriptedBrowser().get(`${zoneUrl(gw, 'samla')}/saml/metadata/corp-a`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/samlmetadata+xml');
    expect(res.text).toContain(`entityID="${zoneUrl(gw, 'samla')}/saml/metadata/corp-a"`);
    expect(res.text).toContain(`Location="${zoneUrl(gw, 'samla')}/login/callback/corp-a"`);
    expect(res.text).toContain('WantAssertionsSigned="true"');
    idpA.trustSp(res.text);
    idpB.trustSp((await new ScriptedBrowser().get(`${zoneUrl(gw, 'samlb')}/saml/metadata/corp-b`)).text);
    idpA.trustSp((await new ScriptedBrowser().get(`${zoneUrl(gw, 'samlb')}/saml/metadata/shared-a`)).text);
    // No SAML IdP of that origin in this zone (B's origin at A's host): no metadata.
    expect((await new ScriptedBrowser().get(`${zoneUrl(gw, 'samla')}/saml/metadata/corp-b`)).status).toBe(404);
  });
});

describe('login through the tenant\'s SAML IdP', () => {
  it('Chromium: a user of A\'s IdP logs in at tenant A; the backend sees origin corp-a and the mapped scopes', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(`${appUrl(gw, 'samla')}/api/whoami`);
    // Tenant A has a local user (its administrator): its login page, with a link to the IdP.
    expect(new URL(page.url()).host).toBe(`samla.auth.localhost:${gw.port}`);
    await Promise.all([page.waitForURL((u) => u.pathname === '/sso'), page.click('text=Sign in with SAML corp-a')]);
    // At the IdP (HTTP-Redirect binding); it posts the signed response back (HTTP-POST binding).
    await page.fill('input[name="username"]', 'alice');
    await Promise.all([page.waitForURL(`${appUrl(gw, 'samla')}/api/whoami`), page.click('button[type="submit"]')]);
    const seen = JSON.parse((await page.textContent('body')) ?? '{}');
    const claims = seen.jwt.claims;
    expect(claims.origin).toBe('corp-a');
    expect(claims.user_name).toBe('alice');
    expect(claims.email).toBe('alice@a.example');
    expect(claims.given_name).toBe('Alice');
    expect(claims.family_name).toBe('Anders');
    expect(claims.zid).toBe(zoneA.id);
    expect(claims.scope).toContain(`${instance}.Admin`);
    expect(claims['xs.system.attributes']['xs.rolecollections'].sort()).toEqual(['Demo Administrator', 'Demo Viewer']);
    await context.close();
    // A shadow user of origin corp-a, without a password.
    const rows = await gw.running.records.all<{ user_name: string; origin: string; password_hash: string | null }>(
      'SELECT user_name, origin, password_hash FROM users WHERE zone_id = $1 AND origin = $2',
      [zoneA.id, 'corp-a'],
    );
    expect(rows).toEqual([{ user_name: 'alice', origin: 'corp-a', password_hash: null }]);
  }, 60_000);

  it('a replayed response is refused (its request is answered, its assertion seen)', async () => {
    const browser = new ScriptedBrowser();
    const { request } = await startLogin(browser, 'samla', 'corp-a');
    const response = idpA.response(request, { user: 'alice' });
    const first = await postToAcs(browser, 'samla', 'corp-a', response);
    expect(first.status, first.text.slice(0, 300)).toBe(303);
    const done = await browser.follow(first);
    expect(done.status, done.text.slice(0, 300)).toBe(200);
    expect(done.json().jwt.claims.origin).toBe('corp-a');
    expectRefused(await postToAcs(browser, 'samla', 'corp-a', response));
    expectRefused(await postToAcs(new ScriptedBrowser(), 'samla', 'corp-a', response));
  });

  const attacks: [string, (request: AuthnRequestSeen) => string][] = [
    ['an unsigned assertion', (r) => idpA.response(r, { user: 'alice', sign: 'none' })],
    ['an assertion signed by another key', (r) => idpA.response(r, { user: 'alice', sign: 'other-key' })],
    ['a signed Response around an unsigned assertion', (r) => idpA.response(r, { user: 'alice', sign: 'response-only' })],
    ['another audience', (r) => idpA.response(r, { user: 'alice', audience: `${zoneUrl(gw, 'samlb')}/saml/metadata/shared-a` })],
    ['another recipient', (r) => idpA.response(r, { user: 'alice', recipient: `${zoneUrl(gw, 'samlb')}/login/callback/shared-a` })],
    ['an expired assertion (NotOnOrAfter passed)', (r) => idpA.response(r, { user: 'alice', notOnOrAfter: new Date(Date.now() - 5 * 60_000) })],
    ['an answer to no request of this zone', (r) => idpA.response(r, { user: 'alice', inResponseTo: '_never-sent' })],
    ['an unsolicited (IdP-initiated) response', (r) => idpA.response(r, { user: 'alice', inResponseTo: null })],
  ];
  for (const [what, make] of attacks) {
    it(`refuses ${what}`, async () => {
      const browser = new ScriptedBrowser();
      const { request } = await startLogin(browser, 'samla', 'corp-a');
      expectRefused(await postToAcs(browser, 'samla', 'corp-a', make(request)));
      expect((await browser.get(`${appUrl(gw, 'samla')}/api/whoami`)).status).toBe(302);
    });
  }

  it('refuses an answer to another request (InResponseTo of a login of tenant B)', async () => {
    const browser = new ScriptedBrowser();
    const { request } = await startLogin(browser, 'samla', 'corp-a');
    const atB = await startLogin(browser, 'samlb', 'shared-a');
    expectRefused(await postToAcs(browser, 'samla', 'corp-a', idpA.response(request, { user: 'alice', inResponseTo: atB.request.id })));
  });

  it('refuses an assertion for zone A posted to zone B\'s ACS, though B trusts the same IdP', async () => {
    const browser = new ScriptedBrowser();
    const { request } = await startLogin(browser, 'samla', 'corp-a');
    await startLogin(browser, 'samlb', 'shared-a');
    const forA = idpA.response(request, { user: 'alice' });
    expectRefused(await postToAcs(browser, 'samlb', 'shared-a', forA));
    expect((await browser.get(`${appUrl(gw, 'samlb')}/api/whoami`)).status).toBe(302);
    // A's IdP key at B's own IdP's ACS: not B's IdP's signature.
    expectRefused(await postToAcs(browser, 'samlb', 'corp-b', forA));
  });

  it('refuses a valid response completed in another browser (login CSRF)', async () => {
    const attacker = new ScriptedBrowser();
    const { request } = await startLogin(attacker, 'samla', 'corp-a');
    const victim = new ScriptedBrowser();
    const acs = await postToAcs(victim, 'samla', 'corp-a', idpA.response(request, { user: 'alice' }));
    expect(acs.status).toBe(303);
    expectRefused(await victim.follow(acs), 'ZG_ERR_FORM_EXPIRED');
    expect((await victim.get(`${appUrl(gw, 'samla')}/api/whoami`)).status).toBe(302);
  });

  it('answers 503 ZG_ERR_IDP_UNAVAILABLE when the IdP\'s metadata URL no longer answers', async () => {
    const gone = await startTestSamlIdp({ name: 'gone', accounts: {} });
    const created = await admin('samla', 'POST', '/identity-providers', samlProvider('gone', gone.metadataUrl));
    expect(created.status, created.text).toBe(201);
    await gone.stop();
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${appUrl(gw, 'samla')}/api/whoami`);
    const authorize = new URL(String(start.headers.location));
    authorize.searchParams.set('idp', 'gone');
    const page = await browser.get(authorize.href);
    expect(page.status).toBe(503);
    expect(page.headers['x-zonegate-error']).toBe('ZG_ERR_IDP_UNAVAILABLE');
    expect(page.text).toContain('SAML gone');
    expect((await admin('samla', 'DELETE', `/identity-providers/${created.json().id}`)).status).toBe(200);
  });

  it('shows a clear zone error page when the IdP answers with an error status', async () => {
    const browser = new ScriptedBrowser();
    const { request } = await startLogin(browser, 'samla', 'corp-a');
    const res = await postToAcs(browser, 'samla', 'corp-a', idpA.response(request, { user: 'alice', status: 'urn:oasis:names:tc:SAML:2.0:status:Responder', sign: 'none' }));
    expectRefused(res, 'ZG_ERR_IDP_REFUSED');
    expect(unescapeHtml(res.text)).toContain('SAML corp-a');
  });

  it('tenant B\'s user logs in through B\'s IdP, picked by XSUAA\'s login_hint', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${appUrl(gw, 'samlb')}/api/whoami`);
    const authorize = new URL(String(start.headers.location));
    authorize.searchParams.set('login_hint', JSON.stringify({ origin: 'corp-b' }));
    const zone = await browser.get(authorize.href);
    expect(zone.status).toBe(302);
    const request = idpB.readRequest(String(zone.headers.location));
    expect(String(zone.headers.location).startsWith(idpB.metadataUrl.replace('/metadata', '/sso'))).toBe(true);
    const acs = await postToAcs(browser, 'samlb', 'corp-b', idpB.response(request, { user: 'bob' }));
    expect(acs.status, acs.text.slice(0, 2000)).toBe(303);
    const done = await browser.follow(acs);
    expect(done.status, `${done.url} ${done.headers['x-zonegate-error']} ${done.text.replace(/<style[\s\S]*<\/style>/, '').slice(0, 1500)}`).toBe(200);
    expect(done.json().jwt.claims).toMatchObject({ origin: 'corp-b', user_name: 'bob', zid: zoneB.id });
    expect(done.json().jwt.claims.scope).toContain(`${instance}.Viewer`);
  });

  it('a route\'s identityProvider (routes.json) takes the login straight to that IdP, past the zone\'s login page', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${appUrl(gw, 'samlb')}/corp/whoami`);
    expect(start.status).toBe(302);
    const authorize = new URL(String(start.headers.location));
    expect(authorize.searchParams.get('login_hint')).toBe('{"origin":"corp-b"}');
    // Tenant B has a local user, so without the hint its login page would answer (200).
    const zone = await browser.get(authorize.href);
    expect(zone.status).toBe(302);
    const request = idpB.readRequest(String(zone.headers.location));
    const done = await browser.follow(await postToAcs(browser, 'samlb', 'corp-b', idpB.response(request, { user: 'bob' })));
    expect(done.status, done.text.slice(0, 300)).toBe(200);
    expect(done.url.pathname).toBe('/corp/whoami');
    expect(done.json().jwt.claims).toMatchObject({ origin: 'corp-b', user_name: 'bob' });
    // The sample's own routes name no IdP: the zone's login page, as before.
    const plain = await new ScriptedBrowser().get(`${appUrl(gw, 'samlb')}/api/whoami`);
    expect(new URL(String(plain.headers.location)).searchParams.has('login_hint')).toBe(false);
  });
});
