/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';

/**
 * Issue 10: five tabs of one real browser (a restored window) all land on the login page at once,
 * and the user signs in on each tab's form, in any order. Every tab ends on its own page, logged in:
 * Chromium's cookie jar with its Path and SameSite rules, not a scripted one.
 */
describe('several tabs of a real browser logging in at once', () => {
  let stack: LoginStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startLoginStack();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('logs in all 5 tabs, each back on its own page', async () => {
    const context = await browser.newContext();
    const tabs = await Promise.all(Array.from({ length: 5 }, () => context.newPage()));
    const paths = tabs.map((_, i) => `/api/tab${i}`);
    await Promise.all(tabs.map((tab, i) => tab.goto(stack.base('acme') + paths[i])));
    for (const tab of tabs) expect(new URL(tab.url()).host).toBe(`acme.localhost:${stack.zones.port}`);

    // Every tab signs in on the form it was shown, in any order, without a reload: the gateway binds
    // each pending login to the browser with a cookie of its own, and so does the zone's sign-in form.
    const gatewayHost = new URL(stack.base('acme')).host;
    for (const i of [2, 4, 0, 3, 1]) {
      const tab = tabs[i]!;
      await tab.fill('input[name="username"]', 'alice');
      await tab.fill('input[name="password"]', 'correct-horse-1');
      // Back on the gateway: at the tab's own page, or at the callback if the gateway refused it.
      await Promise.all([tab.waitForURL((url) => url.host === gatewayHost), tab.click('button[type="submit"], input[type="submit"]')]);
      expect(tab.url(), `tab ${i}: ${await tab.textContent('body')}`).toBe(stack.base('acme') + paths[i]);
    }
    for (const [i, tab] of tabs.entries()) {
      await tab.reload();
      expect(JSON.parse((await tab.textContent('body')) ?? '{}').url, `tab ${i}`).toBe(`/tab${i}`);
    }
    // Each callback cleared its own login cookie: only the session cookie is left.
    expect((await context.cookies(stack.base('acme') + '/login/callback')).map((c) => c.name)).toEqual(['zonegate.sid']);
    await context.close();
  });
});
