/**
 * Issue 9: over https the session cookie is a `__Host-` cookie (RFC 6265bis §4.1.3.2: Secure, Path=/,
 * no Domain), so no sibling subdomain (another tenant's host) and no plain-http page can set or shadow
 * it. The gateway sits behind a TLS-terminating proxy it trusts (TRUSTED_PROXIES, X-Forwarded-Proto);
 * the whole login runs over real HTTP against the identity zones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { countSessionReads, startLoginStack, type LoginStack } from '../support/login-stack.js';
import { PASSWORD } from '../zones/oauth/harness.js';

let stack: LoginStack;
beforeAll(async () => {
  stack = await startLoginStack({ env: { TRUSTED_PROXIES: '127.0.0.1' } });
});
afterAll(() => stack.close());

/** What the trusted TLS-terminating proxy adds to every request it passes to the gateway. */
const viaTls = { 'x-forwarded-proto': 'https' };
const api = { ...viaTls, accept: 'application/json' };
const HOST_COOKIE = '__Host-zonegate.sid';

/** A login through the proxy: every gateway request carries X-Forwarded-Proto, the zone's do not. */
async function loginOverHttps(browser: ScriptedBrowser, tenant: string, userName: string): Promise<string[]> {
  const start = await browser.get(`${stack.base(tenant)}/api/x`, viaTls);
  expect(start.status).toBe(302);
  const authorize = new URL(String(start.headers.location));
  expect(authorize.searchParams.get('redirect_uri')).toMatch(/^https:\/\//);
  const page = await browser.get(authorize.href);
  const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: userName, password: PASSWORD });
  expect(form.status, form.text.slice(0, 300)).toBe(302);
  const callback = await browser.get(String(form.headers.location), viaTls);
  expect(callback.status, callback.text.slice(0, 300)).toBe(302);
  return (callback.headers['set-cookie'] ?? []) as string[];
}


describe('the session cookie over https', () => {
  it('is __Host-zonegate.sid with Secure, Path=/ and no Domain; it works, and never reaches the backend', async () => {
    const browser = new ScriptedBrowser();
    const cookies = await loginOverHttps(browser, 'acme', 'alice');
    const session = cookies.filter((c) => /^(__Host-)?zonegate\.sid=/.test(c));
    expect(session).toHaveLength(1);
    expect(session[0]).toMatch(/^__Host-zonegate\.sid=s%3A/);
    expect(session[0]).toMatch(/; Path=\/(;|$)/);
    expect(session[0]).toMatch(/; Secure(;|$)/);
    expect(session[0]).toMatch(/; HttpOnly(;|$)/);
    expect(session[0]).not.toMatch(/Domain=/i);

    const res = await browser.get(`${stack.base('acme')}/api/x`, api);
    expect(res.status).toBe(200);
    expect(res.json().headers.cookie).toBeUndefined();
    expect(String(res.json().headers.authorization)).toMatch(/^Bearer ey/);

    // Read again moments later, the session is kept; the next request is decided from this
    // instance's recent read of it (the fast path reads the same cookie name), without a storage read.
    expect((await browser.get(`${stack.base('acme')}/api/x`, api)).status).toBe(200);
    const reads = countSessionReads(stack);
    try {
      expect((await browser.get(`${stack.base('acme')}/api/x`, api)).status).toBe(200);
      expect(reads.count).toBe(0);
    } finally {
      reads.stop();
    }
  });

  it('ignores an unprefixed session cookie over https (one a sibling subdomain or plain http could have set)', async () => {
    const browser = new ScriptedBrowser();
    await loginOverHttps(browser, 'acme', 'bob');
    const value = browser.cookies(new URL(stack.base('acme')).host).get(HOST_COOKIE)!;
    const planted = await new ScriptedBrowser().get(`${stack.base('acme')}/api/x`, { ...api, cookie: `zonegate.sid=${value}` });
    expect(planted.status).toBe(401);
    // The same value under its own name is the session.
    const own = await new ScriptedBrowser().get(`${stack.base('acme')}/api/x`, { ...api, cookie: `${HOST_COOKIE}=${value}` });
    expect(own.status).toBe(200);
  });

  it('logout clears the __Host- cookie with the attributes it was set with', async () => {
    const browser = new ScriptedBrowser();
    await loginOverHttps(browser, 'acme', 'alice');
    const out = await browser.get(`${stack.base('acme')}/logout`, viaTls);
    expect(out.status).toBe(302);
    const cleared = ((out.headers['set-cookie'] ?? []) as string[]).find((c) => c.startsWith(`${HOST_COOKIE}=`));
    expect(cleared).toMatch(/^__Host-zonegate\.sid=; Path=\/; Max-Age=0;.*; Secure$/);
    expect((await browser.get(`${stack.base('acme')}/api/x`, api)).status).toBe(401);
  });

  it('over plain http the cookie keeps its name, without Secure', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const jar = browser.cookies(new URL(stack.base('acme')).host);
    expect(jar.get('zonegate.sid')).toMatch(/^s%3A/);
    expect(jar.has(HOST_COOKIE)).toBe(false);
    expect((await browser.get(`${stack.base('acme')}/api/x`, { accept: 'application/json' })).status).toBe(200);
  });
});
