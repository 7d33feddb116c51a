/**
 * Issue 13 in a real browser: two tenants, each with its own real OpenID provider (oidc-provider on
 * port 0), configured by each tenant's zone administrator over the admin API. In Chromium, a user of
 * A's IdP logs in at tenant A and one of B's at tenant B, each through the zone's page, the IdP's
 * own forms and back; the backend sees each user's origin and the scopes mapped from the IdP's
 * groups. One browser holds both sessions, each on its own tenant only.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Zone } from '../../src/zones/directory/types.js';
import { ensureZone } from '../../src/zones/start.js';
import { launchChromium } from '../support/chromium.js';
import { startDemoGateway, type TestGateway } from '../support/gateway.js';
import { startTestIdp, type TestIdp } from '../zones/idp/oidc-idp.js';
import { adminCall, appUrl, zoneAdminToken, zoneUrl } from '../zones/idp/zone-admin.js';

let gw: TestGateway;
let chromium: Browser;
let instance: string;
const idps: Record<string, TestIdp> = {};
const zones: Record<string, Zone> = {};

/** Tenant `sub` gets its own IdP (origin `corp-<sub>`), its groups mapped to the demo's role collections. */
async function tenantWithIdp(sub: string, accounts: Parameters<typeof startTestIdp>[0]['accounts']): Promise<void> {
  const directory = gw.running.directory!;
  const application = (await directory.getApplicationByClientId(gw.running.credentials!.clientid))!;
  const zone = (zones[sub] = await ensureZone(directory, sub, `Tenant ${sub}`));
  await directory.subscribe(application, zone.id);
  const idp = (idps[sub] = await startTestIdp({
    clientId: `zone-${sub}`,
    clientSecret: `secret-of-${sub}-0123456789abcdef`,
    redirectUris: [`${zoneUrl(gw, sub)}/login/callback/corp-${sub}`],
    accounts,
  }));
  const { token } = await zoneAdminToken(gw, sub, zone);
  const created = await adminCall(gw, sub, token, 'POST', '/identity-providers', {
    type: 'oidc1.0',
    originKey: `corp-${sub}`,
    name: `Corporate ${sub}`,
    config: {
      discoveryUrl: `${idp.issuer}/.well-known/openid-configuration`,
      relyingPartyId: idp.clientId,
      relyingPartySecret: idp.clientSecret,
      scopes: ['openid', 'profile', 'email', 'groups'],
      attributeMappings: { user_name: 'preferred_username', external_groups: ['groups'] },
    },
  });
  expect(created.status, created.text).toBe(201);
  const mapped = await adminCall(gw, sub, token, 'PUT', `/identity-providers/${created.json().id}/role-collection-mappings`, [
    { group: 'admins', roleCollection: 'Demo Administrator' },
    { group: 'staff', roleCollection: 'Demo Viewer' },
  ]);
  expect(mapped.status, mapped.text).toBe(200);
}

/** From the tenant's protected page: the zone's page, its link to the IdP, the IdP's login and consent forms, back. */
async function logInThroughIdp(page: Page, sub: string, user: string): Promise<Record<string, any>> {
  const target = `${appUrl(gw, sub)}/api/whoami`;
  await page.goto(target);
  // The zone's page (it has its administrator, a local user): the link to the tenant's IdP.
  expect(new URL(page.url()).host).toBe(`${sub}.auth.localhost:${gw.port}`);
  await Promise.all([page.waitForURL((u) => u.origin === idps[sub]!.issuer), page.click(`text=Sign in with Corporate ${sub}`)]);
  await page.fill('input[name="login"]', user);
  await page.fill('input[name="password"]', 'any');
  await Promise.all([page.waitForURL((u) => u.origin !== idps[sub]!.issuer || u.pathname.startsWith('/interaction/')), page.click('button[type="submit"]')]);
  // oidc-provider's consent form, when it asks.
  if (new URL(page.url()).origin === idps[sub]!.issuer) {
    await Promise.all([page.waitForURL(target), page.click('button[type="submit"]')]);
  }
  await page.waitForURL(target);
  return JSON.parse((await page.textContent('body')) ?? '{}');
}

beforeAll(async () => {
  gw = await startDemoGateway();
  instance = (await gw.running.directory!.getApplicationByClientId(gw.running.credentials!.clientid))!.instanceName;
  await tenantWithIdp('corpa', { alice: { email: 'alice@a.example', givenName: 'Alice', groups: ['admins'] } });
  await tenantWithIdp('corpb', { bob: { email: 'bob@b.example', givenName: 'Bob', groups: ['staff'] } });
  chromium = await launchChromium();
}, 90_000);

afterAll(async () => {
  await chromium?.close();
  for (const idp of Object.values(idps)) await idp.stop();
  await gw?.stop();
});

describe('Chromium: two tenants, each logging in through its own OpenID provider', () => {
  it("A's user at tenant A and B's user at tenant B, each with the origin and the scopes its IdP's groups map to", async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();

    const a = await logInThroughIdp(page, 'corpa', 'alice');
    expect(a.jwt.claims).toMatchObject({ origin: 'corp-corpa', user_name: 'alice', email: 'alice@a.example', zid: zones.corpa!.id });
    expect(a.jwt.claims.scope).toContain(`${instance}.Admin`);

    // The same browser at tenant B: A's session does not carry over; B's zone, B's IdP.
    const b = await logInThroughIdp(page, 'corpb', 'bob');
    expect(b.jwt.claims).toMatchObject({ origin: 'corp-corpb', user_name: 'bob', zid: zones.corpb!.id });
    expect(b.jwt.claims.scope).toContain(`${instance}.Viewer`);
    expect(b.jwt.claims.scope).not.toContain(`${instance}.Admin`);

    // Both sessions stay, each on its own tenant.
    await page.goto(`${appUrl(gw, 'corpa')}/api/whoami`);
    expect(JSON.parse((await page.textContent('body')) ?? '{}').jwt.claims.user_name).toBe('alice');
    await context.close();
  }, 90_000);
});
