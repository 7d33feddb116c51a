/**
 * Tenants in the path (issue 14, part 3), over real HTTP: the identity zones, a gateway with
 * TENANT_PATH_PATTERN=^/t/([^/]+)/ (no host pattern) on one host, the echo backend. The same attacks
 * as on host tenants (test/login/login.test.ts, "tenant isolation"): a session of /t/acme/ used under
 * /t/globex/, a login begun for one prefix finished under another, path tricks that would move a
 * request from one prefix to another (dot-segments, encoded slashes, doubled slashes, encoded letters).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { request } from '../support/http.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';
import { PASSWORD } from '../zones/oauth/harness.js';

let stack: LoginStack;
let base: string;
let host: string;
beforeAll(async () => {
  stack = await startLoginStack({
    // The test's requests come from 127.0.0.1 like the proxy's: forward auth is asked with X-Forwarded-Host.
    env: { TENANT_HOST_PATTERN: '', TENANT_PATH_PATTERN: '^/t/([^/]+)/', FORWARD_AUTH: 'on', TRUSTED_PROXIES: '127.0.0.1' },
    forwardAuth: true,
    redirectUris: ['http*://gw.localhost:*/t/*/login/callback', 'http://gw.localhost:*/t/*/bye.html'],
  });
  base = `http://gw.localhost:${stack.gateways[0]!.port}`;
  host = new URL(base).host;
});
afterAll(() => stack.close());

const xhr = { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' };

/** Logs `userName` in at `path` (under a tenant's prefix) and answers the callback's response. */
async function logIn(browser: ScriptedBrowser, path: string, userName: string) {
  const start = await browser.get(base + path);
  expect(start.status, start.text.slice(0, 200)).toBe(302);
  const page = await browser.get(String(start.headers.location));
  let callback = page.status === 302 ? String(page.headers.location) : undefined;
  if (callback === undefined) {
    expect(page.status, page.text.slice(0, 200)).toBe(200);
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: userName, password: PASSWORD });
    expect(form.status, form.text.slice(0, 300)).toBe(302);
    callback = String(form.headers.location);
  }
  return { start, callbackUrl: callback, callback: await browser.get(callback) };
}

describe('a login under a tenant prefix', () => {
  it("goes to that tenant's zone, comes back to the prefix's callback, and scopes every cookie to the prefix", async () => {
    const browser = new ScriptedBrowser();
    const { start, callbackUrl, callback } = await logIn(browser, '/t/acme/api/whoami?x=1', 'alice');
    const authorize = new URL(String(start.headers.location));
    expect(authorize.host).toBe(`acme.localhost:${stack.zones.port}`);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${base}/t/acme/login/callback`);
    // The pending login's cookie travels to this prefix's callback only.
    expect(start.headers['set-cookie']![0]).toMatch(/^zonegate\.login\.[\w-]+=.*; Path=\/t\/acme\/login\/callback;/);
    expect(new URL(callbackUrl).pathname).toBe('/t/acme/login/callback');
    expect(callback.status, callback.text.slice(0, 300)).toBe(302);
    // Back where the login began, inside the prefix.
    expect(callback.headers.location).toBe('/t/acme/api/whoami?x=1');
    const sid = (callback.headers['set-cookie'] as string[]).find((c) => c.startsWith('zonegate.sid='));
    expect(sid).toMatch(/; Path=\/t\/acme;/);
    const res = await browser.get(`${base}/t/acme/api/whoami`, xhr);
    expect(res.status).toBe(200);
    // The backend sees the path without the prefix, and learns the prefix.
    expect(res.json()).toMatchObject({ url: '/whoami', jwt: { claims: { user_name: 'alice', ext_attr: { zdn: 'acme' } } } });
    expect(res.json<{ headers: Record<string, string> }>().headers['x-forwarded-prefix']).toBe('/t/acme');
  });

  it('keeps the redirect to the welcome page, backend redirects and backend cookies inside the prefix', async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, '/t/acme/api/x', 'alice');
    const redirected = await browser.get(`${base}/t/acme/public/redirect?to=/elsewhere`);
    expect(redirected.status).toBe(302);
    // The route ^/public/(.*)$ -> /$1: the backend's /elsewhere is the gateway's /public/elsewhere, in the prefix.
    expect(redirected.headers.location).toBe(`${base}/t/acme/public/elsewhere`);
  });

  it("refuses a login begun under /t/acme/ and finished under /t/globex/'s callback", async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${base}/t/acme/api/x`);
    const page = await browser.get(String(start.headers.location));
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'alice', password: PASSWORD });
    const callback = new URL(String(form.headers.location));
    // The browser would not send the login cookie there (its Path is acme's callback): the attacker does.
    const res = await browser.get(`${base}/t/globex/login/callback${callback.search}`);
    expect(res.status).toBe(401);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_LOGIN_FAILED');
    // The state was tried once: acme's own callback no longer completes it either.
    expect((await browser.get(callback.href)).status).toBe(401);
  });

  it('logs out inside the prefix: the cookie of that Path is cleared and the logout page is the prefix\'s', async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, '/t/acme/api/x', 'alice');
    const out = await browser.get(`${base}/t/acme/logout`);
    expect(out.status).toBe(302);
    expect(out.headers['set-cookie']).toEqual([expect.stringMatching(/^zonegate\.sid=; Path=\/t\/acme; Max-Age=0/)]);
    const zoneLogout = new URL(String(out.headers.location));
    expect(zoneLogout.host).toBe(`acme.localhost:${stack.zones.port}`);
    expect(zoneLogout.searchParams.get('redirect')).toBe(`${base}/t/acme/bye.html`);
    expect((await browser.get(`${base}/t/acme/api/x`, xhr)).status).toBe(401);
  });
});

