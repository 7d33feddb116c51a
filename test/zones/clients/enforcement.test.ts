/**
 * Issue 14: each property of a further client, with the attack it stops, over real HTTP against a
 * real identity server (test/zones/oauth/harness.ts). The application's own client is the control:
 * it keeps working exactly as before (the whole of test/zones/oauth/ runs against it).
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIssuedFor } from '../../../src/login/audience.js';
import type { ClientInput } from '../../../src/zones/clients/types.js';
import { Browser, PASSWORD, formFields, pkce, startZones, type Harness } from '../oauth/harness.js';
import { clientInput } from './store-contract.js';

let h: Harness;
const secrets = new Map<string, string>();
const PORTAL = 'https://portal.example.com/callback';
const SPA = 'http://127.0.0.1:5173/callback';

async function client(clientId: string, overrides: Partial<ClientInput>): Promise<void> {
  const { clientSecret } = await h.server.clients.create(clientInput(clientId, { redirectUris: [], ...overrides }));
  if (clientSecret) secrets.set(clientId, clientSecret);
}

beforeAll(async () => {
  h = await startZones();
  await client('portal', { redirectUriRegex: ['https://portal\\.example\\.com/(callback|login/done)'], scopes: ['$XSAPPNAME.Viewer'] });
  await client('spa', { public: true, redirectUris: ['http://127.0.0.1:*/callback'] });
  await client('acme-only', { zones: ['acme'], redirectUris: [PORTAL], grantTypes: ['authorization_code', 'refresh_token', 'password'] });
  await client('from-portal', { redirectUris: [PORTAL], referrers: ['https://portal.example.com/**'] });
  await client('strict', { pkceOnly: true, redirectUris: [PORTAL] });
  await client('machine', { grantTypes: ['client_credentials'], authorities: ['$XSAPPNAME.Callback'], redirectUris: [] });
  await client('other-app', { xsappname: 'resapp', redirectUris: [PORTAL] });
});
afterAll(async () => {
  await h?.close();
});

const authorize = (clientId: string, params: Record<string, string> = {}) =>
  `/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: PORTAL, state: 'st', ...params }).toString()}`;

/** Opens the authorize URL and signs in; the redirect the zone answers with. */
async function signIn(zone: string, path: string, headers: Record<string, string> = {}, userName = 'alice', browser = new Browser(h)): Promise<URL> {
  const page = await browser.get(zone, path, headers);
  if (page.status === 302) return new URL(page.headers.location!);
  expect(page.status, page.text.slice(0, 300)).toBe(200);
  const done = await browser.post(zone, '/login.do', { ...formFields(page.text), username: userName, password: PASSWORD });
  expect(done.status).toBe(302);
  return new URL(done.headers.location!);
}

const basic = (clientId: string) => ({ id: clientId, secret: secrets.get(clientId)! });

describe('a confidential client with regex redirect patterns and narrowed scopes', () => {
  it('control: signs alice in and its token names the client, carries the application in aud and only its allowed scopes', async () => {
    const back = await signIn('acme', authorize('portal'));
    expect(back.origin + back.pathname).toBe(PORTAL);
    const res = await h.token('acme', { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: PORTAL }, basic('portal'));
    expect(res.status).toBe(200);
    const claims = decodeJwt(res.json().access_token);
    expect(claims).toMatchObject({ cid: 'portal', azp: 'portal', client_id: 'portal', zid: h.acme.id });
    // alice holds Admin and Viewer; the client may carry Viewer only: filtering never widens.
    expect(claims.scope).toEqual(['openid', `${h.app.instanceName}.Viewer`]);
    expect(claims.aud).toEqual(expect.arrayContaining(['portal', h.app.instanceName]));
    // The application's gateway accepts it (xssec's audience rule, src/login/audience.ts) ...
    expect(isIssuedFor(claims as never, { clientid: h.app.clientId, xsappname: h.app.instanceName })).toBe(true);
    // ... another application's does not.
    expect(isIssuedFor(claims as never, { clientid: h.resource.app.clientId, xsappname: h.resource.app.instanceName })).toBe(false);
    // The refresh token stays the client's and narrowed.
    const refreshed = await h.token('acme', { grant_type: 'refresh_token', refresh_token: res.json().refresh_token }, basic('portal'));
    expect(decodeJwt(refreshed.json().access_token).scope).toEqual(['openid', `${h.app.instanceName}.Viewer`]);
  });

  it('attack: a redirect URL outside the patterns gets an error page, never a redirect', async () => {
    for (const evil of [
      'https://portal.example.com.attacker.invalid/callback',
      'https://portalxexample.com/callback',
      'https://portal.example.com/callback/../../steal',
      'https://portal.example.com/callbackx',
      'https://attacker.invalid/?https://portal.example.com/callback',
      'https://portal.example.com@attacker.invalid/callback',
    ]) {
      const res = await new Browser(h).get('acme', authorize('portal', { redirect_uri: evil }));
      expect(res.status, evil).toBe(400);
      expect(res.headers.location).toBeUndefined();
    }
    // The second alternative of the pattern is fine.
    expect((await new Browser(h).get('acme', authorize('portal', { redirect_uri: 'https://portal.example.com/login/done' }))).status).toBe(200);
  });

  it('attack: a scope the client may not have is refused, at authorize and at refresh', async () => {
    const refused = await signIn('acme', authorize('portal', { scope: `openid ${h.app.instanceName}.Admin` }));
    expect(refused.searchParams.get('error')).toBe('invalid_scope');
    const back = await signIn('acme', authorize('portal'));
    const tokens = (await h.token('acme', { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: PORTAL }, basic('portal'))).json();
    const wider = await h.token('acme', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: `${h.app.instanceName}.Admin` }, basic('portal'));
    expect(wider.json().error).toBe('invalid_scope');
  });

  it('attack: the client may not use grants it does not list (password, client credentials)', async () => {
    const password = await h.token('acme', { grant_type: 'password', username: 'alice', password: PASSWORD }, basic('portal'));
    expect(password.status).toBe(400);
    expect(password.json().error).toBe('unauthorized_client');
    // The application's own client always may; a further client only when it lists it.
    const cc = await h.token('acme', { grant_type: 'client_credentials' }, basic('portal'));
    expect(cc.json().error).toBe('unauthorized_client');
  });

  it('attack: a wrong or missing secret is invalid_client', async () => {
    expect((await h.token('acme', { grant_type: 'client_credentials' }, { id: 'portal', secret: 'guess' })).status).toBe(401);
    const none = await h.token('acme', { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'portal' }, 'none');
    expect(none.status).toBe(401);
    expect(none.json().error).toBe('invalid_client');
  });
});

