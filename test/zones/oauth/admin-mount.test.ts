/**
 * The directory's admin API mounted in the identity server: the server supplies `authenticate`, which
 * verifies a bearer token with the keys of the request's zone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { XsSecurity } from '../../../src/config/types.js';
import { Browser, PASSWORD, REDIRECT, formFields, loginForCode, security, startZones, type Harness } from './harness.js';

const BOOTSTRAP = 'bootstrap-secret-0123456789';
let h: Harness;
beforeAll(async () => {
  h = await startZones({ bootstrapSecret: BOOTSTRAP });
});
afterAll(async () => {
  await h?.close();
});

const basic = `Basic ${Buffer.from(`admin:${BOOTSTRAP}`).toString('base64')}`;

async function aliceToken(): Promise<string> {
  const { code } = await loginForCode(h, new Browser(h), 'acme', { userName: 'alice' });
  return (await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json().access_token;
}

describe('admin API inside the identity server', () => {
  it('accepts the bootstrap credential on a zone host and on the bare uaadomain', async () => {
    const users = await h.call('acme', { path: '/Users', headers: { authorization: basic } });
    expect(users.status).toBe(200);
    expect(JSON.stringify(users.json())).toContain('alice');
    expect((await h.call(undefined, { path: '/identity-zones', headers: { authorization: basic } })).status).toBe(200);
  });

  it('verifies bearer tokens with the zone\'s keys: a good token without admin scopes is 403, not 401', async () => {
    const token = await aliceToken();
    const res = await h.call('acme', { path: '/Users', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
  });

  it('refuses a token of another zone and a forged token with 401', async () => {
    const token = await aliceToken();
    expect((await h.call('globex', { path: '/Users', headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    const [head, body] = token.split('.');
    expect((await h.call('acme', { path: '/Users', headers: { authorization: `Bearer ${head}.${body}.AAAA` } })).status).toBe(401);
  });

  it('lets a zone administrator whose token carries scim.write create a user', async () => {
    const adminApp: XsSecurity = {
      ...security('zoneadmin'),
      scopes: [{ name: 'scim.write', grantedApps: [], grantAsAuthorityToApps: [] }],
      roleTemplates: [{ name: 'UserAdmin', scopeReferences: ['scim.write'], attributeReferences: [] }],
      roleCollections: [{ name: 'zoneadmin_UserAdmin', roleTemplateReferences: ['$XSAPPNAME.UserAdmin'] }],
      authorities: [],
    };
    const { application, clientSecret } = await h.directory.registerApplication(adminApp, h.provider.id);
    await h.directory.subscribe(application, h.acme.id);
    const admin = await h.directory.createUser(h.acme.id, { userName: 'useradmin', email: 'ua@acme.example', password: PASSWORD, roleCollections: ['zoneadmin_UserAdmin'] });
    expect(admin.roleCollections).toEqual(['zoneadmin_UserAdmin']);
    const browser = new Browser(h);
    const page = await browser.get('acme', `/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: application.clientId, redirect_uri: REDIRECT }).toString()}`);
    const login = await browser.post('acme', '/login.do', { ...formFields(page.text), username: 'useradmin', password: PASSWORD });
    const code = new URL(login.headers.location!).searchParams.get('code')!;
    const { access_token, scope } = (await h.token('acme', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }, { id: application.clientId, secret: clientSecret })).json();
    expect(scope.split(' ')).toContain('scim.write');
    const created = await h.call('acme', {
      method: 'POST',
      path: '/Users',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userName: 'newbie', emails: [{ value: 'newbie@acme.example' }], password: 'newbie-pass-1' }),
    });
    expect(created.status).toBe(201);
    expect(await h.directory.getUserByName(h.acme.id, 'newbie')).toBeDefined();
  });
});
