import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { createMemoryLogger } from '../../src/log.js';
import { ProvisioningError } from '../../src/provisioning/errors.js';
import { createProvisioning } from '../../src/provisioning/service.js';
import { createTenantRegistry } from '../../src/provisioning/registry.js';
import { Browser, REDIRECT, loginForCode, startZones, type Harness } from '../zones/oauth/harness.js';
import { guid, provisioningFor, tenantUrlFor } from './support.js';

let h: Harness;
beforeAll(async () => {
  h = await startZones();
});
afterAll(async () => {
  await h?.close();
});

async function rejection(p: Promise<unknown>): Promise<ProvisioningError> {
  const err = await p.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  if (!(err instanceof ProvisioningError)) throw err;
  return err;
}

describe('subscribe', () => {
  it('creates the zone under the tenant id, subscribes the app and makes the subscriber its administrator', async () => {
    const p = provisioningFor(h);
    const result = await p.subscribe({
      tenantId: guid(1).toUpperCase(),
      subdomain: 'Initech',
      userInfo: { userName: 'peter@initech.example', givenName: 'Peter', familyName: 'Gibbons', origin: 'initech-idp' },
    });
    expect(result).toEqual({ url: 'https://initech.app.example.com', tenantId: guid(1), subdomain: 'initech', created: true, admin: { userName: 'peter@initech.example', created: true } });
    const zone = await h.directory.getZone(guid(1));
    expect(zone?.subdomain).toBe('initech');
    expect(await h.directory.isClientAllowedInZone(h.app, guid(1))).toBe(true);
    expect((await h.directory.listRoleCollections(guid(1))).map((c) => c.name)).toEqual(['myapp_Administrator', 'myapp_Viewer']);
    const admin = await h.directory.getUserByName(guid(1), 'peter@initech.example');
    expect(admin).toMatchObject({ email: 'peter@initech.example', origin: 'initech-idp', roleCollections: ['myapp_Administrator'], givenName: 'Peter' });
    // The administrator's token in the new zone carries the app's Admin scope with that zone's zid.
    expect(await h.directory.userScopes(h.app, admin!)).toEqual(['openid', 'myapp!t1.Admin', 'myapp!t1.Viewer']);
    // No password came with the registry's userInfo: the user cannot log in with one.
    expect(await h.directory.verifyPassword(guid(1), 'peter@initech.example', '')).toBeUndefined();
  });

  it('is idempotent: the same subscription again changes nothing and answers the same', async () => {
    const p = provisioningFor(h);
    const input = { tenantId: guid(2), subdomain: 'hooli', userInfo: { userName: 'gavin', email: 'gavin@hooli.example' }, globalAccountId: 'ga-1' };
    const first = await p.subscribe(input);
    const userBefore = await h.directory.getUserByName(guid(2), 'gavin');
    const listedBefore = (await p.listTenants()).find((t) => t.tenantId === guid(2));
    const second = await p.subscribe(input);
    expect(second).toEqual({ ...first, created: false, admin: { userName: 'gavin', created: false } });
    expect(second.url).toBe(first.url);
    expect(await h.directory.getUserByName(guid(2), 'gavin')).toEqual(userBefore);
    expect((await p.listTenants()).find((t) => t.tenantId === guid(2))).toEqual(listedBefore);
    expect(await h.directory.listUsers(guid(2))).toHaveLength(1);
  });

  it('UPDATE restores the administrator role collection; CREATE repeated does not touch it', async () => {
    const p = provisioningFor(h);
    const input = { tenantId: guid(3), subdomain: 'umbrella', userInfo: { userName: 'alice@umbrella.example' } };
    await p.subscribe(input);
    const user = (await h.directory.getUserByName(guid(3), 'alice@umbrella.example'))!;
    await h.directory.unassignRoleCollection(guid(3), user.id, 'myapp_Administrator');
    await p.subscribe(input);
    expect((await h.directory.getUser(guid(3), user.id))!.roleCollections).toEqual([]);
    await p.subscribe({ ...input, eventType: 'UPDATE' });
    expect((await h.directory.getUser(guid(3), user.id))!.roleCollections).toEqual(['myapp_Administrator']);
    const tenant = (await p.listTenants()).find((t) => t.tenantId === guid(3))!;
    expect(tenant.updatedAt! >= tenant.subscribedAt!).toBe(true);
  });

  it('refuses a subdomain another tenant holds with a coded 409 and a clear message, leaving no trace', async () => {
    const p = provisioningFor(h);
    await p.subscribe({ tenantId: guid(4), subdomain: 'wayne' });
    const err = await rejection(p.subscribe({ tenantId: guid(5), subdomain: 'wayne' }));
    expect(err).toMatchObject({ code: 'ZG_ERR_TENANT_SUBDOMAIN_TAKEN', status: 409 });
    expect(err.message).toContain('"wayne" is already used by another tenant');
    expect(await h.directory.getZone(guid(5))).toBeUndefined();
    expect((await p.listTenants()).map((t) => t.tenantId)).not.toContain(guid(5));
    // A zone that is no tenant (here the harness's "stranger") holds its subdomain just the same.
    expect(await rejection(p.subscribe({ tenantId: guid(6), subdomain: 'stranger' }))).toMatchObject({ code: 'ZG_ERR_TENANT_SUBDOMAIN_TAKEN' });
  });

  it('refuses a subdomain change of a subscribed tenant, and the provider subscribing to itself', async () => {
    const p = provisioningFor(h);
    await p.subscribe({ tenantId: guid(7), subdomain: 'cyberdyne' });
    expect(await rejection(p.subscribe({ tenantId: guid(7), subdomain: 'skynet' }))).toMatchObject({ code: 'ZG_ERR_TENANT_CONFLICT', status: 409 });
    expect(await h.directory.getZoneBySubdomain('skynet')).toBeUndefined();
    expect(await rejection(p.subscribe({ tenantId: h.provider.id, subdomain: 'provider' }))).toMatchObject({ code: 'ZG_ERR_TENANT_CONFLICT' });
    expect(await rejection(p.unsubscribe(h.provider.id))).toMatchObject({ code: 'ZG_ERR_TENANT_CONFLICT' });
    expect(await h.directory.getZone(h.provider.id)).toBeDefined();
  });

  it('answers invalid input with 400s that name the problem', async () => {
    const p = provisioningFor(h);
    expect(await rejection(p.subscribe({ tenantId: 'not a guid', subdomain: 'x' }))).toMatchObject({ code: 'ZG_ERR_TENANT_INVALID', status: 400 });
    const label = await rejection(p.subscribe({ tenantId: guid(8), subdomain: 'a.b' }));
    expect(label.message).toContain('not a DNS label');
    expect(await rejection(p.subscribe({ tenantId: guid(8), subdomain: 'ok', eventType: 'DELETE' as never }))).toMatchObject({ status: 400 });
    const email = await rejection(p.subscribe({ tenantId: guid(8), subdomain: 'okay', userInfo: { userName: 'x', email: 'not-an-email' } }));
    expect(email.message).toContain('e-mail');
    expect(await rejection(p.unsubscribe('../etc'))).toMatchObject({ code: 'ZG_ERR_TENANT_INVALID' });
  });

  // Issue 11: provisioning had its own copy of the directory's user rules, laxer than the directory's;
  // a subscriber the directory then refused left a zone without its administrator.
  it("refuses up front a subscriber the directory would refuse, and creates no zone for it", async () => {
    const p = provisioningFor(h);
    for (const [n, userInfo] of [
      [30, { userName: ' bob', email: 'bob@acme.example' }],
      [31, { userName: 'bob', email: `${'b'.repeat(243)}@acme.example` }],
      [32, { userName: 'bob', email: 'bob@acme.example', givenName: '' }],
    ] as const) {
      const err = await rejection(p.subscribe({ tenantId: guid(n), subdomain: `refused${n}`, userInfo }));
      expect(err, JSON.stringify(userInfo)).toMatchObject({ code: 'ZG_ERR_TENANT_INVALID', status: 400 });
      expect(await h.directory.getZone(guid(n))).toBeUndefined();
    }
  });

  it('creates no administrator without an e-mail address, and says so in the log', async () => {
    const p = provisioningFor(h);
    const result = await p.subscribe({ tenantId: guid(9), subdomain: 'soylent', userInfo: { userName: 'nobody' } });
    expect(result.admin).toBeUndefined();
    expect(await h.directory.listUsers(guid(9))).toEqual([]);
    expect(p.logLines.some((l) => l.includes('no administrator created'))).toBe(true);
  });

  it('refuses a dedicated application and an administrator role collection the app does not have, at construction', () => {
    const base = { directory: h.directory, records: h.records, storage: h.storage, tenantUrlFor, deleteZoneKeys: (zoneId: string) => h.server.keys.deleteKeys(zoneId), logger: createMemoryLogger() };
    expect(() => createProvisioning({ ...base, application: h.pwdApp, adminRoleCollection: 'pwdapp_Administrator' })).toThrow(/shared/);
    expect(() => createProvisioning({ ...base, application: h.app, adminRoleCollection: 'Nope' })).toThrow(/"Nope" is not one of myapp/);
  });
});

