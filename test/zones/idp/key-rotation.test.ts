/**
 * Issue 13: "the IdP's key rotation is followed". A real OpenID provider (oidc-provider) rotates its
 * signing key: it publishes a new key first in its JWKS and signs ID tokens with it. The zone, which
 * cached the IdP's key set at the first login, fetches it again when an ID token names a `kid` the
 * cache lacks, once the cached set is a minute old (oauth4webapi's bound, so that made-up `kid`s
 * cannot make the zone hammer the IdP). Until then the login is refused with a clear page, not taken
 * on a key the zone cannot check.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureZone } from '../../../src/zones/start.js';
import { ScriptedBrowser } from '../../support/browser.js';
import { startDemoGateway, type TestGateway } from '../../support/gateway.js';
import { signInAtIdp, startTestIdp, type TestIdp } from './oidc-idp.js';
import { adminCall, unescapeHtml, zoneAdminToken } from './zone-admin.js';

const SUB = 'rotating';
const ORIGIN = 'corp-r';

let gw: TestGateway;
let idp: TestIdp;
const zoneUrl = () => `http://${SUB}.auth.localhost:${gw.port}`;
const appUrl = () => `http://${SUB}.localhost:${gw.port}`;

/** The whole login at the tenant through its IdP (the zone's page links to it); the last answer. */
async function logIn(browser: ScriptedBrowser) {
  const start = await browser.get(`${appUrl()}/api/whoami`);
  let zone = await browser.get(String(start.headers.location));
  if (zone.status === 200) {
    const href = unescapeHtml(/<a href="([^"]+)">Sign in with /.exec(zone.text)![1]!);
    zone = await browser.get(new URL(href, zone.url).href);
  }
  expect(zone.status, zone.text.slice(0, 300)).toBe(302);
  const callback = await signInAtIdp(browser, idp, String(zone.headers.location), 'rita');
  return browser.follow(await browser.get(callback.href));
}

beforeAll(async () => {
  gw = await startDemoGateway();
  const directory = gw.running.directory!;
  const application = (await directory.getApplicationByClientId(gw.running.credentials!.clientid))!;
  const zone = await ensureZone(directory, SUB, 'Rotating');
  await directory.subscribe(application, zone.id);
  idp = await startTestIdp({
    clientId: 'zone-rotating',
    clientSecret: 'secret-of-the-rotating-zone-0123',
    redirectUris: [`${zoneUrl()}/login/callback/${ORIGIN}`],
    accounts: { rita: { email: 'rita@r.example', groups: ['staff'] } },
  });
  const { token } = await zoneAdminToken(gw, SUB, zone);
  const added = await adminCall(gw, SUB, token, 'POST', '/identity-providers', {
    type: 'oidc1.0',
    originKey: ORIGIN,
    name: 'Rotating Corp',
    config: {
      discoveryUrl: `${idp.issuer}/.well-known/openid-configuration`,
      relyingPartyId: idp.clientId,
      relyingPartySecret: idp.clientSecret,
      scopes: ['openid', 'profile', 'email', 'groups'],
      attributeMappings: { user_name: 'preferred_username', external_groups: ['groups'] },
    },
  });
  expect(added.status, added.text).toBe(201);
  // rita's group gives her the scope the demo's /api/ routes ask for.
  const mapped = await adminCall(gw, SUB, token, 'PUT', `/identity-providers/${added.json().id}/role-collection-mappings`, [{ group: 'staff', roleCollection: 'Demo Viewer' }]);
  expect(mapped.status, mapped.text).toBe(200);
}, 60_000);

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  await idp?.stop();
  await gw?.stop();
});

describe("the IdP's signing key rotation", () => {
  it('is followed: refused while the cached key set is fresh, taken once it is a minute old', async () => {
    const first = await logIn(new ScriptedBrowser());
    expect(first.status, first.text.slice(0, 300)).toBe(200);
    expect(first.json().jwt.claims.origin).toBe(ORIGIN);
    const oldKid = idp.signingKid;

    await idp.rotateKeys();
    expect(idp.signingKid).not.toBe(oldKid);
    // At once: the ID token names a kid the zone's cached key set (fetched just now) lacks.
    const refused = await logIn(new ScriptedBrowser());
    expect(refused.status).toBe(401);
    expect(refused.headers['x-zonegate-error']).toBe('ZG_ERR_LOGIN_FAILED');
    expect(refused.text).toContain('could not be verified');

    // A minute later (only Date moves: the servers' timers run as they are), the set is fetched again.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61_000 });
    const followed = await logIn(new ScriptedBrowser());
    expect(followed.status, followed.text.slice(0, 300)).toBe(200);
    expect(followed.json().jwt.claims).toMatchObject({ origin: ORIGIN, user_name: 'rita' });
  }, 60_000);
});
