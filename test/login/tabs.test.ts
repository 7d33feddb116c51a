/**
 * Issue 10: several tabs of one browser log in at once (a restored window, links opened in new
 * tabs). Each tab's login is bound to the browser on its own, so every callback succeeds in any
 * order; a callback whose state this browser never started is still refused (login CSRF). Real
 * HTTP against the login stack, one cookie jar for all tabs, as a browser has.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { loginCookies, startLoginStack, type LoginStack } from '../support/login-stack.js';
import { PASSWORD } from '../zones/oauth/harness.js';
import { MAX_PENDING_LOGINS } from '../../src/login/login-binding.js';

const xhr = { 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' };

let stack: LoginStack;
beforeAll(async () => {
  stack = await startLoginStack();
});
afterAll(() => stack.close());

/** Starts logins in `count` tabs at once; resolves with each tab's page and authorize URL. */
async function startTabs(browser: ScriptedBrowser, count: number): Promise<{ page: string; authorize: string }[]> {
  const pages = Array.from({ length: count }, (_, i) => `/api/tab${i}`);
  const starts = await Promise.all(pages.map((page) => browser.get(stack.base('acme') + page)));
  return starts.map((start, i) => {
    expect(start.status).toBe(302);
    return { page: pages[i]!, authorize: String(start.headers.location) };
  });
}

/**
 * Each tab's callback URL: the first tab signs in at the zone's login page; the zone's SSO session
 * then answers the others' authorize requests with a code straight away, as it does in a browser.
 */
async function callbacksOf(browser: ScriptedBrowser, tabs: { authorize: string }[], user = 'alice'): Promise<string[]> {
  const urls: string[] = [];
  for (const tab of tabs) {
    const page = await browser.get(tab.authorize);
    if (page.status === 302) {
      urls.push(String(page.headers.location));
      continue;
    }
    expect(page.status).toBe(200);
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: user, password: PASSWORD });
    expect(form.status).toBe(302);
    urls.push(String(form.headers.location));
  }
  return urls;
}

describe('several tabs logging in at once', () => {
  it('finishes all 5 logins, in any order, each back on its own page; the last session is the one kept', async () => {
    const browser = new ScriptedBrowser();
    const host = new URL(stack.base('acme')).host;
    const tabs = await startTabs(browser, 5);
    const callbacks = await callbacksOf(browser, tabs);

    for (const i of [3, 0, 4, 1, 2]) {
      const res = await browser.get(callbacks[i]!);
      expect(res.status, `tab ${i}: ${res.text.slice(0, 200)}`).toBe(302);
      expect(res.headers.location, `tab ${i}`).toBe(tabs[i]!.page);
    }
    // Each callback cleared its own binding and no other.
    expect(loginCookies(browser, host)).toEqual([]);
    // One browser, one session cookie: every tab now works with the session the last callback made
    // (each login replaced the session of the one before, as a new login in SAP's router does).
    for (const tab of tabs) {
      const res = await browser.get(stack.base('acme') + tab.page, xhr);
      expect(res.status).toBe(200);
      expect(res.json().url).toBe(tab.page.replace('/api', ''));
    }
  });

  it('finishes logins whose callbacks arrive at the same moment', async () => {
    const browser = new ScriptedBrowser();
    const tabs = await startTabs(browser, 5);
    const callbacks = await callbacksOf(browser, tabs);
    const results = await Promise.all(callbacks.map((url) => browser.get(url)));
    expect(results.map((r) => r.status)).toEqual([302, 302, 302, 302, 302]);
    expect((await browser.get(stack.base('acme') + '/api/after', xhr)).status).toBe(200);
  });

  it('refuses, in a browser with logins of its own pending, a callback whose state another browser started; its own still finish', async () => {
    const attacker = new ScriptedBrowser();
    const [attackerTab] = await startTabs(attacker, 1);
    const [attackerCallback] = await callbacksOf(attacker, [attackerTab!], 'bob');

    const victim = new ScriptedBrowser();
    const host = new URL(stack.base('acme')).host;
    const tabs = await startTabs(victim, 3);
    const forged = await victim.get(attackerCallback!);
    expect(forged.status).toBe(401);
    expect(forged.headers['x-zonegate-error']).toBe('ZG_ERR_LOGIN_FAILED');
    expect(forged.text).toContain('not started in this browser');
    expect(forged.headers['set-cookie']?.some((c) => c.startsWith('zonegate.sid='))).toBeFalsy();
    // The victim's own pending logins were left alone...
    expect(loginCookies(victim, host)).toHaveLength(3);
    // ...and finish as the victim's user, not the attacker's.
    for (const url of await callbacksOf(victim, tabs, 'alice')) expect((await victim.get(url)).status).toBe(302);
    const me = await victim.get(`${stack.base('acme')}/user-api/currentUser`, xhr);
    expect(me.json().name).toBe('alice');
  });

  it(`keeps at most ${MAX_PENDING_LOGINS} pending logins per browser: a callback drops the oldest beyond that`, async () => {
    const browser = new ScriptedBrowser();
    const host = new URL(stack.base('acme')).host;
    const tabs: { page: string; authorize: string }[] = [];
    // Started one after another, so that their order is known.
    for (let i = 0; i < MAX_PENDING_LOGINS + 4; i++) {
      tabs.push(...(await startTabs(browser, 1)).map((t) => ({ ...t, page: `/api/tab${i}` })));
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(loginCookies(browser, host)).toHaveLength(MAX_PENDING_LOGINS + 4);
    const callbacks = await callbacksOf(browser, tabs);
    const newest = callbacks.length - 1;
    expect((await browser.get(callbacks[newest]!)).status).toBe(302);
    expect(loginCookies(browser, host)).toHaveLength(MAX_PENDING_LOGINS - 1);
    // The oldest were dropped: their callbacks are refused; the newer ones still finish.
    expect((await browser.get(callbacks[0]!)).status).toBe(401);
    expect((await browser.get(callbacks[newest - 1]!)).status).toBe(302);
  });
});
