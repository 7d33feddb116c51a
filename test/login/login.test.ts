import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../support/browser.js';
import { countSessionReads, loginCookies, startLoginStack, type LoginStack } from '../support/login-stack.js';

let stack: LoginStack;
beforeAll(async () => {
  stack = await startLoginStack();
});
afterAll(() => stack.close());

const xhr = { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' };

describe('login against the tenant zone', () => {
  it('sends a browser to its own tenant zone with state, nonce and PKCE', async () => {
    const browser = new ScriptedBrowser();
    const res = await browser.get(stack.base('acme') + '/api/orders?top=1');
    expect(res.status).toBe(302);
    const to = new URL(String(res.headers.location));
    expect(to.host).toBe(`acme.localhost:${stack.zones.port}`);
    expect(to.pathname).toBe('/oauth/authorize');
    expect(to.searchParams.get('client_id')).toBe(stack.app.clientId);
    expect(to.searchParams.get('code_challenge_method')).toBe('S256');
    expect(to.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    // openid-client's random values: 32 bytes, base64url.
    expect(to.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
    expect(to.searchParams.get('nonce')).toMatch(/^[\w-]{43}$/);
    expect(to.searchParams.get('redirect_uri')).toBe(`${stack.base('acme')}/login/callback`);
    // Nothing secret in the browser: the verifier stays in storage.
    expect(String(res.headers['set-cookie'])).not.toContain('verifier');
  });

  it('logs in on two tenants; each backend call carries a JWT of that tenant zone with the app scopes', async () => {
    for (const [tenant, user, zone] of [['acme', 'alice', stack.zones.acme], ['globex', 'carol', stack.zones.globex]] as const) {
      const browser = new ScriptedBrowser();
      await stack.login(browser, tenant, user, '/api/orders?top=1');
      const res = await browser.get(stack.base(tenant) + '/api/orders?top=1');
      expect(res.status).toBe(200);
      const seen = res.json();
      expect(seen.url).toBe('/orders?top=1');
      const token = decodeJwt(String(seen.headers.authorization).replace(/^Bearer /, ''));
      expect(token.zid).toBe(zone.id);
      expect((token.ext_attr as { zdn: string }).zdn).toBe(tenant);
      expect(token.scope).toContain(`${stack.app.instanceName}.Admin`);
      expect(token.user_name).toBe(user);
      // The session cookie never reaches the backend; the cookie itself is host-only, HttpOnly, Lax.
      expect(seen.headers.cookie).toBeUndefined();
    }
  });

  it('returns to the page first asked for, and only to a same-origin path', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(stack.base('acme') + '//evil.example/steal');
    // `//evil.example/steal` is no route of ours; take a protected one with a hostile-looking query.
    expect([302, 404]).toContain(start.status);
    await stack.login(browser, 'acme', 'alice', '/api/a?next=https://evil.example');
    const again = await browser.get(stack.base('acme') + '/api/a?next=https://evil.example');
    expect(again.status).toBe(200);
  });

  it('sets a session cookie that is HttpOnly, SameSite=Lax and host-only', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(stack.base('acme') + '/api/x');
    const page = await browser.get(String(start.headers.location));
    const { hiddenFields } = await import('../support/browser.js');
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'alice', password: 'correct-horse-1' });
    const callback = await browser.get(String(form.headers.location));
    const cookie = (callback.headers['set-cookie'] as string[]).find((c) => c.startsWith('zonegate.sid='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Domain=/i);
    expect(callback.headers.location).toBe('/api/x');
  });
});

