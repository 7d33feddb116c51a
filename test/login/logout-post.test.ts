import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../support/browser.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';

/** SAP 21.x: `logoutMethod: "POST"` turns on CSRF protection for the logout endpoint. */
describe('logout by POST', () => {
  let stack: LoginStack;
  beforeAll(async () => {
    stack = await startLoginStack({
      routes: {
        logout: { logoutEndpoint: '/do/logout', logoutMethod: 'POST', logoutPage: '/bye' },
        routes: [{ source: '^/api/(.*)$', target: '/$1', destination: 'echo' }],
      },
    });
  });
  afterAll(() => stack.close());

  it('needs the session CSRF token, refuses GET with 405, and then ends the session', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const base = stack.base('acme');
    const get = await browser.get(`${base}/do/logout`);
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    // A cross-site form post carries the cookie but cannot know the token.
    const forged = await browser.request(`${base}/do/logout`, { method: 'POST', headers: { accept: 'text/html' } });
    expect(forged.status).toBe(403);
    expect(forged.headers['x-csrf-token']).toBe('Required');
    expect((await browser.get(`${base}/api/x`, { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' })).status).toBe(200);
    const token = String((await browser.get(`${base}/api/x`, { 'x-csrf-token': 'fetch' })).headers['x-csrf-token']);
    const done = await browser.request(`${base}/do/logout`, { method: 'POST', headers: { 'x-csrf-token': token } });
    expect(done.status).toBe(302);
    expect(new URL(String(done.headers.location)).pathname).toBe('/logout.do');
    expect((await browser.get(`${base}/api/x`, { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' })).status).toBe(401);
  });
});
