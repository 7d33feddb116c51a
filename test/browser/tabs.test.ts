/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';

/**
 * Issue 10: five tabs of one real browser (a restored window) all land on the login page at once;
 * the user signs in in one of them and reloads the others, in any order. Every tab ends on its own
 * page, logged in: Chromium's cookie jar with its Path and SameSite rules, not a scripted one.
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

    const first = tabs[2]!;
    // The zone's own sign-in form is bound to the browser by one cookie, so of five forms opened at
    // once only the last one opened can be sent; the user reloads the tab they sign in with (the
    // zone's side, src/zones/oauth/authorize.ts, is not what this test is about).
    await first.reload();
    await first.fill('input[name="username"]', 'alice');
    await first.fill('input[name="password"]', 'correct-horse-1');
    const gatewayHost = new URL(stack.base('acme')).host;
    // Back on the gateway: at the tab's own page, or at the callback if the gateway refused it.
    await Promise.all([first.waitForURL((url) => url.host === gatewayHost), first.click('button[type="submit"], input[type="submit"]')]);
    expect(first.url(), `tab 2: ${await first.textContent('body')}`).toBe(stack.base('acme') + paths[2]);
    // The others: the zone's SSO session answers their (reloaded) login at once.
    for (const i of [4, 0, 3, 1]) {
      await tabs[i]!.reload();
      expect(tabs[i]!.url(), `tab ${i}: ${await tabs[i]!.textContent('body')}`).toBe(stack.base('acme') + paths[i]);
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