describe('attacks on the login', () => {
  it('refuses a replayed callback (state is single-use)', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(stack.base('acme') + '/api/x');
    const page = await browser.get(String(start.headers.location));
    const { hiddenFields } = await import('../support/browser.js');
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'alice', password: 'correct-horse-1' });
    const callbackUrl = String(form.headers.location);
    const [login] = loginCookies(browser, new URL(stack.base('acme')).host);
    expect(login).toBeDefined();
    expect((await browser.get(callbackUrl)).status).toBe(302);
    expect(loginCookies(browser, new URL(stack.base('acme')).host)).toEqual([]);
    // The binding cookie put back: the state itself is used up in storage.
    browser.cookies(new URL(stack.base('acme')).host).set(...login!);
    const replay = await browser.get(callbackUrl);
    expect(replay.status).toBe(401);
    expect(replay.headers['x-zonegate-error']).toBe('ZG_ERR_LOGIN_FAILED');
  });

  it('refuses a callback in a browser that did not start the login (login CSRF)', async () => {
    const attacker = new ScriptedBrowser();
    const start = await attacker.get(stack.base('acme') + '/api/x');
    const page = await attacker.get(String(start.headers.location));
    const { hiddenFields } = await import('../support/browser.js');
    const form = await attacker.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'bob', password: 'correct-horse-1' });
    const victim = new ScriptedBrowser();
    const res = await victim.get(String(form.headers.location));
    expect(res.status).toBe(401);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_LOGIN_FAILED');
    expect(res.headers['set-cookie']?.some((c) => c.startsWith('zonegate.sid=') && !/Max-Age=0/i.test(c))).toBeFalsy();
  });

  it('refuses a login finished on another tenant host than it started on', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(stack.base('acme') + '/api/x');
    const page = await browser.get(String(start.headers.location));
    const { hiddenFields } = await import('../support/browser.js');
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'alice', password: 'correct-horse-1' });
    const callback = new URL(String(form.headers.location));
    const [login] = loginCookies(browser, callback.host);
    const globexHost = new URL(stack.base('globex')).host;
    browser.cookies(globexHost).set(...login!);
    const res = await browser.get(`${stack.base('globex')}${callback.pathname}${callback.search}`);
    expect(res.status).toBe(401);
  });

  // Issue 11: the login's redirects were written by the login itself, past the gateway's security
  // headers; a redirect answer is a page of the gateway like any other (sniffing, referrer, caching).
  it("sends the login's redirects (to the zone, back from the callback, to the zone's logout) with the gateway's security headers", async () => {
    const secured = (res: { status: number; headers: Record<string, unknown> }) => {
      expect(res.status).toBe(302);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['content-security-policy']).toBeDefined();
      expect(res.headers['cache-control']).toBe('no-store');
    };
    const browser = new ScriptedBrowser();
    const start = await browser.get(stack.base('acme') + '/api/x');
    secured(start);
    const page = await browser.get(String(start.headers.location));
    const { hiddenFields } = await import('../support/browser.js');
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'alice', password: 'correct-horse-1' });
    const callback = await browser.get(String(form.headers.location));
    secured(callback);
    expect(callback.headers.location).toBe('/api/x');
    secured(await browser.get(stack.base('acme') + '/logout'));
  });
});

