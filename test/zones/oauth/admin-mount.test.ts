/**
 * The directory's admin API mounted in the identity server: the server supplies `authenticate`, which
 * verifies a bearer token with the keys of the request's zone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { XsSecurity } from '../../../src/config/types.js';
import { Browser, REDIRECT, loginForCode, security, startZones, type Harness } from './harness.js';

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

  it('refuses a genuine token of another zone with 403 and a forged token with 401', async () => {
    const token = await aliceToken();
    expect((await h.call('globex', { path: '/Users', headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    const [head, body] = token.split('.');
    expect((await h.call('acme', { path: '/Users', headers: { authorization: `Bearer ${head}.${body}.AAAA` } })).status).toBe(401);
  });

  it('refuses an application that declares admin scopes (only the built-in admin client carries them)', async () => {
    const adminApp: XsSecurity = {
      ...security('zoneadmin'),
      scopes: [{ name: 'scim.write', grantedApps: [], grantAsAuthorityToApps: [] }],
      roleTemplates: [{ name: 'UserAdmin', scopeReferences: ['scim.write'], attributeReferences: [] }],
      roleCollections: [{ name: 'zoneadmin_UserAdmin', roleTemplateReferences: ['$XSAPPNAME.UserAdmin'] }],
      authorities: [],
    };
    await expect(h.directory.registerApplication(adminApp, h.provider.id)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
