/**
 * Issue 14, SSO handover (Uitsmijter's "silent login"): a user signed in through one client of a
 * zone gets a code for another client of the same zone without the form (prompt=none works), with
 * that client's own rules applied; the zone's SSO session never reaches another zone.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, PASSWORD, formFields, pkce, startZones, type Harness } from '../oauth/harness.js';
import { clientInput } from './store-contract.js';

let h: Harness;
let portalSecret: string;
let exchangerSecret: string;
const PORTAL = 'https://portal.example.com/callback';
const MOBILE = 'https://app.example.com/callback';

beforeAll(async () => {
  h = await startZones();
  portalSecret = (await h.server.clients.create(clientInput('portal', { redirectUris: [PORTAL] }))).clientSecret!;
  await h.server.clients.create(clientInput('mobile', { public: true, redirectUris: [MOBILE], scopes: ['$XSAPPNAME.Viewer'] }));
  await h.server.clients.create(clientInput('acme-only', { public: true, redirectUris: [MOBILE], zones: ['acme'] }));
  exchangerSecret = (await h.server.clients.create(clientInput('exchanger', { redirectUris: [], grantTypes: ['urn:ietf:params:oauth:grant-type:jwt-bearer'], scopes: ['$XSAPPNAME.Viewer'] }))).clientSecret!;
});
afterAll(async () => {
  await h?.close();
});

const authorize = (clientId: string, redirect: string, params: Record<string, string> = {}) =>
  `/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirect, state: 's', ...params }).toString()}`;

async function portalLogin(browser: Browser, zone: string, userName: string): Promise<Record<string, unknown>> {
  return decodeJwt(await portalToken(browser, zone, userName));
}

async function portalToken(browser: Browser, zone: string, userName: string): Promise<string> {
  const page = await browser.get(zone, authorize('portal', PORTAL));
  expect(page.status).toBe(200);
  const done = await browser.post(zone, '/login.do', { ...formFields(page.text), username: userName, password: PASSWORD });
  const code = new URL(done.headers.location!).searchParams.get('code')!;
  const res = await h.token(zone, { grant_type: 'authorization_code', code, redirect_uri: PORTAL }, { id: 'portal', secret: portalSecret });
  return res.json().access_token;
}

describe('SSO handover between two clients of one zone', () => {
  it('the second client gets its code silently, for the same user and login, with its own scope filter', async () => {
    const browser = new Browser(h);
    const portal = await portalLogin(browser, 'acme', 'alice');
    const { verifier, challenge } = pkce();
    const silent = await browser.get('acme', authorize('mobile', MOBILE, { prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(silent.status).toBe(302);
    const code = new URL(silent.headers.location!).searchParams.get('code');
    expect(code).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const res = await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: MOBILE, code_verifier: verifier, client_id: 'mobile' }, 'none');
    const mobile = decodeJwt(res.json().access_token);
    expect(mobile).toMatchObject({ cid: 'mobile', azp: 'mobile', sub: portal.sub, user_name: 'alice', auth_time: portal.auth_time, zid: h.acme.id });
    expect(portal.scope).toEqual(['openid', `${h.app.instanceName}.Admin`, `${h.app.instanceName}.Viewer`]);
    expect(mobile.scope).toEqual(['openid', `${h.app.instanceName}.Viewer`]);
  });

  it('the handover still applies the second client\'s rules: PKCE for a public client', async () => {
    const browser = new Browser(h);
    await portalLogin(browser, 'acme', 'bob');
    const res = await browser.get('acme', authorize('mobile', MOBILE, { prompt: 'none' }));
    expect(new URL(res.headers.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it('attack: the session of zone acme hands nothing over in zone globex, and a client of acme only is refused at globex', async () => {
    const browser = new Browser(h);
    await portalLogin(browser, 'acme', 'alice');
    const { challenge } = pkce();
    const elsewhere = await browser.get('globex', authorize('mobile', MOBILE, { prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(new URL(elsewhere.headers.location!).searchParams.get('error')).toBe('login_required');
    // Even with globex's own cookie replayed from acme: the SSO session is bound to its zone.
    const acmeCookie = browser.cookieHeader('acme');
    const replayed = await h.call('globex', { path: authorize('mobile', MOBILE, { prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }), headers: { cookie: acmeCookie } });
    expect(new URL(replayed.headers.location!).searchParams.get('error')).toBe('login_required');
    const foreign = await browser.get('globex', authorize('acme-only', MOBILE, { prompt: 'none', code_challenge: challenge, code_challenge_method: 'S256' }));
    expect(foreign.status).toBe(400);
  });

  it('a token of one client exchanged for another\'s (jwt-bearer), only by a client that lists the grant, and only within the zone', async () => {
    const token = await portalToken(new Browser(h), 'acme', 'alice');
    const portal = decodeJwt(token);
    const grant = { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: token };
    const exchanged = await h.token('acme', grant, { id: 'exchanger', secret: exchangerSecret });
    expect(exchanged.status).toBe(200);
    expect(decodeJwt(exchanged.json().access_token)).toMatchObject({ cid: 'exchanger', sub: portal.sub, scope: ['openid', `${h.app.instanceName}.Viewer`] });
    // The portal does not list the grant.
    expect((await h.token('acme', grant, { id: 'portal', secret: portalSecret })).json().error).toBe('unauthorized_client');
    // Another zone does not take acme's token.
    expect((await h.token('globex', grant, { id: 'exchanger', secret: exchangerSecret })).json().error).toBe('invalid_grant');
  });
});
