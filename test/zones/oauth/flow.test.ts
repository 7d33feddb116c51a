import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, PASSWORD, REDIRECT, authorizePath, formFields, loginForCode, pkce, security, startZones, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startZones();
});
afterAll(async () => {
  await h?.close();
});

describe('authorization code flow', () => {
  it('logs a user in with the zone login page and issues XSUAA tokens', async () => {
    const browser = new Browser(h);
    const { challenge, verifier } = pkce();
    const page = await browser.get('acme', authorizePath(h.app.clientId, { code_challenge: challenge, code_challenge_method: 'S256', nonce: 'n-0S6', scope: 'openid myapp!t1.Admin' }));
    expect(page.status).toBe(200);
    expect(page.text).toContain('ACME Corp');
    expect(page.text).toContain('#ff0000');
    expect(page.headers['x-frame-options']).toBe('DENY');
    const fields = formFields(page.text);
    expect(fields.auth_request).toMatch(/^\S{16,}$/);
    expect(fields['X-Uaa-Csrf']).toMatch(/^\S{16,}$/);

    const login = await browser.post('acme', '/login.do', { ...fields, username: 'alice', password: PASSWORD });
    expect(login.status).toBe(302);
    const location = new URL(login.headers.location!);
    expect(location.origin + location.pathname).toBe(REDIRECT);
    expect(location.searchParams.get('state')).toBe('s-1');
    const code = location.searchParams.get('code')!;

    const res = await h.token('acme', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body.token_type).toBe('bearer');
    expect(body.scope).toBe('openid myapp!t1.Admin');
    expect(body.refresh_token).toMatch(/^[\w-]{32,}$/);
    expect(body.expires_in).toBeGreaterThan(3500);

    const header = decodeProtectedHeader(body.access_token);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT', jku: `${h.url('acme')}/token_keys` });
    expect(header.kid).toMatch(/^\S+$/);
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({
      iss: `${h.url('acme')}/oauth/token`,
      zid: h.acme.id,
      ext_attr: { enhancer: 'XSUAA', subaccountid: h.acme.id, zdn: 'acme' },
      cid: h.app.clientId,
      client_id: h.app.clientId,
      azp: h.app.clientId,
      scope: ['openid', 'myapp!t1.Admin'],
      grant_type: 'authorization_code',
      sub: h.alice.id,
      user_id: h.alice.id,
      user_name: 'alice',
      origin: 'sap.default',
      email: 'alice@acme.example',
      given_name: 'Alice',
      family_name: 'Able',
      'xs.system.attributes': { 'xs.rolecollections': ['myapp_Administrator'] },
    });
    expect(claims.aud).toEqual([h.app.clientId, 'openid', 'myapp!t1']);
    expect(typeof claims.auth_time).toBe('number');
    expect(body.jti).toBe(claims.jti);

    const id = decodeJwt(body.id_token);
    expect(id).toMatchObject({ iss: `${h.url('acme')}/oauth/token`, aud: [h.app.clientId], sub: h.alice.id, nonce: 'n-0S6', azp: h.app.clientId });
  });

  it('grants all of the user\'s scopes for the client when no scope is requested', async () => {
    const { code } = await loginForCode(h, new Browser(h), 'acme', { userName: 'bob' });
    const body = (await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json();
    expect(decodeJwt(body.access_token).scope).toEqual(['openid', 'myapp!t1.Viewer']);
  });

  it('logs a second client in silently through the zone SSO session, and not after logout', async () => {
    const { application: other } = await h.directory.registerApplication(security('otherapp'), h.provider.id);
    await h.directory.subscribe(other, h.acme.id);
    const browser = new Browser(h);
    await loginForCode(h, browser, 'acme', { userName: 'alice' });
    const silent = await browser.get('acme', authorizePath(other.clientId, { state: 'x' }));
    expect(silent.status).toBe(302);
    const location = new URL(silent.headers.location!);
    expect(location.searchParams.get('code')).toMatch(/^[\w-]{32,}$/);
    expect(location.searchParams.get('state')).toBe('x');
    // The SSO cookie of acme means nothing at globex: it is host-only and zone-bound.
    const elsewhere = await h.call('globex', { path: authorizePath(h.app.clientId), headers: { cookie: browser.cookieHeader('acme'), accept: 'text/html' } });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.text).toContain('<form');

    const logout = await browser.get('acme', `/logout.do?redirect=${encodeURIComponent('https://acme.app.example.com/bye')}&client_id=${encodeURIComponent(other.clientId)}`);
    expect(logout.status).toBe(302);
    expect(logout.headers.location).toBe('https://acme.app.example.com/bye');
    const again = await browser.get('acme', authorizePath(other.clientId));
    expect(again.status).toBe(200);
    expect(again.text).toContain('<form');
  });

  it('answers prompt=none without a session with login_required at the redirect URI', async () => {
    const res = await new Browser(h).get('acme', authorizePath(h.app.clientId, { prompt: 'none' }));
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location!);
    expect(location.searchParams.get('error')).toBe('login_required');
    expect(location.searchParams.get('state')).toBe('s-1');
  });

  it('redirects unsupported response types and unknown scopes with error=', async () => {
    const browser = new Browser(h);
    const bad = new URL((await browser.get('acme', authorizePath(h.app.clientId, { response_type: 'token' }))).headers.location!);
    expect(bad.searchParams.get('error')).toBe('unsupported_response_type');
    const scope = new URL((await browser.get('acme', authorizePath(h.app.clientId, { scope: 'openid other!t9.Admin' }))).headers.location!);
    expect(scope.searchParams.get('error')).toBe('invalid_scope');
  });

  it('shows an error page, never a redirect, for an unknown client', async () => {
    const res = await new Browser(h).get('acme', authorizePath('sb-nobody!t99'));
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  it('refuses the shared client at authorize in a zone that did not subscribe', async () => {
    const res = await new Browser(h).get('stranger', authorizePath(h.app.clientId));
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  it('answers 404 for a zone that does not exist', async () => {
    expect((await h.call('nowhere', { path: '/oauth/token', method: 'POST' })).status).toBe(404);
    const page = await h.call('nowhere', { path: '/oauth/authorize', headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(page.headers['content-type']).toContain('text/html');
  });
});

describe('login form', () => {
  it('refuses a form without its CSRF token or from another browser', async () => {
    const browser = new Browser(h);
    const page = await browser.get('acme', authorizePath(h.app.clientId));
    const fields = formFields(page.text);
    const noCsrf = await browser.post('acme', '/login.do', { auth_request: fields.auth_request!, username: 'alice', password: PASSWORD });
    expect(noCsrf.status).toBe(403);
    const otherBrowser = new Browser(h);
    const foreign = await otherBrowser.post('acme', '/login.do', { ...fields, username: 'alice', password: PASSWORD });
    expect(foreign.status).toBe(403);
    const ok = await browser.post('acme', '/login.do', { ...fields, username: 'alice', password: PASSWORD });
    expect(ok.status).toBe(302);
    // A used form cannot log in a second time.
    const reused = await browser.post('acme', '/login.do', { ...fields, username: 'alice', password: PASSWORD });
    expect(reused.status).toBe(403);
  });

  it('says the same for an unknown user and a wrong password', async () => {
    const browser = new Browser(h);
    const fields = formFields((await browser.get('acme', authorizePath(h.app.clientId))).text);
    const wrong = await browser.post('acme', '/login.do', { ...fields, username: 'bob', password: 'not-his-password' });
    const unknown = await browser.post('acme', '/login.do', { ...fields, username: 'nobody-here', password: 'whatever-1' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const message = (html: string) => /role="alert">([^<]*)</.exec(html)?.[1];
    expect(message(wrong.text)).toBe(message(unknown.text));
  });

  it('escapes what it echoes', async () => {
    const browser = new Browser(h);
    const page = await browser.get('acme', authorizePath(h.app.clientId, { login_hint: '"><script>alert(1)</script>' }));
    expect(page.text).not.toContain('<script>');
    expect(page.text).toContain('&#34;&#62;&#60;script&#62;');
  });
});

describe('token endpoint', () => {
  it('issues client-credentials tokens with authorities, for Basic and for form authentication', async () => {
    const basic = await h.token('acme', { grant_type: 'client_credentials' });
    expect(basic.status).toBe(200);
    const post = await h.token('acme', { grant_type: 'client_credentials', client_id: h.app.clientId, client_secret: h.secret }, 'none');
    expect(post.status).toBe(200);
    const body = post.json();
    expect(body.refresh_token).toBeUndefined();
    expect(body.id_token).toBeUndefined();
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({
      grant_type: 'client_credentials',
      sub: h.app.clientId,
      scope: ['myapp!t1.Callback'],
      authorities: ['myapp!t1.Callback'],
      zid: h.acme.id,
      ext_attr: { zdn: 'acme' },
    });
    expect(claims.aud).toEqual([h.app.clientId, 'myapp!t1']);
    expect(claims.user_id).toBeUndefined();
    expect(claims.user_name).toBeUndefined();
  });

  it('serves the bare uaadomain with x-zid, as @sap/xssec calls it', async () => {
    const res = await h.token(undefined, { grant_type: 'client_credentials', client_id: h.app.clientId, client_secret: h.secret }, 'none', { 'x-zid': h.globex.id });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.json().access_token)).toMatchObject({ zid: h.globex.id, ext_attr: { zdn: 'globex' } });
    const unknown = await h.token(undefined, { grant_type: 'client_credentials' }, undefined, { 'x-zid': 'no-such-zone' });
    expect(unknown.status).toBe(400);
    expect(unknown.json().error).toBe('invalid_request');
  });

  it('refuses both client authentication methods at once', async () => {
    const res = await h.token('acme', { grant_type: 'client_credentials', client_secret: h.secret });
    expect(res.status).toBe(400);
    expect(res.json().error).toBe('invalid_request');
  });

  it('answers an unknown grant type in RFC 6749 §5.2 shape', async () => {
    const res = await h.token('acme', { grant_type: 'urn:example:magic' });
    expect(res.status).toBe(400);
    expect(res.json()).toEqual({ error: 'unsupported_grant_type', error_description: 'Unsupported grant type: urn:example:magic' });
  });

  it('rotates refresh tokens, tolerates an empty app_tid, and revokes the family when an older token is reused', async () => {
    const { code } = await loginForCode(h, new Browser(h), 'acme', { userName: 'alice', params: { scope: 'openid myapp!t1.Admin' } });
    const first = (await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json();
    const second = await h.token('acme', { grant_type: 'refresh_token', refresh_token: first.refresh_token, app_tid: '' });
    expect(second.status).toBe(200);
    const middle = second.json();
    expect(middle.refresh_token).not.toBe(first.refresh_token);
    const third = await h.token('acme', { grant_type: 'refresh_token', refresh_token: middle.refresh_token });
    expect(third.status).toBe(200);
    const rotated = third.json();
    expect(decodeJwt(rotated.access_token)).toMatchObject({ grant_type: 'refresh_token', scope: ['openid', 'myapp!t1.Admin'], user_name: 'alice' });

    // Older than the immediately previous token: no retry grace (refresh.test.ts covers the window).
    const reuse = await h.token('acme', { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(reuse.status).toBe(400);
    expect(reuse.json().error).toBe('invalid_grant');
    // The legitimate successor is revoked with its family, and so are its access tokens.
    const successor = await h.token('acme', { grant_type: 'refresh_token', refresh_token: rotated.refresh_token });
    expect(successor.json().error).toBe('invalid_grant');
    const info = await h.call('acme', { path: '/userinfo', headers: { authorization: `Bearer ${rotated.access_token}` } });
    expect(info.status).toBe(401);
  });

  it('lets the scope parameter narrow a refresh, never widen it (RFC 6749 §6)', async () => {
    const { code } = await loginForCode(h, new Browser(h), 'acme', { userName: 'alice' });
    const first = (await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json();
    const narrowed = await h.token('acme', { grant_type: 'refresh_token', refresh_token: first.refresh_token, scope: 'myapp!t1.Viewer' });
    expect(narrowed.status).toBe(200);
    expect(decodeJwt(narrowed.json().access_token).scope).toEqual(['myapp!t1.Viewer']);
    const wider = await h.token('acme', { grant_type: 'refresh_token', refresh_token: narrowed.json().refresh_token, scope: 'myapp!t1.Admin other!t9.Root' });
    expect(wider.json().error).toBe('invalid_scope');
    // The refused request did not use the token up, and the refresh token kept its full scope.
    const full = await h.token('acme', { grant_type: 'refresh_token', refresh_token: narrowed.json().refresh_token });
    expect(full.status).toBe(200);
    expect(decodeJwt(full.json().access_token).scope).toEqual(['openid', 'myapp!t1.Admin', 'myapp!t1.Viewer']);
  });

  it('narrows client-credentials scopes on request and refuses others', async () => {
    expect((await h.token('acme', { grant_type: 'client_credentials', scope: 'myapp!t1.Callback' })).status).toBe(200);
    expect((await h.token('acme', { grant_type: 'client_credentials', scope: 'myapp!t1.Admin' })).json().error).toBe('invalid_scope');
  });

  it('refuses a refresh token of one client presented by another', async () => {
    const { application: other, clientSecret } = await h.directory.registerApplication(security('thiefapp'), h.provider.id);
    await h.directory.subscribe(other, h.acme.id);
    const { code } = await loginForCode(h, new Browser(h), 'acme', { userName: 'alice' });
    const first = (await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json();
    const stolen = await h.token('acme', { grant_type: 'refresh_token', refresh_token: first.refresh_token }, { id: other.clientId, secret: clientSecret });
    expect(stolen.json().error).toBe('invalid_grant');
    expect((await h.token('acme', { grant_type: 'refresh_token', refresh_token: first.refresh_token })).json().error).toBe('invalid_grant');
  });

  it('exchanges a user token for another client with jwt-bearer, answering a refresh token', async () => {
    const { code } = await loginForCode(h, new Browser(h), 'acme', { userName: 'alice' });
    const user = (await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json();
    const res = await h.token('acme', { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: user.access_token });
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body.refresh_token).toMatch(/^[\w-]{32,}$/);
    expect(decodeJwt(body.access_token)).toMatchObject({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', user_id: h.alice.id, zid: h.acme.id });
    const wrongZone = await h.token('globex', { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: user.access_token });
    expect(wrongZone.json().error).toBe('invalid_grant');
  });

  it('issues password tokens to a client that lists the grant', async () => {
    const res = await h.token('provider', { grant_type: 'password', username: 'padmin', password: PASSWORD }, { id: h.pwdApp.clientId, secret: h.pwdSecret });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.json().access_token)).toMatchObject({ grant_type: 'password', user_name: 'padmin', scope: ['openid', 'pwdapp!t2.Admin', 'pwdapp!t2.Viewer'] });
  });
});

describe('other endpoints', () => {
  it('serves discovery at the root and under the issuer path', async () => {
    for (const path of ['/.well-known/openid-configuration', '/oauth/token/.well-known/openid-configuration']) {
      const doc = (await h.call('acme', { path })).json();
      expect(doc).toMatchObject({
        issuer: `${h.url('acme')}/oauth/token`,
        authorization_endpoint: `${h.url('acme')}/oauth/authorize`,
        token_endpoint: `${h.url('acme')}/oauth/token`,
        userinfo_endpoint: `${h.url('acme')}/userinfo`,
        jwks_uri: `${h.url('acme')}/token_keys`,
        end_session_endpoint: `${h.url('acme')}/logout.do`,
        code_challenge_methods_supported: ['S256'],
      });
      expect(doc.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'none']);
    }
  });

  it('serves token_keys in UAA format on zone hosts and the bare domain; 400 for an unknown zid', async () => {
    const zoneKeys = (await h.call('acme', { path: '/token_keys' })).json();
    expect(zoneKeys.keys).toHaveLength(1);
    expect(zoneKeys.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', e: 'AQAB' });
    expect(zoneKeys.keys[0].value).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(Object.keys(zoneKeys.keys[0]).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use', 'value']);
    const bare = (await h.call(undefined, { path: `/token_keys?zid=${h.acme.id}` })).json();
    expect(bare).toEqual(zoneKeys);
    const other = (await h.call(undefined, { path: `/token_keys?zid=${h.globex.id}` })).json();
    expect(other.keys[0].kid).not.toBe(zoneKeys.keys[0].kid);
    expect((await h.call(undefined, { path: '/token_keys?zid=00000000-0000-0000-0000-000000000000' })).status).toBe(400);
    expect((await h.call(undefined, { path: '/token_keys' })).status).toBe(400);
  });

  it('answers userinfo in UAA shape', async () => {
    const { code } = await loginForCode(h, new Browser(h), 'acme', { userName: 'alice' });
    const { access_token } = (await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json();
    const info = await h.call('acme', { path: '/userinfo', headers: { authorization: `Bearer ${access_token}` } });
    expect(info.status).toBe(200);
    expect(info.json()).toEqual({
      user_id: h.alice.id,
      user_name: 'alice',
      given_name: 'Alice',
      family_name: 'Able',
      email: 'alice@acme.example',
      email_verified: true,
      sub: h.alice.id,
      name: 'Alice Able',
      zid: h.acme.id,
      origin: 'sap.default',
      // Alice's role (Administrator) references no attribute.
      user_attributes: {},
    });
    const none = await h.call('acme', { path: '/userinfo' });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it("puts the attribute values of the user's roles into the token and userinfo (role template default-values)", async () => {
    // Bob holds myapp_Viewer, whose Viewer role references Country with default-values ["DE"].
    const { code } = await loginForCode(h, new Browser(h), 'acme', { userName: 'bob' });
    const { access_token } = (await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json();
    expect(decodeJwt(access_token)['xs.user.attributes']).toEqual({ Country: ['DE'] });
    const info = await h.call('acme', { path: '/userinfo', headers: { authorization: `Bearer ${access_token}` } });
    expect(info.status).toBe(200);
    expect(info.json()).toMatchObject({ user_name: 'bob', user_attributes: { Country: ['DE'] } });
  });

  it('introspects: active for a good token, inactive for another zone\'s, client authentication required', async () => {
    const cc = (await h.token('acme', { grant_type: 'client_credentials' })).json().access_token;
    const form = (token: string) => new URLSearchParams({ token, client_id: h.resource.app.clientId, client_secret: h.resource.secret }).toString();
    const post = (sub: string, body: string) => h.call(sub, { method: 'POST', path: '/introspect', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const active = (await post('acme', form(cc))).json();
    expect(active).toMatchObject({ active: true, zid: h.acme.id, client_id: h.app.clientId });
    expect((await post('globex', form(cc))).json()).toEqual({ active: false });
    expect((await post('acme', new URLSearchParams({ token: cc }).toString())).status).toBe(401);
  });

  it('logout shows a page instead of redirecting to an unregistered URL', async () => {
    const res = await new Browser(h).get('acme', `/logout.do?redirect=${encodeURIComponent('https://evil.example/')}&client_id=${encodeURIComponent(h.app.clientId)}`);
    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain('signed out');
  });
});