describe('tenant isolation', () => {
  it("ignores tenant A's session cookie on tenant B's host", async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const sid = browser.cookies(new URL(stack.base('acme')).host).get('zonegate.sid')!;
    const thief = new ScriptedBrowser();
    thief.cookies(new URL(stack.base('globex')).host).set('zonegate.sid', sid);
    const api = await thief.get(stack.base('globex') + '/api/x', xhr);
    expect(api.status).toBe(401);
    const page = await thief.get(stack.base('globex') + '/api/x');
    expect(page.status).toBe(302);
    expect(new URL(String(page.headers.location)).host).toBe(`globex.localhost:${stack.zones.port}`);
    expect(stack.gateways[0]!.logs.some((l) => l.includes('session of another tenant ignored'))).toBe(true);
  });

  it("accepts tenant A's bearer token on A (service to service) and refuses it on B", async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const seen = (await browser.get(stack.base('acme') + '/api/x')).json();
    const bearer = String(seen.headers.authorization);
    const onA = await new ScriptedBrowser().get(stack.base('acme') + '/api/s2s', { authorization: bearer, accept: 'application/json' });
    expect(onA.status).toBe(200);
    expect(onA.json().headers.authorization).toBe(bearer);
    const onB = await new ScriptedBrowser().get(stack.base('globex') + '/api/s2s', { authorization: bearer, accept: 'application/json' });
    expect(onB.status).toBe(401);
    expect(onB.headers['www-authenticate']).toContain('invalid_token');
  });

  it("accepts x-approuter-authorization like Authorization (SAP's service-to-approuter header), and never forwards it as such", async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const bearer = String((await browser.get(stack.base('acme') + '/api/x')).json().headers.authorization);
    const service = await new ScriptedBrowser().request(stack.base('acme') + '/api/s2s', {
      method: 'POST',
      headers: { 'x-approuter-authorization': bearer, accept: 'application/json' },
      body: '{}',
    });
    // A service sends no CSRF token (SAP exempts x-approuter-authorization calls too): no session, no CSRF.
    expect(service.status).toBe(200);
    expect(service.json().headers.authorization).toBe(bearer);
    expect(service.json().headers['x-approuter-authorization']).toBeUndefined();
    const forged = await new ScriptedBrowser().get(stack.base('acme') + '/api/s2s', { 'x-approuter-authorization': 'Bearer not-a-jwt', accept: 'application/json' });
    expect(forged.status).toBe(401);
    const onB = await new ScriptedBrowser().get(stack.base('globex') + '/api/s2s', { 'x-approuter-authorization': bearer, accept: 'application/json' });
    expect(onB.status).toBe(401);
    // On a public route it reaches no backend either: it is the gateway's header, not the application's.
    const open = await new ScriptedBrowser().get(stack.base('acme') + '/public/x', { 'x-approuter-authorization': bearer });
    expect(open.json().headers['x-approuter-authorization']).toBeUndefined();
  });

  it('refuses forged and tampered bearer tokens', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'bob');
    const token = String((await browser.get(stack.base('acme') + '/api/x')).json().headers.authorization).replace(/^Bearer /, '');
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    payload.scope.push(`${stack.app.instanceName}.Admin`);
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    for (const forged of [tampered, none, 'not-a-jwt']) {
      const res = await new ScriptedBrowser().get(stack.base('acme') + '/admin/x', { authorization: `Bearer ${forged}`, accept: 'application/json' });
      expect(res.status).toBe(401);
    }
  });
});

