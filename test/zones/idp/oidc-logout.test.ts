/**
 * Issue 13, OpenID Connect RP-Initiated Logout 1.0 through a real gateway and a real OpenID provider
 * (oidc-provider, its own end_session endpoint and confirmation form): logout at the application
 * ends the gateway's session, the zone's SSO session and the IdP's session, and ends where the
 * plain logout would have. The zone's post-logout endpoint refuses forged, replayed and other
 * zones' states. A provider with `logout: false` logs out as before (the IdP session stays).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../../support/browser.js';
import { startDemoGateway, type TestGateway } from '../../support/gateway.js';
import { signInAtIdp, signOutAtIdp, startTestIdp, type TestIdp } from './oidc-idp.js';

const ADMIN_SECRET = 'oidc-logout-admin-secret';
let gw: TestGateway;
let idp: TestIdp;
/** An IdP whose discovery document names no end_session_endpoint (registered at globex as `plain`). */
let plainIdp: TestIdp;
const zoneUrl = (sub: string) => `http://${sub}.auth.localhost:${gw.port}`;
const appUrl = (sub: string) => `http://${sub}.localhost:${gw.port}`;

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
    clientId: 'zonegate',
    clientSecret: 'oidc-logout-client-secret-0123',
    redirectUris: [`${zoneUrl('acme')}/login/callback/corp`, `${zoneUrl('globex')}/login/callback/corp`],
    postLogoutRedirectUris: [`${zoneUrl('acme')}/logout/callback/corp`, `${zoneUrl('globex')}/logout/callback/corp`],
    accounts: { alice: { email: 'alice@corp.example', groups: ['staff'] } },
  });
  // acme logs out at the IdP (the default); globex has turned it off.
  for (const [sub, logout] of [['acme', undefined], ['globex', false]] as const) {
    const created = await admin(sub, 'POST', '/identity-providers', {
      type: 'oidc1.0',
      originKey: 'corp',
      config: {
        discoveryUrl: `${idp.issuer}/.well-known/openid-configuration`,
        relyingPartyId: idp.clientId,
        relyingPartySecret: idp.clientSecret,
        scopes: ['openid', 'profile', 'email', 'groups'],
        ...(logout === undefined ? {} : { logout }),
      },
    });
    expect(created.status, created.text).toBe(201);
    const mapped = await admin(sub, 'PUT', `/identity-providers/${created.json().id}/role-collection-mappings`, [{ group: 'staff', roleCollection: 'Demo Viewer' }]);
    expect(mapped.status, mapped.text).toBe(200);
  }
  plainIdp = await startTestIdp({
    clientId: 'zonegate-plain',
    clientSecret: 'oidc-logout-plain-secret-01234',
    redirectUris: [`${zoneUrl('globex')}/login/callback/plain`],
    rpInitiatedLogout: false,
    accounts: { alice: { email: 'alice@corp.example', groups: ['staff'] } },
  });
  const plain = await admin('globex', 'POST', '/identity-providers', {
    type: 'oidc1.0',
    originKey: 'plain',
    config: { discoveryUrl: plainIdp.issuer, relyingPartyId: plainIdp.clientId, relyingPartySecret: plainIdp.clientSecret, scopes: ['openid', 'profile', 'email', 'groups'] },
  });
  expect(plain.status, plain.text).toBe(201);
  expect((await admin('globex', 'PUT', `/identity-providers/${plain.json().id}/role-collection-mappings`, [{ group: 'staff', roleCollection: 'Demo Viewer' }])).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await plainIdp?.stop();
  await idp?.stop();
  await gw?.stop();
});

/** From the application's page to the zone, which picks the IdP by `idp=`: the redirect to the IdP's authorization endpoint. */
async function toIdp(browser: ScriptedBrowser, sub: string, origin = 'corp'): Promise<string> {
  const start = await browser.get(`${appUrl(sub)}/api/whoami`);
  expect(start.status).toBe(302);
  const authorize = new URL(String(start.headers.location));
  authorize.searchParams.set('idp', origin);
  const redirect = await browser.get(authorize.href);
  expect(redirect.status, redirect.text.slice(0, 300)).toBe(302);
  return String(redirect.headers.location);
}

async function logIn(browser: ScriptedBrowser, sub: string, origin = 'corp', at: TestIdp = idp): Promise<void> {
  const back = await signInAtIdp(browser, at, await toIdp(browser, sub, origin), 'alice');
  expect(back.host).toBe(`${sub}.auth.localhost:${gw.port}`);
  await browser.follow(await browser.get(back.href));
  const me = await browser.get(`${appUrl(sub)}/api/whoami`, { accept: 'application/json' });
  expect(me.status, me.text.slice(0, 300)).toBe(200);
}

/** What the IdP does with a new authorization request of this browser: its login form, or straight back (SSO). */
async function idpAnswer(browser: ScriptedBrowser, sub: string): Promise<'login form' | 'signed in'> {
  let url = new URL(await toIdp(browser, sub));
  for (let hops = 0; hops < 10; hops++) {
    if (url.origin !== idp.issuer) return 'signed in';
    const res = await browser.get(url.href);
    if (res.status === 302 || res.status === 303) {
      url = new URL(String(res.headers.location), url);
      continue;
    }
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    const prompt = /name="prompt" value="(\w+)"/.exec(res.text)?.[1];
    // The consent prompt would mean a live IdP session too.
    return prompt === 'login' ? 'login form' : 'signed in';
  }
  throw new Error('the IdP never answered');
}

