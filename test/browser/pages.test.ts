/// <reference lib="dom" />
/**
 * Issue 17, "Pages people see": every page zonegate draws itself, opened in a real Chromium at a
 * desktop (1280×800) and a phone (390×844) width, with screenshots in test-output/pages/ for a
 * person to look at, and what can be asserted asserted from the DOM: the application's display name
 * (never the client id), the code and request id for support, a way on that works, 16 px inputs,
 * 44 px touch targets, the focus on the first field, `lang`, a label for every input.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoZones } from '../../src/demo/demo.js';
import { createInvitationStore } from '../../src/zones/invitations.js';
import { launchChromium } from '../support/chromium.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = path.join(ROOT, 'test-output', 'pages');
const SIZES = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;
/** xs-security.json's `description`, which the sign-in page must show. */
const DISPLAY_NAME = 'The zonegate demo application';

const ROUTES = {
  welcomeFile: '/app/home',
  authenticationMethod: 'route',
  // No logoutPage: logout ends on the gateway's own page.
  logout: { logoutEndpoint: '/logout' },
  routes: [
    { source: '^/app/(.*)$', target: '/$1', destination: 'echo', scope: '$XSAPPNAME.Viewer' },
    { source: '^/admin/(.*)$', target: '/admin/$1', destination: 'echo', scope: '$XSAPPNAME.Admin' },
    { source: '^/busy/(.*)$', target: '/$1', destination: 'busy', authenticationType: 'none' },
  ],
};