describe('a session used moments ago (served from this instance\'s recent read)', () => {

  it('serves requests of one session from one storage read, each with the token, also after the old one-second bound', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const reads = countSessionReads(stack);
    try {
      const first = await browser.get(stack.base('acme') + '/api/x', xhr);
      expect(first.status).toBe(200);
      expect(reads.count).toBe(1);
      for (let i = 0; i < 5; i++) {
        const res = await browser.get(stack.base('acme') + `/api/burst/${i}`, xhr);
        expect(res.status).toBe(200);
        expect(res.json().headers.authorization).toBe(first.json().headers.authorization);
      }
      expect(reads.count).toBe(1);
      // The store vouches for its change notices (SQLite's change counter): the copy outlives a second.
      await sleep(1_200);
      expect((await browser.get(stack.base('acme') + '/api/x', xhr)).status).toBe(200);
      expect(reads.count).toBe(1);
    } finally {
      reads.stop();
    }
  });

  it("is still refused on another tenant's host, and a cookie with a broken signature naming it opens nothing", async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    expect((await browser.get(stack.base('acme') + '/api/x', xhr)).status).toBe(200);
    const cookie = browser.cookies(new URL(stack.base('acme')).host).get('zonegate.sid')!;
    const logged = stack.gateways[0]!.logs.filter((l) => l.includes('session of another tenant ignored')).length;
    const onB = await new ScriptedBrowser().get(stack.base('globex') + '/api/x', { ...xhr, cookie: `zonegate.sid=${cookie}` });
    expect(onB.status).toBe(401);
    expect(stack.gateways[0]!.logs.filter((l) => l.includes('session of another tenant ignored')).length).toBe(logged + 1);

    const decoded = decodeURIComponent(cookie);
    expect(decoded).toMatch(/^s:[\w-]+\.[\w+/]+$/);
    const dot = decoded.lastIndexOf('.');
    const flipped = decoded.at(-1) === 'A' ? 'B' : 'A';
    for (const forged of [decoded.slice(0, -1) + flipped, decoded.slice(0, dot), decoded.slice(2, dot), `${decoded}x`]) {
      const res = await new ScriptedBrowser().get(stack.base('acme') + '/api/x', { ...xhr, cookie: `zonegate.sid=${encodeURIComponent(forged)}` });
      expect(res.status, forged).toBe(401);
    }
  });

  it('ends at once on logout, and still gets a CSRF token made and checked', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'bob');
    expect((await browser.get(stack.base('acme') + '/api/x', xhr)).status).toBe(200);
    // The session has no CSRF token yet: fetching one changes it, which a recent read cannot do.
    const token = String((await browser.get(stack.base('acme') + '/api/x', { ...xhr, 'x-csrf-token': 'fetch' })).headers['x-csrf-token']);
    expect(token).toMatch(/^[\w-]{20,}$/);
    expect((await browser.get(stack.base('acme') + '/api/x', { ...xhr, 'x-csrf-token': 'fetch' })).headers['x-csrf-token']).toBe(token);
    expect((await browser.request(stack.base('acme') + '/api/x', { method: 'POST', headers: xhr })).status).toBe(403);
    expect((await browser.request(stack.base('acme') + '/api/x', { method: 'POST', headers: { ...xhr, 'x-csrf-token': token } })).status).toBe(200);
    // The scope is checked on every request: bob (Viewer) may read /admin but not change it.
    expect((await browser.get(stack.base('acme') + '/admin/x', xhr)).status).toBe(200);
    expect((await browser.request(stack.base('acme') + '/admin/x', { method: 'POST', headers: { ...xhr, 'x-csrf-token': token } })).status).toBe(403);

    const cookie = browser.cookies(new URL(stack.base('acme')).host).get('zonegate.sid')!;
    expect((await browser.get(stack.base('acme') + '/logout')).status).toBe(302);
    const replay = await new ScriptedBrowser().get(stack.base('acme') + '/api/x', { ...xhr, cookie: `zonegate.sid=${cookie}` });
    expect(replay.status).toBe(401);
  });
});

describe('authorization', () => {
  it('answers 403 without the route scope (page for browsers, JSON for API clients)', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'bob');
    expect((await browser.get(stack.base('acme') + '/admin/x')).status).toBe(200);
    const token = (await browser.get(stack.base('acme') + '/admin/x', { 'x-csrf-token': 'fetch' })).headers['x-csrf-token'];
    const denied = await browser.request(stack.base('acme') + '/admin/x', { method: 'POST', headers: { ...xhr, 'x-csrf-token': String(token) } });
    expect(denied.status).toBe(403);
    expect(denied.json().error.code).toBe('ZG_ERR_FORBIDDEN');
    expect(denied.json().error.message).toContain('.Admin');
  });

  it('gives API clients 401 with WWW-Authenticate, never a login page', async () => {
    const anon = new ScriptedBrowser();
    const xhrGet = await anon.get(stack.base('acme') + '/api/x', xhr);
    expect(xhrGet.status).toBe(401);
    expect(xhrGet.headers['www-authenticate']).toContain('Bearer');
    expect(xhrGet.headers['content-type']).toMatch(/json/);
    const post = await anon.request(stack.base('acme') + '/api/x', { method: 'POST', headers: { accept: 'text/html' } });
    expect(post.status).toBe(401);
    const curl = await anon.get(stack.base('acme') + '/api/x', { accept: '*/*' });
    expect(curl.status).toBe(401);
  });
});

