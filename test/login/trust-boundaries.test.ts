/**
 * Issue 9, trust boundaries on the gateway side, over real HTTP: the identity zones, the gateway and
 * the echo backend of the login stack, tokens obtained from the zones as their clients would.
 *
 * - A token must have been issued for this application (xssec's audience rule, REFERENCE.md §3): the
 *   zone's built-in admin client and other applications of the same zone hold valid tokens of the
 *   tenant's zone, and none of them may pass as a user of this application.
 * - A client-credentials token is no user: the user API refuses it, route scopes still apply.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_CLIENT_ID, ZONE_ADMIN_ROLE_COLLECTION } from '../../src/zones/directory/admin-client.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';
import { Browser, formFields, loginForCode, pkce, PASSWORD, REDIRECT } from '../zones/oauth/harness.js';

let stack: LoginStack;
beforeAll(async () => {
  stack = await startLoginStack();
});
afterAll(() => stack.close());

const api = { accept: 'application/json' };
const bearer = (token: string) => ({ ...api, authorization: `Bearer ${token}` });

/** A client-credentials token of the tenant's zone for the given client. */
async function clientToken(tenant: string, client: { id: string; secret: string }): Promise<string> {
  const res = await stack.zones.token(tenant, { grant_type: 'client_credentials' }, client);
  expect(res.status, res.text).toBe(200);
  return res.json<{ access_token: string }>().access_token;
}

/** What an admin tool does (`zonegate zones admin-client`): code flow with PKCE for the built-in admin client. */
async function adminClientToken(tenant: string, userName: string): Promise<string> {
  const loopback = 'http://127.0.0.1:53682/callback';
  const { verifier, challenge } = pkce();
  const browser = new Browser({ call: stack.zones.call });
  const query = new URLSearchParams({ response_type: 'code', state: 'st', client_id: ADMIN_CLIENT_ID, redirect_uri: loopback, code_challenge: challenge, code_challenge_method: 'S256' });
  const page = await browser.get(tenant, `/oauth/authorize?${query.toString()}`);
  expect(page.status, page.text.slice(0, 300)).toBe(200);
  const back = await browser.post(tenant, '/login.do', { ...formFields(page.text), username: userName, password: PASSWORD });
  expect(back.status, back.text.slice(0, 300)).toBe(302);
  const code = new URL(back.headers.location!).searchParams.get('code')!;
  const res = await stack.zones.token(
    tenant,
    { grant_type: 'authorization_code', code, redirect_uri: loopback, code_verifier: verifier },
    { id: ADMIN_CLIENT_ID, secret: stack.zones.server.adminClient.clientSecret },
  );
  expect(res.status, res.text).toBe(200);
  return res.json<{ access_token: string }>().access_token;
}

describe('audience: only tokens issued for this application (xssec rule, REFERENCE.md §3)', () => {
  it("refuses a token of the zone's built-in admin client on a scope-less protected route (401 invalid_token, JSON)", async () => {
    const { directory, acme } = stack.zones;
    await directory.createUser(acme.id, { userName: 'acme-admin', email: 'admin@acme.example', password: PASSWORD, roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
    const token = await adminClientToken('acme', 'acme-admin');
    // A valid token of acme's zone: right keys, right zone, a real user (with scim.* scopes).
    expect(decodeJwt(token)).toMatchObject({ cid: ADMIN_CLIENT_ID, zid: acme.id, user_name: 'acme-admin', ext_attr: { zdn: 'acme' } });
    const res = await new ScriptedBrowser().get(`${stack.base('acme')}/nocsrf/admin-reads-this`, bearer(token));
    expect(res.status).toBe(401);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_UNAUTHENTICATED');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toMatchObject({ error: { code: 'ZG_ERR_UNAUTHENTICATED' } });
    // Nor may it read the user API as that user.
    expect((await new ScriptedBrowser().get(`${stack.base('acme')}/user-api/currentUser`, bearer(token))).status).toBe(401);
  });

  it("refuses tokens another application of the same zone holds: its client's token and its users' tokens", async () => {
    const other = { id: stack.zones.app.clientId, secret: stack.zones.secret };
    const cc = await clientToken('acme', other);
    // Alice logs in to the other application; that application must not replay her token here.
    const { code } = await loginForCode(stack.zones, new Browser({ call: stack.zones.call }), 'acme', { userName: 'alice' });
    const exchanged = await stack.zones.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT }, other);
    expect(exchanged.status, exchanged.text).toBe(200);
    const user = exchanged.json<{ access_token: string }>().access_token;
    expect(decodeJwt(user)).toMatchObject({ cid: other.id, user_name: 'alice' });
    for (const token of [cc, user]) {
      const res = await new ScriptedBrowser().get(`${stack.base('acme')}/nocsrf/x`, bearer(token));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    }
  });

  it("still accepts this application's own tokens: a user's and its client's", async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice');
    const userToken = String((await browser.get(`${stack.base('acme')}/api/x`)).json().headers.authorization).replace(/^Bearer /, '');
    const own = await clientToken('acme', { id: stack.app.clientId, secret: stack.secret });
    for (const token of [userToken, own]) {
      const res = await new ScriptedBrowser().get(`${stack.base('acme')}/nocsrf/x`, bearer(token));
      expect(res.status, res.text).toBe(200);
    }
  });
});

