/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';

/** A real browser logs in on two tenants, each at its own zone, and reaches the backend. */
describe('login in a real browser', () => {
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

  for (const [tenant, user, zoneName] of [['acme', 'alice', 'ACME Corp'], ['globex', 'carol', 'Globex']] as const) {
    it(`logs in on ${tenant} at ${tenant}'s own login page and reaches the backend`, async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${stack.base(tenant)}/api/hello?from=browser`);
      // The tenant's own zone answers, with its own name on the page.
      expect(new URL(page.url()).host).toBe(`${tenant}.localhost:${stack.zones.port}`);
      expect(await page.textContent('body')).toContain(zoneName);
      await page.fill('input[name="username"]', user);
      await page.fill('input[name="password"]', 'correct-horse-1');
      await Promise.all([page.waitForURL(`${stack.base(tenant)}/api/hello?from=browser`), page.click('button[type="submit"], input[type="submit"]')]);
      const seen = JSON.parse((await page.textContent('body')) ?? '{}');
      expect(seen.url).toBe('/hello?from=browser');
      expect(String(seen.headers.authorization)).toMatch(/^Bearer ey/);
      // Tokens never reach browser storage: only the HttpOnly session id cookie.
      const cookies = await context.cookies(stack.base(tenant));
      expect(cookies.map((c) => c.name)).toEqual(['zonegate.sid']);
      expect(cookies[0]!.httpOnly).toBe(true);
      expect(await page.evaluate(() => document.cookie)).toBe('');
      expect(await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage))).toBe('{}{}');
      await page.screenshot({ path: `${process.env.SCREENSHOT_DIR ?? '/tmp'}/zonegate-${tenant}-after-login.png` });
      await context.close();
    });
  }
});
