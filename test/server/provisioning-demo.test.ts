/**
 * `npm start`'s demo tenants go through provisioning (issue 5): subscribed by the same service as
 * the registry's callbacks, idempotently across restarts, adopting zones that an earlier version of
 * the demo created directly in the directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TENANTS, DEMO_USERS, seedDemoZones } from '../../src/demo/demo.js';
import { BASE_ENV, logIn, ROOT, ROUTES } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

describe('demo tenants through provisioning', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': fs.readFileSync(path.join(ROOT, 'xs-security.json'), 'utf8') },
      destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
      env: BASE_ENV,
    });
  });
  afterAll(() => gw?.stop());

  it('adopts the zones of a directly seeded demo, then is idempotent: same zones, same users, tenants listed', async () => {
    const { directory, credentials, provisioning } = gw.running;
    // As the demo did before provisioning existed: zones made and subscribed in the directory.
    await seedDemoZones(directory!, credentials!.clientid);
    const before = await Promise.all(DEMO_TENANTS.map((t) => directory!.getZoneBySubdomain(t)));

    await seedDemoZones(directory!, credentials!.clientid, provisioning);
    await seedDemoZones(directory!, credentials!.clientid, provisioning);
    const after = await Promise.all(DEMO_TENANTS.map((t) => directory!.getZoneBySubdomain(t)));
    expect(after.map((z) => z?.id)).toEqual(before.map((z) => z?.id));
    for (const zone of after) expect((await directory!.listUsers(zone!.id)).map((u) => u.userName).sort()).toEqual(['admin', 'viewer']);

    const tenants = await provisioning!.listTenants();
    expect(tenants.map((t) => [t.subdomain, t.url])).toEqual(DEMO_TENANTS.map((t) => [t, `http://${t}.localhost:${gw.port}`]));
    // Provisioning's record marks them as its own: subscribed through the service, not just in the directory.
    expect(tenants.every((t) => typeof t.subscribedAt === 'string')).toBe(true);

    const browser = new ScriptedBrowser();
    await logIn(browser, `http://globex.localhost:${gw.port}`, DEMO_USERS[0].userName, DEMO_USERS[0].password);
    const whoami = await browser.get(`http://globex.localhost:${gw.port}/api/whoami`, { accept: 'application/json' });
    expect(whoami.status).toBe(200);
    // The README's walkthrough: the scopes and the zone readable in /api/whoami, no JWT to decode by hand.
    const { jwt } = JSON.parse(whoami.text) as { jwt: { header: { alg: string }; claims: { scope: string[]; zid: string; user_name: string } } };
    expect(jwt.header.alg).toBe('RS256');
    expect(jwt.claims.scope).toEqual(expect.arrayContaining([expect.stringMatching(/^zonegate-demo!t\d+\.Admin$/)]));
    expect(jwt.claims.zid).toBe(after[1]!.id);
    expect(jwt.claims.user_name).toBe('admin');
  });
});
