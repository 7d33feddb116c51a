/**
 * Issue 12, towards backends: what a logged-in user's session does for requests on public routes
 * (the token on forwardAuthToken destinations) and for backend session cookies, which the gateway
 * keeps in the session as SAP's router does (backend-response/cookie-handler.js). Real HTTP all the
 * way: the identity zones, the gateway and two cookie-setting backends that echo what they receive.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../support/browser.js';
import { LOGIN_ROUTES, startLoginStack, type LoginStack } from '../support/login-stack.js';

/** Sets each `c` query parameter as a Set-Cookie line, and answers with the URL and Cookie it got. */
function cookieBackend(): http.Server {
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://backend');
    const lines = url.searchParams.getAll('c');
    const body = JSON.stringify({ url: req.url, cookie: req.headers.cookie ?? null, authorization: req.headers.authorization ?? null });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(lines.length ? { 'set-cookie': lines } : {}) });
    res.end(body);
  });
}

const backends = [cookieBackend(), cookieBackend()];
let stack: LoginStack;
beforeAll(async () => {
  const urls: string[] = [];
  for (const b of backends) {
    await new Promise<void>((r) => b.listen(0, '127.0.0.1', r));
    urls.push(`http://127.0.0.1:${(b.address() as AddressInfo).port}`);
  }
  stack = await startLoginStack({
    destinations: [
      { name: 'one', url: urls[0]! },
      { name: 'two', url: `${urls[1]!}/base` },
    ],
    routes: {
      ...LOGIN_ROUTES,
      routes: [
        { source: '^/one/(.*)$', target: '/$1', destination: 'one' },
        { source: '^/two/(.*)$', target: '/$1', destination: 'two' },
        { source: '^/open-one/(.*)$', target: '/$1', destination: 'one', authenticationType: 'none' },
        ...LOGIN_ROUTES.routes,
      ],
    },
  });
});
afterAll(async () => {
  await stack.close();
  for (const b of backends) {
    b.closeAllConnections();
    await new Promise((r) => b.close(r));
  }
});

const set = (...lines: string[]) => lines.map((l) => `c=${encodeURIComponent(l)}`).join('&');
const host = () => new URL(stack.base('acme')).host;
const seen = async (browser: ScriptedBrowser, path: string, headers: Record<string, string> = {}) => {
  const res = await browser.get(stack.base('acme') + path, headers);
  expect(res.status).toBe(200);
  return res.json() as { url: string; cookie: string | null; authorization: string | null };
};

describe("a logged-in user's token on public routes (forwardAuthToken)", () => {
  it('is attached when the session exists, and never starts a login or fails without one', async () => {
    const browser = new ScriptedBrowser();
    const anonymous = await browser.get(stack.base('acme') + '/public/x');
    expect(anonymous.status).toBe(200);
    expect(anonymous.json().headers.authorization).toBeUndefined();

    await stack.login(browser, 'acme', 'alice');
    const withSession = await browser.get(stack.base('acme') + '/public/x');
    expect(String(withSession.json().headers.authorization)).toMatch(/^Bearer ey/);
    // A second time: the session read moments ago, the same token.
    expect((await browser.get(stack.base('acme') + '/public/x')).json().headers.authorization).toBe(withSession.json().headers.authorization);

    // A broken or ended session is simply none: the public request goes through without a token.
    const forged = await new ScriptedBrowser().get(stack.base('acme') + '/public/x', { cookie: 'zonegate.sid=s%3Anothing.forged' });
    expect(forged.status).toBe(200);
    expect(forged.json().headers.authorization).toBeUndefined();
    const sid = browser.cookies(host()).get('zonegate.sid')!;
    await browser.get(stack.base('acme') + '/logout');
    const ended = await new ScriptedBrowser().get(stack.base('acme') + '/public/x', { cookie: `zonegate.sid=${sid}` });
    expect(ended.status).toBe(200);
    expect(ended.json().headers.authorization).toBeUndefined();
  });

  it("is not attached on another tenant's host, nor to destinations without forwardAuthToken", async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const sid = browser.cookies(host()).get('zonegate.sid')!;
    const elsewhere = await new ScriptedBrowser().get(stack.base('globex') + '/public/x', { cookie: `zonegate.sid=${sid}` });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.json().headers.authorization).toBeUndefined();
  });
});

