/**
 * The zone's login page in a real browser (Chromium through playwright-core): the form submits under
 * the page's Content-Security-Policy, the cookies (login binding, SSO) work as a browser keeps them, the
 * second client signs in silently, and the redirect lands on the client with code and state.
 * Chromium resolves `*.localhost` to loopback itself (RFC 6761 §6.3). The client's redirect URI is a
 * real server on port 0 (the harness registers `http://localhost:<any port>/callback`): Playwright cannot intercept the
 * target of a redirect.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser as PwBrowser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, security, startZones, type Harness } from '../oauth/harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let h: Harness;
let browser: PwBrowser;
let callback: http.Server;
let REDIRECT = '';
const landed: string[] = [];
beforeAll(async () => {
  h = await startZones();
  callback = http.createServer((req, res) => {
    landed.push(`http://${req.headers.host}${req.url}`);
    res.end('client callback');
  });
  await new Promise<void>((r) => callback.listen(0, '127.0.0.1', r));
  REDIRECT = `http://localhost:${(callback.address() as AddressInfo).port}/callback`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  callback?.close();
  await h?.close();
});

function authorizeUrl(clientId: string, state: string): string {
  return `${h.url('acme')}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, state }).toString()}`;
}

describe('zone login page in Chromium', () => {
  it('signs in through the form, then a second client silently', async () => {
    const { application: other } = await h.directory.registerApplication(security('browserapp'), h.provider.id);
    await h.directory.subscribe(other, h.acme.id);
    const context = await browser.newContext();
    const violations: string[] = [];
    try {
      const page = await context.newPage();
      page.on('console', (msg) => {
        if (/Content Security Policy|Refused/i.test(msg.text())) violations.push(msg.text());
      });

      await page.goto(authorizeUrl(h.app.clientId, 'first'));
      expect(await page.title()).toContain('ACME Corp');
      await page.fill('#username', 'alice');
      await page.fill('#password', 'wrong-password-1');
      await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
      expect(await page.textContent('[role=alert]')).toContain('incorrect');

      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL(/\/callback\?/), page.click('button[type=submit]')]);
      const first = new URL(page.url());
      // The client's own server saw the same redirect (not only the browser's address bar).
      expect(landed).toContain(page.url());
      expect(first.searchParams.get('state')).toBe('first');
      const code = first.searchParams.get('code')!;
      const tokens = await h.token('acme', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
      expect(tokens.status).toBe(200);

      await page.goto(authorizeUrl(other.clientId, 'second'));
      const second = new URL(page.url());
      expect(second.origin + second.pathname).toBe(REDIRECT);
      expect(second.searchParams.get('state')).toBe('second');
      expect(second.searchParams.get('code')).toMatch(/^[\w-]{32,}$/);

      const cookies = await context.cookies(h.url('acme'));
      const sso = cookies.find((c) => c.name === 'zg_zone_session')!;
      expect(sso.httpOnly).toBe(true);
      expect(sso.sameSite).toBe('Lax');
      expect(sso.domain).toBe('acme.localhost');
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);
});