describe('isolation between path tenants (the attacks on host tenants, by path)', () => {
  it("ignores /t/acme/'s session cookie under /t/globex/: 401 to API clients, a login at globex's zone for browsers", async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, '/t/acme/api/x', 'alice');
    const sid = browser.cookies(host).get('zonegate.sid')!;
    expect((await browser.get(`${base}/t/acme/api/x`, xhr)).status).toBe(200);
    // A browser would not send it (Path=/t/acme); a thief does, and the session records its tenant.
    const thief = new ScriptedBrowser();
    thief.cookies(host).set('zonegate.sid', sid);
    const before = stack.gateways[0]!.logs.filter((l) => l.includes('session of another tenant ignored')).length;
    const api = await thief.get(`${base}/t/globex/api/x`, xhr);
    expect(api.status).toBe(401);
    const page = await thief.get(`${base}/t/globex/api/x`);
    expect(page.status).toBe(302);
    expect(new URL(String(page.headers.location)).host).toBe(`globex.localhost:${stack.zones.port}`);
    expect(stack.gateways[0]!.logs.filter((l) => l.includes('session of another tenant ignored')).length).toBeGreaterThan(before);
    // Nor does a public route hand globex's backend acme's token.
    const pub = await thief.get(`${base}/t/globex/public/x`, xhr);
    expect(pub.status).toBe(200);
    expect(pub.json<{ headers: Record<string, string> }>().headers.authorization).toBeUndefined();
    // Still acme's, at acme.
    expect((await thief.get(`${base}/t/acme/api/x`, xhr)).status).toBe(200);
  });

  it('refuses path tricks that would carry /t/acme/ into /t/globex/ before taking the tenant', async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, '/t/acme/api/x', 'alice');
    const cases: [path: string, code: string][] = [
      ['/t/acme/../globex/api/x', 'ZG_ERR_BAD_REQUEST'],
      ['/t/acme/%2e%2e/globex/api/x', 'ZG_ERR_BAD_REQUEST'],
      ['/t/acme/..%2fglobex/api/x', 'ZG_ERR_BAD_REQUEST'],
      ['/t/acme/api/..%2f..%2f..%2ft/globex/api/x', 'ZG_ERR_BAD_REQUEST'],
      // An encoded slash inside the tenant segment names no tenant.
      ['/t/acme%2F..%2Fglobex/api/x', 'ZG_ERR_BAD_REQUEST'],
      ['/t/acme%2Fglobex/api/x', 'ZG_ERR_TENANT_PATH_UNMATCHED'],
      // Prefixes written otherwise than the browser scopes cookies on.
      ['/t/%61cme/api/x', 'ZG_ERR_TENANT_PATH_UNMATCHED'],
      ['//t/acme/api/x', 'ZG_ERR_TENANT_PATH_UNMATCHED'],
      ['/t//acme/api/x', 'ZG_ERR_TENANT_PATH_UNMATCHED'],
      ['/t/ACME/api/x', 'ZG_ERR_TENANT_PATH_UNMATCHED'],
      // No prefix at all: never the provider's tenant.
      ['/api/x', 'ZG_ERR_TENANT_PATH_UNMATCHED'],
      ['/t/acme', 'ZG_ERR_TENANT_PATH_UNMATCHED'],
    ];
    const cookie = `zonegate.sid=${browser.cookies(host).get('zonegate.sid')!}`;
    for (const [path, code] of cases) {
      // Sent as written: a URL parser would already remove the dot-segments.
      const res = await request(stack.gateways[0]!.port, { path, host, headers: { ...xhr, cookie } });
      expect(res.headers['x-zonegate-error'], path).toBe(code);
      expect(res.status, path).toBe(code === 'ZG_ERR_BAD_REQUEST' ? 400 : 404);
    }
  });

  it('answers an unsubscribed or unknown tenant prefix without a session (its zone does not exist)', async () => {
    const res = await new ScriptedBrowser().get(`${base}/t/nosuchtenant/api/x`, xhr);
    expect(res.status).toBe(401);
  });
});

