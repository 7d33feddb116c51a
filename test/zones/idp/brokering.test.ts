/**
 * Issue 13, OpenID Connect brokering through a real gateway: two tenants, each with its own real
 * OpenID provider (oidc-provider), configured by the tenants' zone administrators over the admin
 * API. A user of A's IdP logs in at tenant A and the backend sees `origin` = A's key and the scope
 * mapped from the IdP's groups; the attacks (another tenant's IdP, tampered state, a replayed
 * callback, a code of one IdP at the other's callback) are refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_CLIENT_ID, ZONE_ADMIN_ROLE_COLLECTION } from '../../../src/zones/directory/admin-client.js';
import type { Zone } from '../../../src/zones/directory/types.js';
import { ensureZone } from '../../../src/zones/start.js';
import { ScriptedBrowser, hiddenFields } from '../../support/browser.js';
import { startDemoGateway, type TestGateway } from '../../support/gateway.js';
import { signInAtIdp, startTestIdp, type TestIdp } from './oidc-idp.js';

const ADMIN_PASSWORD = 'zone-admin-pass-1';
const LOOPBACK = 'http://127.0.0.1:53682/callback';

let gw: TestGateway;
let idpA: TestIdp;
let idpB: TestIdp;
let zoneA: Zone;
let zoneB: Zone;
let instance: string;
const tokens: Record<string, string> = {};
const ids: Record<string, string> = {};

const zoneUrl = (sub: string) => `http://${sub}.auth.localhost:${gw.port}`;
const appUrl = (sub: string) => `http://${sub}.localhost:${gw.port}`;

/** A zone administrator's token, as an admin tool gets it: the admin client, code flow with PKCE, the zone's login form. */
async function zoneAdminToken(sub: string, zone: Zone): Promise<string> {
  const directory = gw.running.directory!;
  const user = await directory.createUser(zone.id, { userName: 'zone-admin', email: `admin@${sub}.example`, password: ADMIN_PASSWORD, roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
  ids[`admin-${sub}`] = user.id;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const browser = new ScriptedBrowser();
  const query = new URLSearchParams({ response_type: 'code', client_id: ADMIN_CLIENT_ID, redirect_uri: LOOPBACK, code_challenge: challenge, code_challenge_method: 'S256', state: 's' });
  const page = await browser.get(`${zoneUrl(sub)}/oauth/authorize?${query}`);
  expect(page.status, page.text.slice(0, 300)).toBe(200);
  const login = await browser.post(`${zoneUrl(sub)}/login.do`, { ...hiddenFields(page.text), username: 'zone-admin', password: ADMIN_PASSWORD });
  const code = new URL(String(login.headers.location)).searchParams.get('code')!;
  const { clientSecret } = gw.running.identity!.adminClient;
  const res = await browser.post(
    `${zoneUrl(sub)}/oauth/token`,
    { grant_type: 'authorization_code', code, redirect_uri: LOOPBACK, code_verifier: verifier },
    { accept: 'application/json', authorization: `Basic ${Buffer.from(`${ADMIN_CLIENT_ID}:${clientSecret}`).toString('base64')}` },
  );
  expect(res.status, res.text).toBe(200);
  return res.json().access_token as string;
}

function admin(sub: string, method: string, path: string, body?: unknown) {
  return new ScriptedBrowser().request(`${zoneUrl(sub)}${path}`, {
    method,
    headers: { accept: 'application/json', authorization: `Bearer ${tokens[sub]}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

function oidcProvider(originKey: string, idp: TestIdp) {
  return {
    type: 'oidc1.0',
    originKey,
    name: `Corporate ${originKey}`,
    config: {
      discoveryUrl: `${idp.issuer}/.well-known/openid-configuration`,
      relyingPartyId: idp.clientId,
      relyingPartySecret: idp.clientSecret,
      scopes: ['openid', 'profile', 'email', 'groups'],
      attributeMappings: { user_name: 'preferred_username', external_groups: ['groups'] },
    },
  };
}

/** From the application's page to the IdP: the gateway's login redirect, then the zone's answer (a redirect to the IdP, or its login page). */
async function toZone(browser: ScriptedBrowser, sub: string) {
  const start = await browser.get(`${appUrl(sub)}/api/whoami`);
  expect(start.status).toBe(302);
  return browser.get(String(start.headers.location));
}

/** The whole login of `user` at tenant `sub` through its IdP; the backend's view of the request afterwards. */
async function logInThroughIdp(browser: ScriptedBrowser, sub: string, idp: TestIdp, user: string) {
  let zone = await toZone(browser, sub);
  if (zone.status === 200) {
    // The zone's login page (local users too): its link to the IdP.
    const href = /<a href="([^"]+)">Sign in with /.exec(zone.text)?.[1];
    expect(href, zone.text).toBeDefined();
    zone = await browser.get(new URL(unescapeHtml(href!), zone.url).href);
  }
  expect(zone.status, zone.text.slice(0, 300)).toBe(302);
  const callback = await signInAtIdp(browser, idp, String(zone.headers.location), user);
  expect(callback.host).toBe(`${sub}.auth.localhost:${gw.port}`);
  const done = await browser.follow(await browser.get(callback.href));
  return done;
}

beforeAll(async () => {
  gw = await startDemoGateway();
  const directory = gw.running.directory!;
  const application = (await directory.getApplicationByClientId(gw.running.credentials!.clientid))!;
  instance = application.instanceName;
  zoneA = await ensureZone(directory, 'tenanta', 'Tenant A');
  zoneB = await ensureZone(directory, 'tenantb', 'Tenant B');
  await directory.subscribe(application, zoneA.id);
  await directory.subscribe(application, zoneB.id);
  const accounts = {
    alice: { email: 'alice@a.example', givenName: 'Alice', familyName: 'Anders', groups: ['admins', 'staff'] },
  };
  idpA = await startTestIdp({ clientId: 'zone-tenanta', clientSecret: 'secret-of-tenant-a-0123456789', redirectUris: [`${zoneUrl('tenanta')}/login/callback/corp-a`], accounts });
  idpB = await startTestIdp({
    clientId: 'zone-tenantb',
    clientSecret: 'secret-of-tenant-b-0123456789',
    redirectUris: [`${zoneUrl('tenantb')}/login/callback/corp-b`],
    accounts: { bob: { email: 'bob@b.example', groups: ['admins'] } },
  });
  tokens.tenanta = await zoneAdminToken('tenanta', zoneA);
  tokens.tenantb = await zoneAdminToken('tenantb', zoneB);
}, 60_000);

afterAll(async () => {
  await idpA?.stop();
  await idpB?.stop();
  await gw?.stop();
});

describe('identity providers over the admin API', () => {
  it('tenant A adds its IdP and maps its groups to role collections; the secret is never shown', async () => {
    const created = await admin('tenanta', 'POST', '/identity-providers', oidcProvider('corp-a', idpA));
    expect(created.status, created.text).toBe(201);
    const idp = created.json();
    expect(idp).toMatchObject({ originKey: 'corp-a', type: 'oidc1.0', active: true, identityZoneId: zoneA.id });
    expect(created.text).not.toContain(idpA.clientSecret);
    ids.corpA = idp.id;
    const mapped = await admin('tenanta', 'PUT', `/identity-providers/${idp.id}/role-collection-mappings`, [
      { group: 'admins', roleCollection: 'Demo Administrator' },
      { group: 'staff', roleCollection: 'Demo Viewer' },
    ]);
    expect(mapped.status, mapped.text).toBe(200);
    expect(mapped.json()).toHaveLength(2);
    const listed = await admin('tenanta', 'GET', '/identity-providers');
    expect(listed.json().map((p: { originKey: string }) => p.originKey)).toEqual(['corp-a']);
    expect(listed.text).not.toContain(idpA.clientSecret);
  });

  it('tenant B adds its own IdP', async () => {
    const created = await admin('tenantb', 'POST', '/identity-providers', oidcProvider('corp-b', idpB));
    expect(created.status, created.text).toBe(201);
    ids.corpB = created.json().id;
    const mapped = await admin('tenantb', 'PUT', `/identity-providers/${ids.corpB}/role-collection-mappings`, [{ group: 'admins', roleCollection: 'Demo Administrator' }]);
    expect(mapped.status, mapped.text).toBe(200);
  });

  it('refuses a mapping to a role collection the zone does not have, naming it', async () => {
    const res = await admin('tenanta', 'PUT', `/identity-providers/${ids.corpA}/role-collection-mappings`, [{ group: 'admins', roleCollection: 'No Such Collection' }]);
    expect(res.status).toBe(400);
    expect(res.json().error_description).toContain('No Such Collection');
    // The earlier mappings stay.
    expect((await admin('tenanta', 'GET', `/identity-providers/${ids.corpA}/role-collection-mappings`)).json()).toHaveLength(2);
  });

  it('refuses an unreachable discovery URL, naming it, and a bad config naming each field', async () => {
    const unreachable = oidcProvider('nowhere', idpA);
    unreachable.config.discoveryUrl = 'http://127.0.0.1:9/.well-known/openid-configuration';
    const res = await admin('tenanta', 'POST', '/identity-providers', unreachable);
    expect(res.status).toBe(400);
    expect(res.json().error_description).toContain('config.discoveryUrl');
    expect(res.json().error_description).toContain('http://127.0.0.1:9/.well-known/openid-configuration');
    const bad = await admin('tenanta', 'POST', '/identity-providers', { type: 'oidc1.0', originKey: 'sap.default', config: { discoveryUrl: 'http://idp.example.com/', scopes: 'openid' } });
    expect(bad.status).toBe(400);
    const text = bad.json().error_description as string;
    for (const field of ['originKey', 'config.discoveryUrl', 'config.relyingPartyId', 'config.relyingPartySecret', 'config.scopes']) expect(text).toContain(field);
  });

  it('zone B cannot see, change or delete A\'s IdP', async () => {
    const listed = await admin('tenantb', 'GET', '/identity-providers');
    expect(listed.json().map((p: { originKey: string }) => p.originKey)).toEqual(['corp-b']);
    expect((await admin('tenantb', 'GET', `/identity-providers/${ids.corpA}`)).status).toBe(404);
    expect((await admin('tenantb', 'PUT', `/identity-providers/${ids.corpA}`, { name: 'hijacked' })).status).toBe(404);
    expect((await admin('tenantb', 'DELETE', `/identity-providers/${ids.corpA}`)).status).toBe(404);
    expect((await admin('tenantb', 'GET', `/identity-providers/${ids.corpA}/role-collection-mappings`)).status).toBe(404);
    // A's token at B's host is a known caller without rights there.
    const crossed = await new ScriptedBrowser().request(`${zoneUrl('tenantb')}/identity-providers`, { headers: { accept: 'application/json', authorization: `Bearer ${tokens.tenanta}` } });
    expect(crossed.status).toBe(403);
  });

  it('keeps the client secret sealed in the records database', async () => {
    const rows = await gw.running.records.all<{ config: string; sealed_secret: string }>('SELECT config, sealed_secret FROM identity_providers');
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.config + row.sealed_secret).not.toContain(idpA.clientSecret);
      expect(row.config + row.sealed_secret).not.toContain(idpB.clientSecret);
      expect(JSON.parse(row.sealed_secret).alg).toBe('A256GCM');
    }
  });
});

describe('login through the tenant\'s IdP', () => {
  it('a user of A\'s IdP logs in at tenant A: the backend sees origin corp-a and the mapped Admin scope', async () => {
    const browser = new ScriptedBrowser();
    const done = await logInThroughIdp(browser, 'tenanta', idpA, 'alice');
    expect(done.status, done.text.slice(0, 300)).toBe(200);
    const claims = done.json().jwt.claims;
    expect(claims.origin).toBe('corp-a');
    expect(claims.user_name).toBe('alice');
    expect(claims.email).toBe('alice@a.example');
    expect(claims.given_name).toBe('Alice');
    expect(claims.zid).toBe(zoneA.id);
    expect(claims.scope).toContain(`${instance}.Admin`);
    expect(claims['xs.system.attributes']['xs.rolecollections'].sort()).toEqual(['Demo Administrator', 'Demo Viewer']);
    const user = (await gw.running.directory!.listUsers(zoneA.id)).find((u) => u.origin === 'corp-a');
    expect(user).toMatchObject({ userName: 'alice', origin: 'corp-a' });
  });

  it('keeps directly assigned role collections and replaces mapped ones: a group removed at the IdP takes its scope away at the next login', async () => {
    const directory = gw.running.directory!;
    const alice = (await directory.listUsers(zoneA.id)).find((u) => u.origin === 'corp-a')!;
    await directory.createRoleCollection(zoneA.id, { name: 'Extra Viewer', roleTemplates: ['Viewer'] });
    await directory.assignRoleCollection(zoneA.id, alice.id, 'Extra Viewer');
    idpA.accounts.get('alice')!.groups = ['staff'];
    const done = await logInThroughIdp(new ScriptedBrowser(), 'tenanta', idpA, 'alice');
    expect(done.status, done.text.slice(0, 300)).toBe(200);
    const claims = done.json().jwt.claims;
    expect(claims.scope).not.toContain(`${instance}.Admin`);
    expect(claims.scope).toContain(`${instance}.Viewer`);
    expect(claims['xs.system.attributes']['xs.rolecollections'].sort()).toEqual(['Demo Viewer', 'Extra Viewer']);
    idpA.accounts.get('alice')!.groups = ['admins', 'staff'];
  });

  it('a zone with one IdP and no local password user sends the browser straight to it; A\'s user cannot log in at tenant B', async () => {
    // Tenant B's only local user (its administrator) goes: B now logs in through its IdP alone.
    await gw.running.directory!.deleteUser(zoneB.id, ids['admin-tenantb']!);
    const browser = new ScriptedBrowser();
    const zone = await toZone(browser, 'tenantb');
    expect(zone.status).toBe(302);
    const toIdp = new URL(String(zone.headers.location));
    expect(toIdp.origin).toBe(idpB.issuer);
    expect(toIdp.searchParams.get('code_challenge_method')).toBe('S256');
    // openid-client's randomNonce(): 32 random bytes, base64url.
    expect(toIdp.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/);
    // B's IdP does not know alice: B's login can only go through B's IdP, which refuses her.
    const back = await signInAtIdp(browser, idpB, toIdp.href, 'alice').catch((e: unknown) => e);
    expect(back).toBeInstanceOf(Error);
  });

  it('refuses a code of A\'s IdP at B\'s callback (attack), and A\'s callback URL at B\'s host', async () => {
    // The attacker gets a code from A's IdP in a login of tenant A...
    const attacker = new ScriptedBrowser();
    let zone = await toZone(attacker, 'tenanta');
    const href = /<a href="([^"]+)">Sign in with /.exec(zone.text)![1]!;
    zone = await attacker.get(new URL(unescapeHtml(href), zone.url).href);
    const fromA = await signInAtIdp(attacker, idpA, String(zone.headers.location), 'alice');
    // ...and presents it with the state of a login it started at tenant B.
    const atB = await toZone(attacker, 'tenantb');
    const stateB = new URL(String(atB.headers.location)).searchParams.get('state')!;
    const forged = new URL(`${zoneUrl('tenantb')}/login/callback/corp-b`);
    forged.searchParams.set('code', fromA.searchParams.get('code')!);
    forged.searchParams.set('state', stateB);
    forged.searchParams.set('iss', idpB.issuer);
    const refused = await attacker.get(forged.href);
    expect(refused.status).toBe(401);
    expect(refused.headers['x-zonegate-error']).toBe('ZG_ERR_LOGIN_FAILED');
    // A's whole callback URL, replayed at B's host (as B's origin and as A's): no such login there.
    const atBHost = new URL(fromA.pathname.replace('corp-a', 'corp-b') + fromA.search, zoneUrl('tenantb'));
    expect((await attacker.get(atBHost.href)).status).toBe(403);
    const sameOrigin = new URL(fromA.pathname + fromA.search, zoneUrl('tenantb'));
    expect((await attacker.get(sameOrigin.href)).status).toBe(403);
    // No session at B came of it.
    const b = await attacker.get(`${appUrl('tenantb')}/api/whoami`);
    expect(b.status).toBe(302);
  });

  it('refuses a tampered state and a replayed callback', async () => {
    const browser = new ScriptedBrowser();
    let zone = await toZone(browser, 'tenanta');
    const href = /<a href="([^"]+)">Sign in with /.exec(zone.text)![1]!;
    zone = await browser.get(new URL(unescapeHtml(href), zone.url).href);
    const callback = await signInAtIdp(browser, idpA, String(zone.headers.location), 'alice');
    const tampered = new URL(callback);
    tampered.searchParams.set('state', `${callback.searchParams.get('state')}x`);
    const refused = await browser.get(tampered.href);
    expect(refused.status).toBe(403);
    expect(refused.headers['x-zonegate-error']).toBe('ZG_ERR_FORM_EXPIRED');
    // In another browser (login CSRF): refused, and the login stays usable for its own browser.
    expect((await new ScriptedBrowser().get(callback.href)).status).toBe(403);
    const ok = await browser.get(callback.href);
    expect(ok.status).toBe(302);
    // The same callback again (its state, nonce and code used): refused.
    const replayed = await browser.get(callback.href);
    expect(replayed.status).toBe(403);
  });

  it('shows a clear zone error page when the user refuses at the IdP', async () => {
    const browser = new ScriptedBrowser();
    let zone = await toZone(browser, 'tenanta');
    const href = /<a href="([^"]+)">Sign in with /.exec(zone.text)![1]!;
    zone = await browser.get(new URL(unescapeHtml(href), zone.url).href);
    const callback = await signInAtIdp(browser, idpA, String(zone.headers.location), 'alice', { abort: true });
    expect(callback.searchParams.get('error')).toBe('access_denied');
    const page = await browser.get(callback.href);
    expect(page.status).toBe(403);
    expect(page.headers['x-zonegate-error']).toBe('ZG_ERR_IDP_REFUSED');
    expect(page.text).toContain('Corporate corp-a');
    expect(page.text).toContain('access_denied');
  });

  it('picks an IdP by XSUAA\'s login_hint and refuses one the zone does not have', async () => {
    const browser = new ScriptedBrowser();
    const zone = await toZone(browser, 'tenanta');
    const authorize = new URL(href(zone.text), zone.url);
    authorize.searchParams.delete('idp');
    authorize.searchParams.set('login_hint', JSON.stringify({ origin: 'corp-a' }));
    const picked = await browser.get(authorize.href);
    expect(picked.status).toBe(302);
    expect(new URL(String(picked.headers.location)).origin).toBe(idpA.issuer);
    authorize.searchParams.set('login_hint', JSON.stringify({ origin: 'corp-b' }));
    const other = await browser.get(authorize.href);
    expect(other.status).toBe(302);
    expect(new URL(String(other.headers.location)).searchParams.get('error')).toBe('invalid_request');
  });
});

function unescapeHtml(text: string): string {
  return text.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))).replace(/&amp;/g, '&');
}

/** The login page's link to the IdP, as the browser follows it. */
function href(page: string): string {
  return unescapeHtml(/<a href="([^"]+)">Sign in with /.exec(page)![1]!);
}
