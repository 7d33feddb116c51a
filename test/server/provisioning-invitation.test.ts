/**
 * Issue 12: a subscribing user can actually sign in. With the built-in zones and no identity
 * provider, a subscription invites its administrator: a one-time set-password link on the tenant
 * zone's host (src/zones/invitations.ts, src/zones/oauth/invitation.ts). Real HTTP throughout: the
 * registry's callback, the link from the operator's log, the form with its CSRF token, then the
 * ordinary login through the gateway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvitationStore } from '../../src/zones/invitations.js';
import { BASE_ENV, callback, clientToken, guid, logIn, ROUTES, securityWithCallbackAuthority, subscription } from '../provisioning/gateway-support.js';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const NEW_PASSWORD = 'a-long-enough-passphrase';

describe('the subscribing administrator is invited to set a password', () => {
  let gw: TestGateway;
  let registryToken: string;

  beforeAll(async () => {
    gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': securityWithCallbackAuthority(), 'public/index.html': '<!doctype html><title>t</title>' },
      destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
      env: BASE_ENV,
    });
    registryToken = await clientToken(gw, 'provider');
  });
  afterAll(() => gw?.stop());

  /** Subscribes a tenant and returns the invitation link the operator finds in the log. */
  async function subscribe(n: number, subdomain: string): Promise<string> {
    const before = gw.logs.length;
    const put = await callback(gw, 'PUT', guid(n), { token: registryToken, body: subscription(guid(n), subdomain) });
    expect(put.status, put.text).toBe(200);
    expect(put.text).toBe(`http://${subdomain}.localhost:${gw.port}`);
    const line = gw.logs.slice(before).find((l) => l.includes('tenant administrator invited'));
    const link = line?.match(/http:\/\/[a-z0-9.-]+:\d+\/invitation\?code=[A-Za-z0-9_-]{43}/)?.[0];
    expect(link, line).toBeDefined();
    expect(new URL(link!).host).toBe(`${subdomain}.auth.localhost:${gw.port}`);
    return link!;
  }

  it('subscribe → link → set password (CSRF form) → the administrator logs in; the link works once', async () => {
    const link = await subscribe(41, 'initech');
    const owner = 'owner@initech.example';
    const browser = new ScriptedBrowser();
    const page = await browser.get(link);
    expect(page.status).toBe(200);
    expect(page.text).toContain(owner);
    const fields = hiddenFields(page.text);
    expect(fields['X-Uaa-Csrf']).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // Password policy (minimum length): refused, and the link still works.
    const short = await browser.post(new URL('/invitation', link).href, { ...fields, password: 'short', password_confirmation: 'short' });
    expect(short.status).toBe(400);
    expect(short.text).toContain('at least 8 characters');
    // Without the browser that opened the form (its cookie): refused.
    const forged = await new ScriptedBrowser().post(new URL('/invitation', link).href, { ...fields, password: NEW_PASSWORD, password_confirmation: NEW_PASSWORD });
    expect(forged.status).toBe(403);
    // With a wrong CSRF token: refused.
    const wrongCsrf = await browser.post(new URL('/invitation', link).href, { ...fields, 'X-Uaa-Csrf': 'x'.repeat(43), password: NEW_PASSWORD, password_confirmation: NEW_PASSWORD });
    expect(wrongCsrf.status).toBe(403);

    const done = await browser.post(new URL('/invitation', link).href, { ...fields, password: NEW_PASSWORD, password_confirmation: NEW_PASSWORD });
    expect(done.status, done.text).toBe(200);
    expect(done.text).toContain(`href="http://initech.localhost:${gw.port}"`);

    const user = new ScriptedBrowser();
    await logIn(user, `http://initech.localhost:${gw.port}`, owner, NEW_PASSWORD);
    const seen = await user.get(`http://initech.localhost:${gw.port}/api/whoami`, { accept: 'application/json' });
    expect(seen.status).toBe(200);

    // Single use: the link, and the form already rendered for it, are refused from now on.
    expect((await new ScriptedBrowser().get(link)).status).toBe(404);
    const again = await browser.get(link);
    expect(again.status).toBe(404);
    expect(again.text).toContain('invalid, has expired or was already used');
  });

  it('the second of two forms opened for one link cannot set the password again', async () => {
    const link = await subscribe(42, 'globex');
    const first = new ScriptedBrowser();
    const second = new ScriptedBrowser();
    const f1 = hiddenFields((await first.get(link)).text);
    const f2 = hiddenFields((await second.get(link)).text);
    expect((await first.post(new URL('/invitation', link).href, { ...f1, password: NEW_PASSWORD, password_confirmation: NEW_PASSWORD })).status).toBe(200);
    expect((await second.post(new URL('/invitation', link).href, { ...f2, password: 'the-attackers-password', password_confirmation: 'the-attackers-password' })).status).toBe(404);
    await logIn(new ScriptedBrowser(), `http://globex.localhost:${gw.port}`, 'owner@globex.example', NEW_PASSWORD);
  });

  it("a link of zone A opened on zone B's host is refused, and still works on A's", async () => {
    const linkA = await subscribe(43, 'hooli');
    await subscribe(44, 'umbrella');
    const onB = new URL(linkA);
    onB.hostname = 'umbrella.auth.localhost';
    const browser = new ScriptedBrowser();
    expect((await browser.get(onB.href)).status).toBe(404);
    expect((await browser.get(linkA)).status).toBe(200);
  });

  it('an expired link is refused', async () => {
    await subscribe(45, 'soylent');
    const zone = (await gw.running.directory!.getZoneBySubdomain('soylent'))!;
    const owner = (await gw.running.directory!.getUserByName(zone.id, 'owner@soylent.example'))!;
    // Issued eight days ago with the default seven-day lifetime: the same store the zones read.
    const past = createInvitationStore(gw.running.storage, { now: () => Date.now() - 8 * 24 * 3600_000 });
    const { reference } = await past.issue({ zoneId: zone.id, userId: owner.id });
    const res = await new ScriptedBrowser().get(`http://soylent.auth.localhost:${gw.port}/invitation?code=${reference}`);
    expect(res.status).toBe(404);
  });

  it('a repeated subscription (the registry lost the answer) issues a new link and withdraws the old one', async () => {
    const old = await subscribe(46, 'cyberdyne');
    const fresh = await subscribe(46, 'cyberdyne');
    expect(fresh).not.toBe(old);
    expect((await new ScriptedBrowser().get(old)).status).toBe(404);
    expect((await new ScriptedBrowser().get(fresh)).status).toBe(200);
  });

  it('guessing is throttled: after ten refused submissions from an address, it is locked out', async () => {
    const link = await subscribe(47, 'tyrell');
    const browser = new ScriptedBrowser();
    const fields = hiddenFields((await browser.get(link)).text);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const guess = { ...fields, code: `${'g'.repeat(40)}${String(i).padStart(3, '0')}`, password: NEW_PASSWORD, password_confirmation: NEW_PASSWORD };
      statuses.push((await browser.post(new URL('/invitation', link).href, guess)).status);
    }
    expect(statuses.slice(0, 9).every((s) => s === 403)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
  });
});