describe('unsubscribe', () => {
  it('removes the zone, its users, keys and sessions; a repeat and an unknown tenant are no-ops', async () => {
    const revoked: string[] = [];
    const p = provisioningFor(h, { revokeTenantSessions: async (s) => void revoked.push(s) });
    const registry = createTenantRegistry({ directory: h.directory, application: h.app, ttlMs: 0 });
    await p.subscribe({ tenantId: guid(20), subdomain: 'vandelay', userInfo: { userName: 'art@vandelay.example' } });
    expect(await registry.isSubscribed('vandelay')).toBe(true);
    const oldKid = (await h.server.keys.signingKey(guid(20))).kid;

    expect(await p.unsubscribe(guid(20))).toEqual({ removed: true, subdomain: 'vandelay' });
    expect(await registry.isSubscribed('vandelay')).toBe(false);
    expect(await h.directory.getZone(guid(20))).toBeUndefined();
    expect(await h.directory.getUserByName(guid(20), 'art@vandelay.example')).toBeUndefined();
    expect((await h.server.keys.tokenKeys(guid(20))).map((k) => k.kid)).not.toContain(oldKid);
    expect(revoked).toEqual(['vandelay']);
    expect((await p.listTenants()).map((t) => t.subdomain)).not.toContain('vandelay');
    // The subdomain is free again.
    expect(await h.directory.getZoneBySubdomain('vandelay')).toBeUndefined();

    expect(await p.unsubscribe(guid(20))).toEqual({ removed: false });
    expect(await p.unsubscribe(guid(21))).toEqual({ removed: false });
    expect(revoked).toEqual(['vandelay']);
  });

  it('never deletes a zone that is not a tenant of the application', async () => {
    const p = provisioningFor(h);
    expect(await p.unsubscribe(h.stranger.id)).toEqual({ removed: false });
    expect(await h.directory.getZone(h.stranger.id)).toBeDefined();
  });

  it('finishes a half-done unsubscription when the registry repeats it (sessions revoked on the retry)', async () => {
    let fail = true;
    const revoked: string[] = [];
    const p = provisioningFor(h, {
      revokeTenantSessions: async (s) => {
        if (fail) throw new Error('session store down');
        revoked.push(s);
      },
    });
    await p.subscribe({ tenantId: guid(22), subdomain: 'pendant' });
    await expect(p.unsubscribe(guid(22))).rejects.toThrow('session store down');
    // The zone is already gone (its host refuses), but the record remembers the sessions are not.
    expect(await h.directory.getZone(guid(22))).toBeUndefined();
    fail = false;
    expect(await p.unsubscribe(guid(22))).toEqual({ removed: true, subdomain: 'pendant' });
    expect(revoked).toEqual(['pendant']);
    expect(await p.unsubscribe(guid(22))).toEqual({ removed: false });
  });

  it('leaves nothing usable: subscribe → log in → unsubscribe → host 404, code and refresh token refused, even after re-subscription', async () => {
    const p = provisioningFor(h);
    const id = guid(30);
    await p.subscribe({ tenantId: id, subdomain: 'kramerica', userInfo: { userName: 'cosmo', email: 'cosmo@kramerica.example' }, adminPassword: 'giddy-up-123' });

    // Log in at the new zone within the same second, the way a browser does.
    const browser = new Browser(h);
    const first = await loginForCode(h, browser, 'kramerica', { userName: 'cosmo', password: 'giddy-up-123' });
    const tokens = (await h.token('kramerica', { grant_type: 'authorization_code', code: first.code!, redirect_uri: REDIRECT })).json();
    expect(decodeJwt(tokens.access_token)).toMatchObject({ zid: id, ext_attr: { zdn: 'kramerica' }, scope: ['openid', 'myapp!t1.Admin', 'myapp!t1.Viewer'] });
    const pending = await loginForCode(h, browser, 'kramerica', { userName: 'cosmo', password: 'giddy-up-123' }); // silent SSO: an unredeemed code
    expect(pending.code).toMatch(/^[\w-]{32,}$/);
    const oldKid = (await h.server.keys.tokenKeys(id))[0]!.kid;

    await p.unsubscribe(id);

    expect((await h.call('kramerica', { path: '/.well-known/openid-configuration' })).status).toBe(404);
    const refreshAtHost = await h.token('kramerica', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshAtHost.status).toBe(404);
    const refreshByZid = await h.token(undefined, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, undefined, { 'x-zid': id });
    expect(refreshByZid.status).toBe(400);
    expect((await h.call(undefined, { path: `/token_keys?zid=${id}` })).status).toBe(400);

    // The same tenant subscribes again: a fresh zone, fresh users, fresh keys. Nothing old works there.
    await p.subscribe({ tenantId: id, subdomain: 'kramerica', userInfo: { userName: 'cosmo', email: 'cosmo@kramerica.example' }, adminPassword: 'giddy-up-123' });
    const reused = await h.token('kramerica', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(reused.status).toBe(400);
    expect(reused.json().error).toBe('invalid_grant');
    const code = await h.token('kramerica', { grant_type: 'authorization_code', code: pending.code!, redirect_uri: REDIRECT });
    expect(code.status).toBe(400);
    expect(code.json().error).toBe('invalid_grant');
    // The old SSO cookie logs nobody in: the form is shown again.
    const again = await browser.get('kramerica', `/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: h.app.clientId, redirect_uri: REDIRECT }).toString()}`);
    expect(again.status).toBe(200);
    // The old access token no longer verifies (its signing key is gone), at the zone and for the gateway.
    expect((await h.server.keys.tokenKeys(id)).map((k) => k.kid)).not.toContain(oldKid);
    const zone = (await h.directory.getZone(id))!;
    expect(await h.server.authenticateToken(zone, tokens.access_token)).toBeUndefined();
    const userinfo = await h.call('kramerica', { path: '/userinfo', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(401);
  });
});

describe('listTenants and findTenant', () => {
  it('lists the subscribed tenants with their URLs, not the provider nor unsubscribed zones', async () => {
    const p = provisioningFor(h);
    await p.subscribe({ tenantId: guid(40), subdomain: 'zzz-last', globalAccountId: 'ga-9' });
    const tenants = await p.listTenants();
    const subdomains = tenants.map((t) => t.subdomain);
    expect(subdomains).toEqual([...subdomains].sort());
    expect(subdomains).toContain('acme'); // subscribed by other means: listed, without provisioning's dates
    expect(subdomains).not.toContain('provider');
    expect(subdomains).not.toContain('stranger');
    expect(tenants.find((t) => t.subdomain === 'zzz-last')).toMatchObject({ tenantId: guid(40), url: 'https://zzz-last.app.example.com', globalAccountId: 'ga-9' });
    expect(tenants.find((t) => t.subdomain === 'acme')!.subscribedAt).toBeUndefined();
    expect(await p.findTenant('ZZZ-LAST')).toMatchObject({ tenantId: guid(40) });
    expect(await p.findTenant(guid(40))).toMatchObject({ subdomain: 'zzz-last' });
    expect(await p.findTenant('provider')).toBeUndefined();
    expect(await p.findTenant('stranger')).toBeUndefined();
  });
});
