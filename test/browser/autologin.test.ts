/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import type { TestGateway } from '../support/gateway.js';
import { createTestPlatform, organizationToken, postAutologin, postOrganization, register, startPlatformGateway, zoneAudience, type TestPlatform } from '../platform/support.js';

/**
 * Issue 15: a real browser follows a trusted platform's one-time login URL and ends logged in on
 * the tenant's host, without a password: the zone's link page, the gateway's ordinary code flow.
 */
describe('one-time login in a real browser', () => {
  let gw: TestGateway;
  let platform: TestPlatform;
  let browser: Browser;
  beforeAll(async () => {
    gw = await startPlatformGateway();
    platform = await createTestPlatform('tix');
    await register(gw, platform, { subdomainPattern: 'tix-*', roleCollections: ['Demo Viewer'] });
    const org = await postOrganization(gw, await organizationToken(gw, platform), { organizationId: 'org-1', subdomain: 'tix-acme' });
    expect(org.status, org.text).toBe(201);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await platform?.close();
    await gw?.stop();
  });

  it('opens the link and lands logged in on the tenant\'s host; the link does not work twice', async () => {
    const assertion = await platform.sign({ sub: 'jane', aud: zoneAudience(gw, 'tix-acme'), email: 'jane@tix.example', given_name: 'Jane', role_collections: ['Demo Viewer'], target: '/api/whoami' });
    const res = await postAutologin(gw, assertion);
    expect(res.status, res.text).toBe(200);
    const { url } = res.json();

    const context = await browser.newContext();
    const page = await context.newPage();
    const tenant = `http://tix-acme.localhost:${gw.port}`;
    await page.goto(url);
    await page.waitForURL(`${tenant}/api/whoami`);
    const seen = JSON.parse((await page.textContent('body')) ?? '{}');
    expect(seen.jwt.claims).toMatchObject({ user_name: 'jane', origin: 'tix', email: 'jane@tix.example' });
    // A gateway session on the tenant's host: its HttpOnly cookie, nothing else.
    const cookies = await context.cookies(tenant);
    expect(cookies.map((c) => c.name)).toEqual(['zonegate.sid']);
    expect(cookies[0]!.httpOnly).toBe(true);
    await page.screenshot({ path: `${process.env.SCREENSHOT_DIR ?? '/tmp'}/zonegate-one-time-login.png` });

    // The same link again, in a fresh browser: the zone's page says it is spent.
    const fresh = await browser.newContext();
    const again = await fresh.newPage();
    const answer = await again.goto(url);
    expect(answer?.status()).toBe(404);
    expect(await again.textContent('body')).toContain('invalid, has expired or was already used');
    await fresh.close();
    await context.close();
  });
});