/** The application's logout: the gateway's redirect to the zone's /logout.do, and the zone's answer to it. */
async function logOut(browser: ScriptedBrowser, sub: string) {
  const out = await browser.get(`${appUrl(sub)}/logout`);
  expect(out.status).toBe(302);
  const zoneLogout = new URL(String(out.headers.location));
  expect(zoneLogout.pathname).toBe('/logout.do');
  // Where the plain logout goes: the gateway's logout page, which the application's client registered.
  const plainTarget = zoneLogout.searchParams.get('redirect')!;
  expect(plainTarget).toBe(`${appUrl(sub)}/index.html`);
  const atZone = await browser.get(zoneLogout.href);
  return { atZone, plainTarget };
}

describe('OpenID Connect RP-initiated logout', () => {
  it('logout ends the zone session and the IdP session, and ends where the plain logout would', async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, 'acme');
    // The zone session as storage holds it (under the hash of the cookie's ticket).
    const ticket = browser.cookies(`acme.auth.localhost:${gw.port}`).get('zg_zone_session')!;
    const stored = await gw.running.storage.get(`zsso:${createHash('sha256').update(ticket).digest('base64url')}`);
    expect(stored).toBeDefined();
    const { atZone, plainTarget } = await logOut(browser, 'acme');
    expect(atZone.status).toBe(302);
    // The zone's cookie is cleared on the way to the IdP.
    expect(String(atZone.headers['set-cookie'])).toMatch(/zg_zone_session=;.*Max-Age=0/);
    const endSession = new URL(String(atZone.headers.location));
    expect(endSession.origin).toBe(idp.issuer);
    expect(endSession.pathname).toBe('/session/end');
    expect(endSession.searchParams.get('client_id')).toBe(idp.clientId);
    expect(endSession.searchParams.get('post_logout_redirect_uri')).toBe(`${zoneUrl('acme')}/logout/callback/corp`);
    const idToken = endSession.searchParams.get('id_token_hint')!;
    expect(idToken.split('.')).toHaveLength(3);
    // Sealed under a key derived from the ticket: a storage dump yields no part of the ID token.
    for (const part of idToken.split('.')) expect(stored).not.toContain(part.slice(0, 40));
    const state = endSession.searchParams.get('state');
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const back = await signOutAtIdp(browser, idp, endSession.href);
    expect(back.origin + back.pathname).toBe(`${zoneUrl('acme')}/logout/callback/corp`);
    expect(back.searchParams.get('state')).toBe(state);
    const done = await browser.get(back.href);
    expect(done.status).toBe(302);
    expect(done.headers.location).toBe(plainTarget);

    // A replay of the IdP's return is refused, and sends nobody anywhere.
    const replay = await browser.get(back.href);
    expect(replay.status).toBe(403);
    expect(replay.headers.location).toBeUndefined();
    expect(replay.text).toContain('ZG_ERR_FORM_EXPIRED');

    // The gateway's and the zone's sessions are gone, and so is the IdP's: its login form again.
    expect(await idpAnswer(browser, 'acme')).toBe('login form');
  });

  it("a forged state, or another zone's, is refused; the right zone still accepts its own once", async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, 'acme');
    const { atZone } = await logOut(browser, 'acme');
    const endSession = new URL(String(atZone.headers.location));
    const state = endSession.searchParams.get('state')!;

    for (const forged of [`${zoneUrl('acme')}/logout/callback/corp?state=${'A'.repeat(43)}`, `${zoneUrl('acme')}/logout/callback/corp`, `${zoneUrl('acme')}/logout/callback/corp?state=${state}&state=${state}`, `${zoneUrl('globex')}/logout/callback/corp?state=${state}`, `${zoneUrl('acme')}/logout/callback/other?state=${state}`]) {
      const res = await new ScriptedBrowser().get(forged);
      expect(res.status, forged).toBe(403);
      expect(res.headers.location, forged).toBeUndefined();
    }
    const back = await signOutAtIdp(browser, idp, endSession.href);
    const done = await browser.get(back.href);
    expect(done.status).toBe(302);
    expect(done.headers.location).toBe(`${appUrl('acme')}/index.html`);
  });

  it('the hint is only the zone session’s: /logout.do without a session logs out as before', async () => {
    const res = await new ScriptedBrowser().get(`${zoneUrl('acme')}/logout.do?redirect=${encodeURIComponent(`${appUrl('acme')}/index.html`)}&client_id=${encodeURIComponent(gw.running.credentials!.clientid)}`);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`${appUrl('acme')}/index.html`);
  });

  it('a provider with logout: false logs out at the zone only: the IdP still signs the user straight in', async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, 'globex');
    const { atZone, plainTarget } = await logOut(browser, 'globex');
    expect(atZone.status).toBe(302);
    expect(atZone.headers.location).toBe(plainTarget);
    expect(await idpAnswer(browser, 'globex')).toBe('signed in');
  });

  it('an IdP without end_session_endpoint: logout at the zone as before', async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, 'globex', 'plain', plainIdp);
    const { atZone, plainTarget } = await logOut(browser, 'globex');
    expect(atZone.status).toBe(302);
    expect(atZone.headers.location).toBe(plainTarget);
  });

  it('config.logout must be true or false', async () => {
    const res = await admin('acme', 'POST', '/identity-providers', {
      type: 'oidc1.0',
      originKey: 'bad-logout',
      config: { discoveryUrl: idp.issuer, relyingPartyId: idp.clientId, relyingPartySecret: idp.clientSecret, logout: 'yes' },
    });
    expect(res.status).toBe(400);
    expect(res.json().error_description).toContain('config.logout must be true or false');
  });
});
