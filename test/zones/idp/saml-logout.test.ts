/**
 * Issue 13, SAML 2.0 Single Logout (SP-initiated) through a real gateway and a real SAML IdP
 * (test/zones/idp/saml-idp.ts with sessions: its own key, a SingleLogoutService that ends the session
 * a LogoutRequest names and posts a signed LogoutResponse back). Logout at the application ends the
 * gateway's, the zone's and the IdP's sessions and ends where the plain logout would; the zone's
 * single logout service refuses every LogoutResponse that is not the IdP's signed answer to a
 * LogoutRequest this zone sent and has not seen answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../../support/browser.js';
import { startDemoGateway, type TestGateway } from '../../support/gateway.js';
import { startTestSamlIdp, type LogoutRequestSeen, type TestSamlIdp } from './saml-idp.js';

const ADMIN_SECRET = 'saml-logout-admin-secret';
let gw: TestGateway;
let idp: TestSamlIdp;
/** An IdP whose metadata names no SingleLogoutService (registered at globex as `plain`). */
let plainIdp: TestSamlIdp;
const zoneUrl = (sub: string) => `http://${sub}.auth.localhost:${gw.port}`;
const appUrl = (sub: string) => `http://${sub}.localhost:${gw.port}`;
const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))).replace(/&amp;/g, '&');