describe('backend session cookies, kept in the session (SAP: the session cookie jar)', () => {
  it('never reach the browser, go back to the backend that set them only, and cannot clash', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const first = await browser.get(stack.base('acme') + `/one/login?${set('JSESSIONID=one-1; Path=/; HttpOnly')}`);
    expect(first.status).toBe(200);
    expect(first.headers['set-cookie'] ?? []).not.toEqual(expect.arrayContaining([expect.stringContaining('JSESSIONID')]));
    expect(browser.cookies(host()).has('JSESSIONID')).toBe(false);
    // The very next request finds it: the response waited until it was stored.
    expect((await seen(browser, '/one/x')).cookie).toBe('JSESSIONID=one-1');
    expect((await seen(browser, '/two/x')).cookie).toBeNull();
    // The other backend's cookie of the same name is its own.
    await browser.get(stack.base('acme') + `/two/login?${set('JSESSIONID=two-1; Path=/base')}`);
    expect((await seen(browser, '/two/y')).cookie).toBe('JSESSIONID=two-1');
    expect((await seen(browser, '/one/y')).cookie).toBe('JSESSIONID=one-1');
    // A browser-sent cookie of that name cannot shadow the kept one (no fixation through the browser).
    const sid = browser.cookies(host()).get('zonegate.sid')!;
    expect((await seen(browser, '/one/z', { cookie: `JSESSIONID=planted; theme=dark; zonegate.sid=${sid}` })).cookie).toBe('theme=dark; JSESSIONID=one-1');
    // Another user's session has none of them.
    const other = new ScriptedBrowser();
    await stack.login(other, 'acme', 'bob');
    expect((await seen(other, '/one/x')).cookie).toBeNull();
  });

  it("survive the session's own save at the end of the same request (a CSRF token fetched with the backend's first answer)", async () => {
    // UI5's first OData call: `x-csrf-token: fetch`, which creates the session's token, while the
    // backend opens its session. express-session saves the session at the response's end.
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const first = await browser.get(stack.base('acme') + `/one/odata?${set('SAP_SESSIONID=abc')}`, { 'x-csrf-token': 'fetch' });
    expect(first.headers['x-csrf-token']).toMatch(/^[\w-]{20,}$/);
    await new Promise((r) => setTimeout(r, 50));
    expect((await seen(browser, '/one/odata/x')).cookie).toBe('SAP_SESSIONID=abc');
  });

  it('follow Path (default path included) and are deleted by Max-Age=0 or a past Expires', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    await browser.get(stack.base('acme') + `/one/dir/set?${set('D=1', 'S=2; Path=/sub', 'R=3; Path=/')}`);
    expect((await seen(browser, '/one/dir/page')).cookie).toBe('D=1; R=3');
    expect((await seen(browser, '/one/sub/page')).cookie).toBe('S=2; R=3');
    expect((await seen(browser, '/one/subway')).cookie).toBe('R=3');
    // Path /dir is a different cookie from D at /: only its own Path deletes it.
    await browser.get(stack.base('acme') + `/one/x?${set('D=; Path=/; Max-Age=0')}`);
    expect((await seen(browser, '/one/dir/page')).cookie).toBe('D=1; R=3');
    await browser.get(stack.base('acme') + `/one/dir/x?${set('D=; Max-Age=0', 'R=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT')}`);
    expect((await seen(browser, '/one/dir/page')).cookie).toBeNull();
    expect((await seen(browser, '/one/sub/page')).cookie).toBe('S=2');
  });

  it('persistent cookies (Expires, Max-Age) reach the browser, as with SAP; the gateway keeps only session cookies', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const res = await browser.get(stack.base('acme') + `/one/x?${set('lang=de; Path=/; Max-Age=3600', 'SID=s1')}`);
    expect(res.headers['set-cookie']).toEqual(['lang=de; Path=/; Max-Age=3600']);
    expect((await seen(browser, '/one/x')).cookie).toBe('lang=de; SID=s1');
  });

  it('are kept from public routes too when the session exists; without a session they pass to the browser', async () => {
    const anonymous = new ScriptedBrowser();
    const passed = await anonymous.get(stack.base('acme') + `/open-one/x?${set('ANON=1; Path=/')}`);
    expect(passed.headers['set-cookie']).toEqual(['ANON=1; Path=/']);

    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const res = await browser.get(stack.base('acme') + `/open-one/x?${set('PUB=1; Path=/')}`);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect((await seen(browser, '/one/x')).cookie).toBe('PUB=1');
    expect((await seen(browser, '/open-one/x')).cookie).toBe('PUB=1');
  });

  it('are sealed in the stored session, and bounded in size', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    await browser.get(stack.base('acme') + `/one/x?${set('SECRETNAME=SECRETVALUE')}`);
    const text = decodeURIComponent(browser.cookies(host()).get('zonegate.sid')!);
    const raw = await stack.gateways[0]!.storage.get(`sess:${text.slice(2, text.lastIndexOf('.'))}`);
    expect(raw).toBeDefined();
    expect(raw).not.toContain('SECRETVALUE');
    expect(raw).not.toContain('SECRETNAME');

    // One cookie over 4096 bytes is not kept (and does not reach the browser either); nor is one that
    // would take a destination's cookies past 8 KiB. Those kept stay.
    const big = await browser.get(stack.base('acme') + `/one/x?${set(`HUGE=${'x'.repeat(5000)}`)}`);
    expect(big.headers['set-cookie']).toBeUndefined();
    for (let i = 0; i < 3; i++) await browser.get(stack.base('acme') + `/two/x?${set(`B${i}=${'y'.repeat(3000)}`)}`);
    const cookie = (await seen(browser, '/two/x')).cookie ?? '';
    expect(cookie).toMatch(/^B0=y+; B1=y+$/);
    expect((await seen(browser, '/one/x')).cookie).toBe('SECRETNAME=SECRETVALUE');
    expect(stack.gateways[0]!.logs.some((l) => l.includes('backend cookies not kept') && l.includes('HUGE'))).toBe(true);
  });
});