describe('CSRF (SAP protocol)', () => {
  it('requires the fetched token on state-changing requests, and strips it towards the backend', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const without = await browser.request(stack.base('acme') + '/api/x', { method: 'POST', headers: xhr, body: '{}' });
    expect(without.status).toBe(403);
    expect(without.headers['x-csrf-token']).toBe('Required');
    const fetched = await browser.get(stack.base('acme') + '/api/x', { 'x-csrf-token': 'fetch' });
    const token = String(fetched.headers['x-csrf-token']);
    expect(token).toMatch(/^[\w-]{20,}$/);
    const wrong = await browser.request(stack.base('acme') + '/api/x', { method: 'POST', headers: { ...xhr, 'x-csrf-token': token.slice(1) + 'x' } });
    expect(wrong.status).toBe(403);
    const ok = await browser.request(stack.base('acme') + '/api/x', { method: 'POST', headers: { ...xhr, 'x-csrf-token': token } });
    expect(ok.status).toBe(200);
    expect(ok.json().headers['x-csrf-token']).toBeUndefined();
    const off = await browser.request(stack.base('acme') + '/nocsrf/x', { method: 'POST', headers: xhr });
    expect(off.status).toBe(200);
  });

  it('exempts only GET and HEAD, as SAP\'s router does (xsrf-token-handler.js): OPTIONS needs the token too', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const without = await browser.request(stack.base('acme') + '/api/x', { method: 'OPTIONS', headers: xhr });
    expect(without.status).toBe(403);
    expect(without.headers['x-csrf-token']).toBe('Required');
    const token = String((await browser.request(stack.base('acme') + '/api/x', { method: 'HEAD', headers: { 'x-csrf-token': 'fetch' } })).headers['x-csrf-token']);
    expect(token).toMatch(/^[\w-]{20,}$/);
    const ok = await browser.request(stack.base('acme') + '/api/x', { method: 'OPTIONS', headers: { ...xhr, 'x-csrf-token': token } });
    expect(ok.status).toBe(200);
    expect(ok.json().method).toBe('OPTIONS');
  });

  it("does not accept another session's token", async () => {
    const a = new ScriptedBrowser();
    const b = new ScriptedBrowser();
    await stack.login(a, 'acme', 'alice');
    await stack.login(b, 'acme', 'alice');
    const tokenA = String((await a.get(stack.base('acme') + '/api/x', { 'x-csrf-token': 'fetch' })).headers['x-csrf-token']);
    await b.get(stack.base('acme') + '/api/x', { 'x-csrf-token': 'fetch' });
    const res = await b.request(stack.base('acme') + '/api/x', { method: 'POST', headers: { ...xhr, 'x-csrf-token': tokenA } });
    expect(res.status).toBe(403);
  });
});

describe('what reaches the backend', () => {
  it('attaches the token only for forwardAuthToken destinations; the client\'s own Authorization and CSRF token never pass', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const plain = await browser.get(stack.base('acme') + '/noforward/x', { authorization: 'Basic c2VjcmV0OnNlY3JldA==', 'x-csrf-token': 'fetch' });
    expect(plain.status).toBe(200);
    expect(plain.json().headers.authorization).toBeUndefined();
    expect(plain.json().headers['x-csrf-token']).toBeUndefined();
    const forwarded = await browser.get(stack.base('acme') + '/api/x', { authorization: 'Basic c2VjcmV0OnNlY3JldA==' });
    expect(String(forwarded.json().headers.authorization)).toMatch(/^Bearer ey/);
  });
});