function admin(sub: string, method: string, path: string, body?: unknown) {
  return new ScriptedBrowser().request(`${zoneUrl(sub)}${path}`, {
    method,
    headers: { accept: 'application/json', authorization: `Basic ${Buffer.from(`admin:${ADMIN_SECRET}`).toString('base64')}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/** An HTML page's one form: its action and fields (the IdP's pages). */
function formOf(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  expect(action, html.slice(0, 300)).toBeDefined();
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1]!] = unescape(m[2]!);
  return { action: unescape(action!), fields };
}

beforeAll(async () => {
  gw = await startDemoGateway({ ZONEGATE_ADMIN_SECRET: ADMIN_SECRET });
  idp = await startTestSamlIdp({ name: 'SLO', sessions: true, accounts: { alice: { email: 'alice@corp.example', groups: ['staff'] } } });
  for (const sub of ['acme', 'globex']) {
    const created = await admin(sub, 'POST', '/identity-providers', {
      type: 'saml',
      originKey: 'corp',
      config: { metaDataLocation: idp.metadataUrl, attributeMappings: { external_groups: ['groups'] } },
    });
    expect(created.status, created.text).toBe(201);
    const mapped = await admin(sub, 'PUT', `/identity-providers/${created.json().id}/role-collection-mappings`, [{ group: 'staff', roleCollection: 'Demo Viewer' }]);
    expect(mapped.status, mapped.text).toBe(200);
    idp.trustSp((await new ScriptedBrowser().get(`${zoneUrl(sub)}/saml/metadata/corp`)).text);
  }
  plainIdp = await startTestSamlIdp({ name: 'plain', sessions: true, singleLogout: false, accounts: { alice: { email: 'alice@corp.example', groups: ['staff'] } } });
  const plain = await admin('globex', 'POST', '/identity-providers', { type: 'saml', originKey: 'plain', config: { metaDataLocation: plainIdp.metadataUrl, attributeMappings: { external_groups: ['groups'] } } });
  expect(plain.status, plain.text).toBe(201);
  expect((await admin('globex', 'PUT', `/identity-providers/${plain.json().id}/role-collection-mappings`, [{ group: 'staff', roleCollection: 'Demo Viewer' }])).status).toBe(200);
  plainIdp.trustSp((await new ScriptedBrowser().get(`${zoneUrl('globex')}/saml/metadata/plain`)).text);
}, 60_000);

afterAll(async () => {
  await plainIdp?.stop();
  await idp?.stop();
  await gw?.stop();
});

/** From the application to the IdP's SSO endpoint, and the IdP's answer: its login form, or (a live session) the form posting back. */
async function toIdp(browser: ScriptedBrowser, sub: string, origin = 'corp') {
  const start = await browser.get(`${appUrl(sub)}/api/whoami`);
  expect(start.status).toBe(302);
  const authorize = new URL(String(start.headers.location));
  authorize.searchParams.set('idp', origin);
  const zone = await browser.get(authorize.href);
  expect(zone.status, zone.text.slice(0, 300)).toBe(302);
  const atIdp = await browser.get(String(zone.headers.location));
  expect(atIdp.status, atIdp.text.slice(0, 300)).toBe(200);
  return atIdp;
}

async function logIn(browser: ScriptedBrowser, sub: string, origin = 'corp'): Promise<void> {
  const loginForm = await toIdp(browser, sub, origin);
  expect(loginForm.text).toContain('Test IdP sign-in');
  const { action, fields } = formOf(loginForm.text);
  const posting = await browser.post(new URL(action, loginForm.url).href, { ...fields, username: 'alice' });
  const toAcs = formOf(posting.text);
  const acs = await browser.post(toAcs.action, toAcs.fields);
  expect(acs.status, acs.text.slice(0, 300)).toBe(303);
  await browser.follow(await browser.get(new URL(String(acs.headers.location), toAcs.action).href));
  const me = await browser.get(`${appUrl(sub)}/api/whoami`, { accept: 'application/json' });
  expect(me.status, me.text.slice(0, 300)).toBe(200);
}

/** The application's logout up to the zone's redirect to the IdP's SingleLogoutService. */
async function logOutToIdp(browser: ScriptedBrowser, sub: string): Promise<{ toIdp: string; request: LogoutRequestSeen; plainTarget: string }> {
  const out = await browser.get(`${appUrl(sub)}/logout`);
  expect(out.status).toBe(302);
  const zoneLogout = new URL(String(out.headers.location));
  expect(zoneLogout.pathname).toBe('/logout.do');
  const plainTarget = zoneLogout.searchParams.get('redirect')!;
  const atZone = await browser.get(zoneLogout.href);
  expect(atZone.status, atZone.text.slice(0, 300)).toBe(302);
  expect(String(atZone.headers['set-cookie'])).toMatch(/zg_zone_session=;.*Max-Age=0/);
  const toIdp = String(atZone.headers.location);
  expect(toIdp.startsWith(`${idp.metadataUrl.replace('/metadata', '/slo')}?`)).toBe(true);
  return { toIdp, request: idp.readLogoutRequest(toIdp), plainTarget };
}

const slo = (sub: string) => `${zoneUrl(sub)}/logout/callback/corp`;

describe('SAML single logout', () => {
  it("the zone's SP metadata names its single logout service (HTTP-POST)", async () => {
    const res = await new ScriptedBrowser().get(`${zoneUrl('acme')}/saml/metadata/corp`);
    expect(res.text).toMatch(/<SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="[^"]+\/logout\/callback\/corp"/);
    expect(idp.sloOf(`${zoneUrl('acme')}/saml/metadata/corp`)).toBe(slo('acme'));
  });

  it('logout ends the zone session and the IdP session (NameID, SessionIndex), and ends where the plain logout would', async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, 'acme');
    expect(idp.sessions.size).toBe(1);
    const [session] = [...idp.sessions.values()];
    const { toIdp: sloRedirect, request, plainTarget } = await logOutToIdp(browser, 'acme');
    expect(request).toMatchObject({ issuer: `${zoneUrl('acme')}/saml/metadata/corp`, nameID: 'alice', sessionIndex: session!.sessionIndex });
    const atIdp = await browser.get(sloRedirect);
    expect(atIdp.status).toBe(200);
    expect(idp.sessions.size).toBe(0);
    const back = formOf(atIdp.text);
    expect(back.action).toBe(slo('acme'));
    const done = await browser.post(back.action, back.fields);
    expect(done.status, done.text.slice(0, 300)).toBe(302);
    expect(done.headers.location).toBe(plainTarget);
    expect(plainTarget).toBe(`${appUrl('acme')}/index.html`);
    // Replayed: refused, and sends nobody anywhere.
    const replay = await browser.post(back.action, back.fields);
    expect(replay.status).toBe(403);
    expect(replay.headers.location).toBeUndefined();
    // A new login: the IdP's login form again, not a straight sign-in.
    expect((await toIdp(browser, 'acme')).text).toContain('Test IdP sign-in');
  });

  it("without single logout the IdP's session would have stayed: a second login goes straight through (control)", async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, 'acme');
    const again = await toIdp(new ScriptedBrowser(), 'acme');
    expect(again.text).toContain('Test IdP sign-in');
    // The same browser with the application's and the zone's cookies gone but no logout: the IdP answers at once.
    const appJar = browser.cookies(new URL(appUrl('acme')).host);
    const zoneJar = browser.cookies(new URL(zoneUrl('acme')).host);
    const kept = { app: new Map(appJar), zone: new Map(zoneJar) };
    appJar.clear();
    zoneJar.clear();
    const sso = await toIdp(browser, 'acme');
    expect(sso.text).toContain('name="SAMLResponse"');
    for (const [k, v] of kept.app) appJar.set(k, v);
    for (const [k, v] of kept.zone) zoneJar.set(k, v);
    // Leave no session behind for the next test.
    const { toIdp: url } = await logOutToIdp(browser, 'acme');
    const back = formOf((await browser.get(url)).text);
    expect((await browser.post(back.action, back.fields)).status).toBe(302);
  });

  it('refuses LogoutResponses that are not the signed answer to a pending LogoutRequest of this zone', async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, 'acme');
    const { request } = await logOutToIdp(browser, 'acme');
    const attacks: Record<string, { url: string; SAMLResponse: string }> = {
      unsigned: { url: slo('acme'), SAMLResponse: idp.logoutResponse(request, { sign: 'none' }) },
      'signed by another key': { url: slo('acme'), SAMLResponse: idp.logoutResponse(request, { sign: 'other-key' }) },
      'without InResponseTo': { url: slo('acme'), SAMLResponse: idp.logoutResponse(request, { inResponseTo: null }) },
      'to a request never sent': { url: slo('acme'), SAMLResponse: idp.logoutResponse(request, { inResponseTo: '_0123456789abcdef0123456789abcdef01234567' }) },
      'from another issuer': { url: slo('acme'), SAMLResponse: idp.logoutResponse(request, { issuer: 'https://evil.example/idp' }) },
      'for another destination': { url: slo('acme'), SAMLResponse: idp.logoutResponse(request, { destination: slo('globex') }) },
      "at another zone's service": { url: slo('globex'), SAMLResponse: idp.logoutResponse(request, { destination: slo('globex') }) },
      'a login Response': { url: slo('acme'), SAMLResponse: idp.response({ id: request.id, issuer: request.issuer, acs: slo('acme'), relayState: null }, { user: 'alice' }) },
    };
    for (const [what, attack] of Object.entries(attacks)) {
      const res = await new ScriptedBrowser().post(attack.url, { SAMLResponse: attack.SAMLResponse });
      expect(res.status, what).toBe(403);
      expect(res.headers.location, what).toBeUndefined();
    }
    // The genuine answer still works, once.
    const genuine = await new ScriptedBrowser().post(slo('acme'), { SAMLResponse: idp.logoutResponse(request) });
    expect(genuine.status).toBe(302);
    expect(genuine.headers.location).toBe(`${appUrl('acme')}/index.html`);
  });

  it('an IdP without a SingleLogoutService: logout at the zone as before', async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, 'globex', 'plain');
    const out = await browser.get(`${appUrl('globex')}/logout`);
    const zoneLogout = new URL(String(out.headers.location));
    const atZone = await browser.get(zoneLogout.href);
    expect(atZone.status).toBe(302);
    expect(atZone.headers.location).toBe(zoneLogout.searchParams.get('redirect'));
    expect(plainIdp.logoutRequests).toHaveLength(0);
  });
});
