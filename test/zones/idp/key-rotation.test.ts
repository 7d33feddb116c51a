/**
 * Issue 13: "the IdP's key rotation is followed". A real OpenID provider (oidc-provider) rotates its
 * signing key: it publishes a new key first in its JWKS and signs ID tokens with it. The zone, which
 * cached the IdP's key set at the first login, fetches it again when an ID token names a `kid` the
 * cache lacks, once the cached set is a minute old (oauth4webapi's bound, so that made-up `kid`s
 * cannot make the zone hammer the IdP). Until then the login is refused with a clear page, not taken
 * on a key the zone cannot check.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ADMIN_CLIENT_ID, ZONE_ADMIN_ROLE_COLLECTION } from '../../../src/zones/directory/admin-client.js';
import { ensureZone } from '../../../src/zones/start.js';
import { ScriptedBrowser, hiddenFields } from '../../support/browser.js';
import { startDemoGateway, type TestGateway } from '../../support/gateway.js';
import { signInAtIdp, startTestIdp, type TestIdp } from './oidc-idp.js';

const SUB = 'rotating';
const ORIGIN = 'corp-r';
const LOOPBACK = 'http://127.0.0.1:53682/callback';

let gw: TestGateway;
let idp: TestIdp;
const zoneUrl = () => `http://${SUB}.auth.localhost:${gw.port}`;
const appUrl = () => `http://${SUB}.localhost:${gw.port}`;

/** A zone administrator's token (the admin client, code flow with PKCE, the zone's login form). */
async function zoneAdminToken(zoneId: string): Promise<string> {
  const password = 'zone-admin-pass-1';
  await gw.running.directory!.createUser(zoneId, { userName: 'zone-admin', email: `admin@${SUB}.example`, password, roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const browser = new ScriptedBrowser();
  const query = new URLSearchParams({ response_type: 'code', client_id: ADMIN_CLIENT_ID, redirect_uri: LOOPBACK, code_challenge: challenge, code_challenge_method: 'S256', state: 's' });
  const page = await browser.get(`${zoneUrl()}/oauth/authorize?${query}`);
  const login = await browser.post(`${zoneUrl()}/login.do`, { ...hiddenFields(page.text), username: 'zone-admin', password });
  const code = new URL(String(login.headers.location)).searchParams.get('code')!;
  const { clientSecret } = gw.running.identity!.adminClient;
  const res = await browser.post(
    `${zoneUrl()}/oauth/token`,
    { grant_type: 'authorization_code', code, redirect_uri: LOOPBACK, code_verifier: verifier },
    { accept: 'application/json', authorization: `Basic ${Buffer.from(`${ADMIN_CLIENT_ID}:${clientSecret}`).toString('base64')}` },
  );
  expect(res.status, res.text).toBe(200);
  return res.json().access_token as string;
}

/** The whole login at the tenant through its IdP (the zone's page links to it); the last answer. */
async function logIn(browser: ScriptedBrowser) {
  const start = await browser.get(`${appUrl()}/api/whoami`);
  let zone = await browser.get(String(start.headers.location));
  if (zone.status === 200) {
    const href = /<a href="([^"]+)">Sign in with /.exec(zone.text)![1]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))).replace(/&amp;/g, '&');
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
  const token = await zoneAdminToken(zone.id);
  const added = await new ScriptedBrowser().request(`${zoneUrl()}/identity-providers`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
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
    }),
  });
  expect(added.status, added.text).toBe(201);
  // rita's group gives her the scope the demo's /api/ routes ask for.
  const mapped = await new ScriptedBrowser().request(`${zoneUrl()}/identity-providers/${added.json().id}/role-collection-mappings`, {
    method: 'PUT',
    headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify([{ group: 'staff', roleCollection: 'Demo Viewer' }]),
  });
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
