import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS } from '../../src/demo/demo.js';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { startDemoGateway, type TestGateway } from '../support/gateway.js';

/**
 * Issue 9: the built-in zones take the client's address from X-Forwarded-For only when the peer is one
 * of TRUSTED_PROXIES, as the gateway does. Through the production assembly (startGateway reads
 * TRUSTED_PROXIES and hands it to the zones), because that is where the setting was mistranslated:
 * any listed address made every peer's header believed.
 */
describe('the zones in the gateway believe X-Forwarded-For only from TRUSTED_PROXIES', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startDemoGateway({
      // A proxy stands in front, but the test client (127.0.0.1) is not it.
      TRUSTED_PROXIES: '192.0.2.10',
    });
  });
  afterAll(() => gw.stop());

  async function guess(userName: string, password: string, claimedAddress: string): Promise<number> {
    const browser = new ScriptedBrowser();
    const start = await browser.get(`http://acme.localhost:${gw.port}/api/whoami`);
    const page = await browser.get(String(start.headers.location));
    expect(page.status).toBe(200);
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: userName, password }, { 'x-forwarded-for': claimedAddress });
    return form.status;
  }

  it('attack: a client rotating X-Forwarded-For stays under the lock of its real address', async () => {
    const statuses: number[] = [];
    // The default limit is 10 per address; another user name and another claimed address each time.
    for (let i = 0; i < 11; i++) statuses.push(await guess(`nobody-${i}`, 'wrong-password', `203.0.113.${i}`));
    expect(statuses).toEqual([...Array<number>(9).fill(401), 429, 429]);
    const admin = DEMO_USERS[0];
    expect(await guess(admin.userName, admin.password, '198.51.100.99')).toBe(429);
  }, 30_000);
});