describe('logout of a further client', () => {
  it('redirects only to the client\'s own patterns (its regular expressions included)', async () => {
    const ok = await h.call('acme', { path: `/logout.do?${new URLSearchParams({ client_id: 'portal', redirect: 'https://portal.example.com/login/done' })}` });
    expect(ok.status).toBe(302);
    expect(ok.headers.location).toBe('https://portal.example.com/login/done');
    for (const redirect of ['https://attacker.invalid/', 'https://portal.example.com.attacker.invalid/callback']) {
      const refused = await h.call('acme', { path: `/logout.do?${new URLSearchParams({ client_id: 'portal', redirect })}` });
      expect(refused.status, redirect).toBe(200);
      expect(refused.headers.location).toBeUndefined();
    }
  });
});

describe('the password grant, only where listed', () => {
  it('works for a client that lists it', async () => {
    const res = await h.token('acme', { grant_type: 'password', username: 'alice', password: PASSWORD }, basic('acme-only'));
    expect(res.status).toBe(200);
    expect(decodeJwt(res.json().access_token).cid).toBe('acme-only');
  });
});

describe('a public client (an SPA, an installation at a customer)', () => {
  it('control: signs in with PKCE and redeems the code without any secret', async () => {
    const { verifier, challenge } = pkce();
    const back = await signIn('acme', authorize('spa', { redirect_uri: SPA, code_challenge: challenge, code_challenge_method: 'S256' }));
    const res = await h.token('acme', { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: SPA, code_verifier: verifier, client_id: 'spa' }, 'none');
    expect(res.status).toBe(200);
    expect(decodeJwt(res.json().access_token).cid).toBe('spa');
    // Its refresh token works without a secret too, and stays its own.
    const refreshed = await h.token('acme', { grant_type: 'refresh_token', refresh_token: res.json().refresh_token, client_id: 'spa' }, 'none');
    expect(refreshed.status).toBe(200);
  });

  it('attack: without PKCE the authorization request is refused', async () => {
    const res = await new Browser(h).get('acme', authorize('spa', { redirect_uri: SPA }));
    expect(res.status).toBe(302);
    const back = new URL(res.headers.location!);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toContain('PKCE');
  });

  it('attack: it cannot pass off as confidential, nor get a client-credentials token', async () => {
    expect((await h.token('acme', { grant_type: 'client_credentials' }, { id: 'spa', secret: 'anything' })).status).toBe(401);
    const cc = await h.token('acme', { grant_type: 'client_credentials', client_id: 'spa' }, 'none');
    expect(cc.json().error).toBe('unauthorized_client');
    // Nor introspect tokens (it has no uaa.resource).
    const introspect = await h.call('acme', {
      method: 'POST',
      path: '/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'x', client_id: 'spa' }).toString(),
    });
    expect(introspect.status).toBe(403);
  });

  it('attack: another client\'s id without a secret is still invalid_client', async () => {
    const res = await h.token('acme', { grant_type: 'refresh_token', refresh_token: 'x', client_id: h.app.clientId }, 'none');
    expect(res.status).toBe(401);
  });
});

