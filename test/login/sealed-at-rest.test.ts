/**
 * Issue 9, sealed at rest (gateway side): a dump of the gateway's storage (the SQLite file, Redis)
 * reveals neither who is logged in nor with which scopes, nor a pending login's PKCE verifier and
 * nonce. Read straight from the storage the gateway writes to, after real logins over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { loginCookies, startLoginStack, type LoginStack } from '../support/login-stack.js';
import { PASSWORD } from '../zones/oauth/harness.js';

const api = { accept: 'application/json' };

/** The session id inside express-session's signed cookie value (`s:<sid>.<signature>`, URI-encoded). */
function sessionIdOf(cookieValue: string): string {
  const text = decodeURIComponent(cookieValue);
  return text.slice(2, text.lastIndexOf('.'));
}

describe.each([
  ['SQLite', undefined],
  ['Redis', 'redis://127.0.0.1:6379'],
])('sealed at rest (%s)', (_name, redisUrl) => {
  let stack: LoginStack;
  beforeAll(async () => {
    stack = await startLoginStack({ redisUrl });
  });
  afterAll(() => stack.close());

  it("a stored session holds no user name, e-mail or scope in clear", async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const cookie = browser.cookies(new URL(stack.base('acme')).host).get('zonegate.sid')!;
    const raw = await stack.gateways[0]!.storage.get(`sess:${sessionIdOf(cookie)}`);
    expect(raw).toBeDefined();
    for (const secret of ['alice', 'Alice', 'alice@acme.example', 'Able', `${stack.app.instanceName}.Admin`, `${stack.app.instanceName}.Viewer`, stack.zones.acme.id]) {
      expect(raw).not.toContain(secret);
    }
    // ...and the session still works: the user as the login established it.
    const me = await browser.get(`${stack.base('acme')}/user-api/currentUser`, api);
    expect(me.json()).toMatchObject({ name: 'alice', email: 'alice@acme.example', scopes: expect.arrayContaining([`${stack.app.instanceName}.Admin`]) });
  });

  it('a pending login holds its PKCE verifier and nonce sealed, bound to its state', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${stack.base('acme')}/api/x`);
    expect(start.status).toBe(302);
    const authorize = new URL(String(start.headers.location));
    const state = authorize.searchParams.get('state')!;
    const nonce = authorize.searchParams.get('nonce')!;
    const storage = stack.gateways[0]!.storage;
    const raw = (await storage.get(`login:${state}`))!;
    expect(raw).toMatch(/^v1\.k1\.[\w-]+\.[\w-]+$/);
    expect(raw).not.toContain(nonce);
    expect(raw).not.toMatch(/verifier|nonce|acme/);

    // Bound to its state: the sealed record of one login planted under another state does not open.
    const otherBrowser = new ScriptedBrowser();
    const other = await otherBrowser.get(`${stack.base('acme')}/api/y`);
    const otherState = new URL(String(other.headers.location)).searchParams.get('state')!;
    await storage.set(`login:${otherState}`, raw, { ttlMs: 60_000 });
    const page = await browser.get(authorize.href);
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'alice', password: PASSWORD });
    const callback = new URL(String(form.headers.location));
    callback.searchParams.set('state', otherState);
    // This browser holds the binding of the other login too (it started both).
    for (const [name, value] of loginCookies(otherBrowser, callback.host)) browser.cookies(callback.host).set(name, value);
    const res = await browser.get(callback.href);
    expect(res.status).toBe(401);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_LOGIN_FAILED');
  });
});