describe('client-credentials tokens are no user', () => {
  it('the user API answers 403 to a client-credentials token of this application, 200 to a user token', async () => {
    const own = await clientToken('acme', { id: stack.app.clientId, secret: stack.secret });
    expect(decodeJwt(own)).toMatchObject({ grant_type: 'client_credentials' });
    for (const path of ['/user-api/currentUser', '/user-api/attributes']) {
      const res = await new ScriptedBrowser().get(stack.base('acme') + path, bearer(own));
      expect(res.status).toBe(403);
      expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_FORBIDDEN');
      expect(res.json().error.message).toMatch(/user/i);
    }
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'bob');
    const userToken = String((await browser.get(`${stack.base('acme')}/api/x`)).json().headers.authorization).replace(/^Bearer /, '');
    const me = await new ScriptedBrowser().get(`${stack.base('acme')}/user-api/currentUser`, bearer(userToken));
    expect(me.status).toBe(200);
    expect(me.json()).toMatchObject({ name: 'bob' });
  });

  it("a route's scope must be among the client's authorities (its token's scope)", async () => {
    const own = await clientToken('acme', { id: stack.app.clientId, secret: stack.secret });
    // The application's authorities are only $XSAPPNAME.Callback: not Viewer, not Admin.
    expect(decodeJwt(own).scope).toEqual([`${stack.app.instanceName}.Callback`]);
    const viewer = await new ScriptedBrowser().get(`${stack.base('acme')}/api/x`, bearer(own));
    expect(viewer.status).toBe(403);
    expect(viewer.headers['x-zonegate-error']).toBe('ZG_ERR_FORBIDDEN');
    const admin = await new ScriptedBrowser().request(`${stack.base('acme')}/admin/x`, { method: 'POST', headers: bearer(own) });
    expect(admin.status).toBe(403);
  });
});

describe('method override headers never reach a backend', () => {
  const overrides = { 'x-http-method-override': 'DELETE', 'x-http-method': 'DELETE', 'x-method-override': 'DELETE' };

  it('on public and on protected routes: the backend sees the method the gateway decided on', async () => {
    const own = await clientToken('acme', { id: stack.app.clientId, secret: stack.secret });
    for (const [path, headers] of [
      ['/public/orders/1', api],
      ['/nocsrf/orders/1', bearer(own)],
    ] as const) {
      const res = await new ScriptedBrowser().request(`${stack.base('acme')}${path}`, { method: 'POST', headers: { ...headers, ...overrides }, body: '{}' });
      expect(res.status, res.text).toBe(200);
      const seen = res.json<{ method: string; headers: Record<string, string> }>();
      expect(seen.method).toBe('POST');
      for (const name of Object.keys(overrides)) expect(seen.headers[name]).toBeUndefined();
    }
  });
});
