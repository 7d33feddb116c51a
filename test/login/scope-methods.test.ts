/**
 * A route `scope` object without `default` (issue 12): SAP accepts it, and its router rejects the
 * methods the object does not list ("In case there is no default property specified and the HTTP
 * method is also not specified, the request is rejected by default", @sap/approuter README, routes).
 * Checked through the whole stack: real zones, a logged-in user, a real backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../support/browser.js';
import { LOGIN_ROUTES, startLoginStack, type LoginStack } from '../support/login-stack.js';

let stack: LoginStack;
beforeAll(async () => {
  stack = await startLoginStack({
    routes: {
      ...LOGIN_ROUTES,
      routes: [{ source: '^/reports/(.*)$', target: '/$1', destination: 'echo', scope: { GET: '$XSAPPNAME.Viewer' } }, ...LOGIN_ROUTES.routes],
    },
  });
});
afterAll(() => stack.close());

const xhr = { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' };

describe('a per-method scope object without default', () => {
  it('lets GET through with the scope and answers 403 to a method it does not list', async () => {
    const browser = new ScriptedBrowser();
    // alice holds every scope of the application (Administrator): the 403 is about the method, not her roles.
    await stack.login(browser, 'acme', 'alice', '/reports/x');
    const read = await browser.get(stack.base('acme') + '/reports/x', { ...xhr, 'x-csrf-token': 'fetch' });
    expect(read.status).toBe(200);
    const csrf = String(read.headers['x-csrf-token']);
    expect(csrf).toMatch(/^[\w-]{20,}$/);

    const write = await browser.request(stack.base('acme') + '/reports/x', { method: 'POST', headers: { ...xhr, 'x-csrf-token': csrf } });
    expect(write.status).toBe(403);
    expect(write.json().error.code).toBe('ZG_ERR_FORBIDDEN');
    expect(write.json().error.message).toBe('This route admits no POST requests: its scope lists neither POST nor a default');
    // The same CSRF token still works where POST is admitted: the 403 came from the scope rule.
    expect((await browser.request(stack.base('acme') + '/api/x', { method: 'POST', headers: { ...xhr, 'x-csrf-token': csrf } })).status).toBe(200);
  });

  it('follows the method as sent: the GET entry does not cover HEAD', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'bob', '/reports/x');
    expect((await browser.get(stack.base('acme') + '/reports/x', xhr)).status).toBe(200);
    expect((await browser.request(stack.base('acme') + '/reports/x', { method: 'HEAD', headers: xhr })).status).toBe(403);
  });
});