describe('pkceOnly on a confidential client', () => {
  it('attack: without PKCE the request is refused; with it the flow works', async () => {
    const res = await new Browser(h).get('acme', authorize('strict'));
    expect(new URL(res.headers.location!).searchParams.get('error')).toBe('invalid_request');
    const { verifier, challenge } = pkce();
    const back = await signIn('acme', authorize('strict', { code_challenge: challenge, code_challenge_method: 'S256' }));
    const ok = await h.token('acme', { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: PORTAL, code_verifier: verifier }, basic('strict'));
    expect(ok.status).toBe(200);
  });
});

describe('referrers', () => {
  it('control: a request from a listed page gets the sign-in form', async () => {
    expect((await new Browser(h).get('acme', authorize('from-portal'), { referer: 'https://portal.example.com/' })).status).toBe(200);
    expect((await new Browser(h).get('acme', authorize('from-portal'), { referer: 'https://portal.example.com/shop?item=1' })).status).toBe(200);
  });

  it('attack: a referrer not listed, or none at all, is access_denied', async () => {
    for (const referer of ['https://attacker.invalid/', 'https://portal.example.com.attacker.invalid/', undefined]) {
      const res = await new Browser(h).get('acme', authorize('from-portal'), referer ? { referer } : {});
      expect(res.status, String(referer)).toBe(302);
      expect(new URL(res.headers.location!).searchParams.get('error')).toBe('access_denied');
    }
  });
});

describe('zones', () => {
  it('control: a client listed for acme works at acme', async () => {
    expect((await new Browser(h).get('acme', authorize('acme-only'))).status).toBe(200);
  });

  it('attack: a client of zone acme at zone globex is unknown there: error page, and invalid_client at the token endpoint', async () => {
    const page = await new Browser(h).get('globex', authorize('acme-only'));
    expect(page.status).toBe(400);
    expect(page.headers.location).toBeUndefined();
    const res = await h.token('globex', { grant_type: 'password', username: 'carol', password: PASSWORD }, basic('acme-only'));
    expect(res.status).toBe(401);
    expect(res.json().error).toBe('invalid_client');
    // By x-zid on the bare domain: the zone is named, the client authenticated, and still not allowed there.
    const byZid = await h.token(undefined, { grant_type: 'password', username: 'carol', password: PASSWORD }, basic('acme-only'), { 'x-zid': h.globex.id });
    expect(byZid.json().error).toBe('unauthorized_client');
  });

  it('attack: "subscribed" never reaches a zone the application is not subscribed in', async () => {
    const page = await new Browser(h).get('stranger', authorize('portal'));
    expect(page.status).toBe(400);
  });
});

describe('client credentials of a further client', () => {
  it('carries only the authorities it lists that the application has; another application\'s client carries none of this one\'s', async () => {
    const res = await h.token('acme', { grant_type: 'client_credentials' }, basic('machine'));
    expect(res.status).toBe(200);
    const claims = decodeJwt(res.json().access_token);
    expect(claims).toMatchObject({ cid: 'machine', sub: 'machine', scope: [`${h.app.instanceName}.Callback`], authorities: [`${h.app.instanceName}.Callback`] });
    expect(isIssuedFor(claims as never, { clientid: h.app.clientId, xsappname: h.app.instanceName })).toBe(true);
  });

  it('a token of another application\'s client is not accepted as this application\'s', async () => {
    const back = await signIn('acme', authorize('other-app'));
    const res = await h.token('acme', { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: PORTAL }, basic('other-app'));
    expect(res.status).toBe(200);
    const claims = decodeJwt(res.json().access_token);
    expect(isIssuedFor(claims as never, { clientid: h.app.clientId, xsappname: h.app.instanceName })).toBe(false);
  });
});

describe('secret rotation over HTTP', () => {
  it('the old secret works during the grace period, and not after DELETE', async () => {
    const old = secrets.get('machine')!;
    const { clientSecret } = await h.server.clients.rotateSecret('machine', { graceSeconds: 3600 });
    expect((await h.token('acme', { grant_type: 'client_credentials' }, { id: 'machine', secret: old })).status).toBe(200);
    expect((await h.token('acme', { grant_type: 'client_credentials' }, { id: 'machine', secret: clientSecret! })).status).toBe(200);
    await h.server.clients.rotateSecret('machine', { changeMode: 'DELETE' });
    expect((await h.token('acme', { grant_type: 'client_credentials' }, { id: 'machine', secret: old })).status).toBe(401);
    secrets.set('machine', clientSecret!);
  });
});