describe('the pages people see, in Chromium at 1280 and 390 px', () => {
  let gw: TestGateway;
  let browser: Browser;
  let clientId: string;
  const base = (tenant: string) => `http://${tenant}.localhost:${gw.port}`;
  const zone = (tenant: string) => `http://${tenant}.auth.localhost:${gw.port}`;

  beforeAll(async () => {
    fs.mkdirSync(OUT, { recursive: true });
    gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': fs.readFileSync(path.join(ROOT, 'xs-security.json'), 'utf8') },
      destinations: [
        { name: 'echo', url: 'ECHO', forwardAuthToken: true },
        // One connection and no queue: a second request while one is out is refused with 503.
        { name: 'busy', url: 'ECHO', maxSockets: 1 },
      ],
      env: { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$', UAA_DOMAIN: 'auth.localhost', SESSION_KEYS: 'k1:' + 'a'.repeat(40), BACKEND_QUEUE_TIMEOUT_MS: '0' },
    });
    clientId = gw.running.credentials!.clientid;
    await seedDemoZones(gw.running.directory!, clientId);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  /**
   * What every page must have, then a screenshot at each width (printed): `lang`, a label for every
   * visible input, inputs of at least 16 px, and at the phone width buttons and links of the way on
   * at least 44 px high.
   */
  async function check(page: Page, name: string): Promise<void> {
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('meta[name="viewport"]').count()).toBe(1);
    const inputs = await page.$$eval('input:not([type="hidden"])', (els) =>
      els.map((el) => ({ id: el.id, labels: (el as HTMLInputElement).labels?.length ?? 0, fontSize: parseFloat(getComputedStyle(el).fontSize) })),
    );
    for (const input of inputs) {
      expect(input.labels, `label of #${input.id}`).toBeGreaterThan(0);
      expect(input.fontSize, `font size of #${input.id}`).toBeGreaterThanOrEqual(16);
    }
    for (const size of SIZES) {
      await page.setViewportSize(size);
      if (size.width === 390) {
        const targets = await page.$$eval('button, input:not([type="hidden"]), .way-on a', (els) =>
          els.map((el) => ({ what: `${el.tagName} ${el.textContent ?? ''}`.trim(), height: el.getBoundingClientRect().height, width: el.getBoundingClientRect().width })),
        );
        for (const t of targets) expect(t.height, `height of ${t.what}`).toBeGreaterThanOrEqual(44);
        // Nothing wider than the phone: no sideways scrolling.
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(size.width);
      }
      const file = path.join(OUT, `${name}-${size.width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`screenshot: ${path.relative(ROOT, file)}`);
    }
  }

  /** The small print support asks for: the code, and the request id the answer carried. */
  async function expectSupportLine(page: Page, response: Response | null, code: string): Promise<void> {
    expect(response!.headers()['x-zonegate-error']).toBe(code);
    const requestId = response!.headers()['x-request-id'];
    expect(requestId).toMatch(/^[\w-]{8,}$/);
    const support = await page.textContent('.support');
    expect(support).toContain(code);
    expect(support).toContain(requestId);
  }

  const wayOn = (page: Page) => page.$$eval('.way-on a', (els) => els.map((a) => a.textContent));

  it('sign-in page: the display name, not the client id; focus on the user name; then 403, log out, logged out, log in again', async () => {
    const context = await browser.newContext({ viewport: SIZES[0] });
    const page = await context.newPage();
    await page.goto(`${base('acme')}/app/home`);
    expect(new URL(page.url()).host).toBe(`acme.auth.localhost:${gw.port}`);
    expect(await page.textContent('h1')).toBe(DISPLAY_NAME);
    expect(await page.title()).toContain(DISPLAY_NAME);
    const html = await page.content();
    expect(html).not.toContain(clientId);
    expect(html).not.toContain('sb-');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('username');
    await check(page, 'login');

    // A wrong password: the form again, the name kept, the focus on the password.
    await page.setViewportSize(SIZES[0]);
    await page.fill('#username', 'viewer');
    await page.fill('#password', 'wrong-password');
    await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
    expect(await page.textContent('[role="alert"]')).toContain('incorrect');
    expect(await page.textContent('h1')).toBe(DISPLAY_NAME);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    await check(page, 'login-retry');

    await page.fill('#password', 'demo-viewer-pass');
    await Promise.all([page.waitForURL(`${base('acme')}/app/home`), page.click('button[type="submit"]')]);

    // 403: who is signed in, which role collection to ask for, the code and request id, a way on.
    const forbidden = await page.goto(`${base('acme')}/admin/settings`);
    expect(forbidden!.status()).toBe(403);
    const text = (await page.textContent('main')) ?? '';
    expect(text).toContain('You are signed in as viewer');
    expect(text).toContain('"Demo Administrator"');
    await expectSupportLine(page, forbidden, 'ZG_ERR_FORBIDDEN');
    expect(await wayOn(page)).toEqual(['Home', 'Log out / switch user']);
    await check(page, 'error-403');

    // Log out (the link) -> the zone ends its SSO session -> the gateway's logged-out page.
    await page.setViewportSize(SIZES[1]);
    await Promise.all([page.waitForURL(`${base('acme')}/login/logged-out`), page.click('text=Log out / switch user')]);
    expect(await page.textContent('h1')).toBe('You have been logged out');
    expect(await wayOn(page)).toEqual(['Log in again']);
    await check(page, 'logged-out');
    // The session is gone: the application is not reachable without a new login.
    expect((await context.cookies(base('acme'))).filter((c) => c.name.startsWith('zonegate.sid') && c.value !== '')).toEqual([]);

    // Log in again: home -> welcome file (protected) -> the zone's sign-in form (its SSO ended too).
    await Promise.all([page.waitForURL((url) => url.host === `acme.auth.localhost:${gw.port}`), page.click('text=Log in again')]);
    expect(await page.textContent('h1')).toBe(DISPLAY_NAME);
    expect(await page.locator('#password').count()).toBe(1);
    await context.close();
  });

  it('404 for an unknown tenant: what happened, what to do, the code and request id, the way home', async () => {
    const page = await browser.newPage({ viewport: SIZES[0] });
    const response = await page.goto(`${base('nowhere')}/app/home`);
    expect(response!.status()).toBe(404);
    expect(await page.textContent('h1')).toBe('This organisation is not known here');
    expect(await page.textContent('main')).toContain('ask your administrator');
    await expectSupportLine(page, response, 'ZG_ERR_TENANT_UNKNOWN');
    // No "Home": on an unknown host it would lead back here; the advice is the way on.
    expect(await wayOn(page)).toEqual([]);
    await check(page, 'error-404');

    // A page that does not exist on a known tenant: home leads to the application.
    const missing = await page.goto(`${base('acme')}/no/such/page`);
    expect(missing!.status()).toBe(404);
    expect(await page.textContent('h1')).toBe('This page does not exist');
    await expectSupportLine(page, missing, 'ZG_ERR_ROUTE_NOT_FOUND');
    expect(await wayOn(page)).toEqual(['Home']);
    await check(page, 'error-404-route');
    await Promise.all([page.waitForURL((url) => url.host === `acme.auth.localhost:${gw.port}`), page.click('.way-on a:text-is("Home")')]);
    expect(await page.textContent('h1')).toBe(DISPLAY_NAME);
    await page.close();
  });

  it('503 while the backend is busy: try again in a minute, with a working "Try again"', async () => {
    // Holds the destination's one connection.
    const held = new Promise<void>((resolve) => {
      const req = http.get({ port: gw.port, path: '/busy/slow/2000', headers: { host: `acme.localhost:${gw.port}` } }, (res) => res.resume().on('end', resolve));
      req.on('error', () => resolve());
    });
    await sleep(200);
    const page = await browser.newPage({ viewport: SIZES[0] });
    const response = await page.goto(`${base('acme')}/busy/status/200`);
    expect(response!.status()).toBe(503);
    expect(await page.textContent('h1')).toBe('The service is temporarily unavailable');
    expect(await page.textContent('main')).toContain('Try again in a minute');
    // A 5xx's message stays in the log: no destination names or connection counts on the page.
    expect(await page.textContent('main')).not.toContain('connections');
    await expectSupportLine(page, response, 'ZG_ERR_BACKEND_BUSY');
    expect(await wayOn(page)).toEqual(['Try again', 'Home']);
    expect(await page.getAttribute('.way-on a:text-is("Try again")', 'href')).toBe('/busy/status/200');
    await check(page, 'error-503');
    await held;
    // Once the connection is free, "Try again" works.
    await page.setViewportSize(SIZES[0]);
    const again = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/busy/status/200')), page.click('.way-on a:text-is("Try again")')]);
    expect(again[0].status()).toBe(200);
    await page.close();
  });

  it("the zone's error page: the code and request id, and signing out as the way on", async () => {
    const page = await browser.newPage({ viewport: SIZES[0] });
    const response = await page.goto(`${zone('acme')}/oauth/authorize?response_type=code&client_id=nobody&state=s`);
    expect(response!.status()).toBe(400);
    expect(await page.textContent('h1')).toBe('The sign-in request is not valid');
    expect(await page.textContent('[role="alert"]')).toContain('The application is unknown');
    expect(await page.textContent('main')).toContain('Go back to the application and start again.');
    await expectSupportLine(page, response, 'ZG_ERR_OAUTH_INVALID_REQUEST');
    expect(await wayOn(page)).toEqual(['Sign out / switch user']);
    await check(page, 'zone-error');
    await Promise.all([page.waitForURL(`${zone('acme')}/logout.do`), page.click('text=Sign out / switch user')]);
    expect(await page.textContent('h1')).toBe('You have been signed out');
    await check(page, 'zone-signed-out');
    await page.close();
  });

  it('the set-password page of an invitation: labels, focus on the new password', async () => {
    const directory = gw.running.directory!;
    const acme = (await directory.getZoneBySubdomain('acme'))!;
    const user = await directory.createUser(acme.id, { userName: 'newcomer', email: 'newcomer@acme.example.com' });
    const { reference } = await createInvitationStore(gw.running.storage).issue({ zoneId: acme.id, userId: user.id });
    const page = await browser.newPage({ viewport: SIZES[0] });
    const response = await page.goto(`${zone('acme')}/invitation?code=${reference}`);
    expect(response!.status()).toBe(200);
    expect(await page.textContent('h1')).toBe('Set your password');
    expect(await page.textContent('main')).toContain('newcomer');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    await check(page, 'set-password');
    await page.close();
  });
});