describe('forward auth under a tenant prefix', () => {
  const ask = (prefix: string, uri: string, cookie: string) =>
    request(stack.gateways[0]!.port, {
      path: `${prefix}/_zonegate/auth`,
      host,
      headers: { ...xhr, cookie, 'x-forwarded-host': host, 'x-forwarded-proto': 'http', 'x-forwarded-method': 'GET', 'x-forwarded-uri': uri },
    });

  it("decides for URIs inside the asking prefix only: acme's session never admits a URI of /t/globex/", async () => {
    const browser = new ScriptedBrowser();
    await logIn(browser, '/t/acme/api/x', 'alice');
    const cookie = `zonegate.sid=${browser.cookies(host).get('zonegate.sid')!}`;
    const allowed = await ask('/t/acme', '/t/acme/api/x', cookie);
    expect(allowed.status, allowed.text).toBe(200);
    expect(allowed.headers['x-forwarded-user']).toBe('alice');
    // The proxy (or a client able to pick the URI) asks acme about globex's URI: refused.
    const other = await ask('/t/acme', '/t/globex/api/x', cookie);
    expect(other.status).toBe(403);
    expect(other.headers['x-zonegate-error']).toBe('ZG_ERR_FORBIDDEN');
    // Asked under globex's prefix, acme's session is no session there.
    expect((await ask('/t/globex', '/t/globex/api/x', cookie)).status).toBe(401);
  });
});

describe('two path tenants in one browser', () => {
  /** A cookie as a browser keeps it: name, value and Path (RFC 6265 §5.2.4). */
  interface JarCookie {
    name: string;
    value: string;
    path: string;
  }
  const jarCookie = (line: string): JarCookie => {
    const [pair, ...attributes] = line.split(';');
    const eq = pair!.indexOf('=');
    const path = attributes.map((a) => /^\s*path=(.*)$/i.exec(a)?.[1]).find((p) => p !== undefined) ?? '/';
    return { name: pair!.slice(0, eq).trim(), value: pair!.slice(eq + 1).trim(), path };
  };
  /** RFC 6265 §5.1.4 path-match, and §5.4: longer paths first. */
  const cookieHeaderFor = (jar: JarCookie[], path: string) =>
    jar
      .filter((c) => path === c.path || (path.startsWith(c.path) && (c.path.endsWith('/') || path[c.path.length] === '/')))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');

  it("keeps each tenant's session under its own prefix: both hold at once, and neither reaches the other", async () => {
    const jar: JarCookie[] = [];
    for (const [tenant, user] of [['acme', 'alice'], ['globex', 'carol']] as const) {
      const { callback } = await logIn(new ScriptedBrowser(), `/t/${tenant}/api/x`, user);
      jar.push(...(callback.headers['set-cookie'] as string[]).filter((c) => c.startsWith('zonegate.sid=')).map(jarCookie));
    }
    expect(jar.map((c) => c.path)).toEqual(['/t/acme', '/t/globex']);
    for (const [tenant, user] of [['acme', 'alice'], ['globex', 'carol']] as const) {
      const path = `/t/${tenant}/api/who`;
      const cookie = cookieHeaderFor(jar, path);
      // Only the tenant's own session cookie is sent under its prefix.
      expect(cookie.split('; ')).toHaveLength(1);
      const res = await request(stack.gateways[0]!.port, { path, host, headers: { ...xhr, cookie } });
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ jwt: { claims: { user_name: user, ext_attr: { zdn: tenant } } } });
    }
    // A tenant whose name begins with another's is not under its Path.
    expect(cookieHeaderFor(jar, '/t/acmeco/api/x')).toBe('');
  });
});

describe('over https (behind a trusted TLS-terminating proxy)', () => {
  const viaTls = { 'x-forwarded-proto': 'https' };

  it('names the session cookie __Secure-zonegate.sid, Secure with Path=/t/acme (a __Host- cookie must have Path=/), and reads only that name', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${base}/t/acme/api/x`, viaTls);
    expect(new URL(String(start.headers.location)).searchParams.get('redirect_uri')).toBe(`https://${host}/t/acme/login/callback`);
    const page = await browser.get(String(start.headers.location));
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'alice', password: PASSWORD });
    // The zone sends the browser to https; the proxy in front would take it: the test goes to the gateway with the proxy's header.
    const callbackUrl = new URL(String(form.headers.location));
    expect(callbackUrl.protocol).toBe('https:');
    const callback = await browser.get(`${base}${callbackUrl.pathname}${callbackUrl.search}`, viaTls);
    expect(callback.status, callback.text.slice(0, 300)).toBe(302);
    const sid = (callback.headers['set-cookie'] as string[]).find((c) => c.includes('zonegate.sid='))!;
    expect(sid).toMatch(/^__Secure-zonegate\.sid=s%3A[^;]+; Path=\/t\/acme; .*HttpOnly; Secure/);
    const value = browser.cookies(host).get('__Secure-zonegate.sid')!;
    expect((await browser.get(`${base}/t/acme/api/x`, { ...xhr, ...viaTls })).status).toBe(200);
    // The plain name, planted over http (or by anyone who may set cookies on the host), counts for nothing over https.
    const planted = await request(stack.gateways[0]!.port, { path: '/t/acme/api/x', host, headers: { ...xhr, ...viaTls, cookie: `zonegate.sid=${value}` } });
    expect(planted.status).toBe(401);
  });
});