describe('user API and logout', () => {
  it('returns the current user and attributes', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const me = await browser.get(stack.base('acme') + '/user-api/currentUser', { accept: 'application/json' });
    expect(me.status).toBe(200);
    // SAP's router (middleware/user-api-middleware.js): these fields, displayName "First Last (name)".
    expect(me.json()).toEqual({
      firstname: 'Alice',
      lastname: 'Able',
      email: 'alice@acme.example',
      name: 'alice',
      displayName: 'Alice Able (alice)',
      scopes: expect.arrayContaining([`${stack.app.instanceName}.Admin`]),
    });
    const attributes = await browser.get(stack.base('acme') + '/user-api/attributes', { accept: 'application/json' });
    expect(attributes.status).toBe(200);
    expect(attributes.json()).toEqual({ firstname: 'Alice', lastname: 'Able', email: 'alice@acme.example', name: 'alice', scopes: me.json().scopes });
  });

  it("answers /attributes as SAP's router does: the user's names and scopes with the attributes next to them", async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'bob');
    const attributes = await browser.get(stack.base('acme') + '/user-api/attributes', { accept: 'application/json' });
    expect(attributes.status).toBe(200);
    // bob has no given or family name: SAP leaves those fields out, and displayName is his name.
    expect(attributes.json()).toEqual({ email: 'bob@acme.example', name: 'bob', scopes: expect.arrayContaining([`${stack.app.instanceName}.Viewer`]), Country: ['DE'] });
    const me = await browser.get(stack.base('acme') + '/user-api/currentUser', { accept: 'application/json' });
    expect(me.json()).toEqual({ email: 'bob@acme.example', name: 'bob', displayName: 'bob', scopes: attributes.json().scopes });
  });

  it('logout destroys the session and goes through the zone logout to the logout page', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const sid = browser.cookies(new URL(stack.base('acme')).host).get('zonegate.sid')!;
    const res = await browser.get(stack.base('acme') + '/logout');
    expect(res.status).toBe(302);
    const to = new URL(String(res.headers.location));
    expect(to.host).toBe(`acme.localhost:${stack.zones.port}`);
    expect(to.pathname).toBe('/logout.do');
    expect(to.searchParams.get('redirect')).toBe(`${stack.base('acme')}/bye.html`);
    expect(to.searchParams.get('client_id')).toBe(stack.app.clientId);
    // The old cookie, replayed, opens nothing.
    const replay = await new ScriptedBrowser().get(stack.base('acme') + '/api/x', { ...xhr, cookie: `zonegate.sid=${sid}` });
    expect(replay.status).toBe(401);
  });
});

describe('token refresh', () => {
  let short: LoginStack;
  beforeAll(async () => {
    // Tokens live 60 s and are refreshed 5 minutes ahead: every request needs a refresh.
    short = await startLoginStack({ tokenValidity: 60 });
  });
  afterAll(() => short.close());

  it('refreshes once for concurrent requests of one session, and they all succeed', async () => {
    const browser = new ScriptedBrowser();
    await short.login(browser, 'acme', 'alice');
    const first = String((await browser.get(short.base('acme') + '/api/x')).json().headers.authorization);
    const results = await Promise.all(Array.from({ length: 6 }, () => browser.get(short.base('acme') + '/api/x', xhr)));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const tokens = new Set(results.map((r) => String(r.json().headers.authorization)));
    expect(tokens.has(first)).toBe(false);
    // A refresh-token reuse would have revoked the family (zone's reuse detection): still logged in.
    expect((await browser.get(short.base('acme') + '/api/x', xhr)).status).toBe(200);
  });

  it('ends the session cleanly when the refresh is refused', async () => {
    const browser = new ScriptedBrowser();
    await short.login(browser, 'acme', 'bob');
    await short.zones.directory.deleteUser(short.zones.acme.id, short.users.bob.id);
    const res = await browser.get(short.base('acme') + '/api/x', xhr);
    expect(res.status).toBe(401);
    const sid = browser.cookies(new URL(short.base('acme')).host).get('zonegate.sid');
    const again = await new ScriptedBrowser().get(short.base('acme') + '/api/x', { ...xhr, cookie: `zonegate.sid=${sid}` });
    expect(again.status).toBe(401);
  });
});
