/**
 * Zone administrators over real HTTP: the bootstrap credential creates the first administrator, who
 * logs in at their zone with the built-in admin client (code flow + PKCE, loopback redirect) and uses
 * the token on the admin API. Also the attacks: the token at another zone, application tokens, the
 * admin client asked for application scopes and the application client asked for admin scopes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../src/log.js';
import { openSqliteStorage } from '../../../src/storage/sqlite.js';
import type { Storage } from '../../../src/storage/types.js';
import { ADMIN_CLIENT_ID, ZONE_ADMIN_ROLE_COLLECTION } from '../../../src/zones/directory/admin-client.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { openTestRecords } from '../../support/records.js';
import type { Application, Zone, ZoneDirectory } from '../../../src/zones/directory/types.js';
import { createIdentityServer, type IdentityServer } from '../../../src/zones/server.js';
import { request, type TestResponse } from '../../support/http.js';
import { FAST_HASHING, securityFor } from '../directory/fixtures.js';
import { Browser, formFields, pkce } from '../oauth/harness.js';

const BOOTSTRAP = 'bootstrap-secret-for-zone-admins';
const PASSWORD = 'correct-horse-1';
/** A command-line tool's loopback listener (RFC 8252 §7.3); nothing needs to listen, the test reads Location. */
const LOOPBACK = 'http://127.0.0.1:53682/callback';
const APP_REDIRECT = 'https://acme.app.example.com/login/callback';

let dir: string;
let storage: Storage;
let records: RecordsDatabase;
let directory: ZoneDirectory;
let server: IdentityServer;
let httpServer: http.Server;
let port = 0;
let provider: Zone;
let acme: Zone;
let globex: Zone;
let app: Application;
let appSecret: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zonegate-zone-admin-'));
  storage = openSqliteStorage({ file: join(dir, 'zones.db') });
  records = await openTestRecords();
  directory = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
  provider = await directory.createZone({ subdomain: 'provider' });
  acme = await directory.createZone({ subdomain: 'acme' });
  globex = await directory.createZone({ subdomain: 'globex' });
  const security = securityFor('myapp');
  // jwt-bearer too, so the test can try to exchange an admin token for an application token.
  security.oauth2Configuration.grantTypes.push('urn:ietf:params:oauth:grant-type:jwt-bearer');
  ({ application: app, clientSecret: appSecret } = await directory.registerApplication(security, provider.id));
  await directory.subscribe(app, acme.id);
  await directory.subscribe(app, globex.id);
  server = await createIdentityServer({
    storage,
    records,
    directory,
    uaaDomain: 'localhost',
    publicUrlFor: (sub) => `http://${sub ? `${sub}.` : ''}localhost:${port}`,
    logger: createMemoryLogger(),
    bootstrapSecret: BOOTSTRAP,
    zonesAdminZoneId: provider.id,
  });
  httpServer = http.createServer((req, res) => server.handle(req, res));
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  port = (httpServer.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => httpServer?.close(() => resolve()));
  await storage?.close();
  await records?.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (sub: string | undefined, o: { method?: string; path?: string; headers?: Record<string, string>; body?: string } = {}): Promise<TestResponse> =>
  request(port, { host: `${sub ? `${sub}.` : ''}localhost:${port}`, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers ?? {}, ...(o.body !== undefined ? { body: o.body } : {}) });

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const BOOT = basic('admin', BOOTSTRAP);
const adminAuth = () => basic(ADMIN_CLIENT_ID, server.adminClient.clientSecret);

function api(sub: string | undefined, method: string, path: string, auth: string, body?: unknown): Promise<TestResponse> {
  return call(sub, {
    method,
    path,
    headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

function tokenRequest(sub: string, form: Record<string, string>, auth: string): Promise<TestResponse> {
  return call(sub, { method: 'POST', path: '/oauth/token', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
}

/** The browser part of the code flow: authorize, the zone's login form, back to the redirect URI. */
async function authorize(sub: string, user: string, params: Record<string, string>): Promise<URL> {
  const browser = new Browser({ call });
  const page = await browser.get(sub, `/oauth/authorize?${new URLSearchParams({ response_type: 'code', state: 'st', ...params }).toString()}`);
  if (page.status === 302) return new URL(page.headers.location!);
  expect(page.status, page.text.slice(0, 300)).toBe(200);
  const login = await browser.post(sub, '/login.do', { ...formFields(page.text), username: user, password: PASSWORD });
  expect(login.status, login.text.slice(0, 300)).toBe(302);
  return new URL(login.headers.location!);
}

interface Tokens {
  access_token: string;
  refresh_token?: string;
  scope: string;
}

/** What an admin tool does: code flow with PKCE at the user's zone, for the admin client. */
async function adminLogin(sub: string, user: string): Promise<Tokens> {
  const { verifier, challenge } = pkce();
  const back = await authorize(sub, user, { client_id: ADMIN_CLIENT_ID, redirect_uri: LOOPBACK, code_challenge: challenge, code_challenge_method: 'S256' });
  expect(`${back.origin}${back.pathname}`).toBe(LOOPBACK);
  const code = back.searchParams.get('code');
  expect(code, back.href).toMatch(/^[\w-]{32,}$/);
  const res = await tokenRequest(sub, { grant_type: 'authorization_code', code: code!, redirect_uri: LOOPBACK, code_verifier: verifier }, adminAuth());
  expect(res.status, res.text).toBe(200);
  return res.json<Tokens>();
}

async function appLogin(sub: string, user: string, extra: Record<string, string> = {}): Promise<Tokens> {
  const back = await authorize(sub, user, { client_id: app.clientId, redirect_uri: APP_REDIRECT, ...extra });
  const res = await tokenRequest(sub, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: APP_REDIRECT }, basic(app.clientId, appSecret));
  expect(res.status, res.text).toBe(200);
  return res.json<Tokens>();
}

const bearer = (t: string) => `Bearer ${t}`;

describe('zone administrators', () => {
  let adminToken: Tokens;

  it('the bootstrap credential creates the first administrator of a zone', async () => {
    const created = await api('acme', 'POST', '/Users', BOOT, {
      userName: 'acme-admin',
      emails: [{ value: 'admin@acme.example' }],
      password: PASSWORD,
      roleCollections: [ZONE_ADMIN_ROLE_COLLECTION],
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json().roleCollections).toEqual([ZONE_ADMIN_ROLE_COLLECTION]);
    const listed = await api('acme', 'GET', '/role-collections', BOOT);
    expect(listed.json()[0]).toEqual({ name: ZONE_ADMIN_ROLE_COLLECTION, roleTemplates: ['zonegate-admin.ZoneAdministrator'] });
  });

  it('logs in at their zone with the admin client and gets scim.* of that zone only', async () => {
    adminToken = await adminLogin('acme', 'acme-admin');
    expect(adminToken.scope.split(' ').sort()).toEqual(['openid', 'scim.read', 'scim.write']);
    const claims = decodeJwt(adminToken.access_token);
    expect(claims).toMatchObject({ cid: ADMIN_CLIENT_ID, zid: acme.id, user_name: 'acme-admin', scope: ['openid', 'scim.read', 'scim.write'] });
    expect(claims.aud).toEqual(expect.arrayContaining([ADMIN_CLIENT_ID, 'scim']));
  });

  it('uses the token to create a role collection from the app\'s role templates and a user with it', async () => {
    const auth = bearer(adminToken.access_token);
    const rc = await api('acme', 'POST', '/role-collections', auth, { name: 'Acme Auditors', roleTemplates: ['Viewer'] });
    expect(rc.status, rc.text).toBe(201);
    expect(rc.json()).toEqual({ name: 'Acme Auditors', roleTemplates: [`${app.instanceName}.Viewer`] });
    const user = await api('acme', 'POST', '/Users', auth, { userName: 'auditor', emails: [{ value: 'auditor@acme.example' }], password: PASSWORD, roleCollections: ['Acme Auditors'] });
    expect(user.status, user.text).toBe(201);
    expect((await api('acme', 'GET', '/Users', auth)).json().resources.map((u: { userName: string }) => u.userName)).toContain('auditor');
    // The new collection works: the auditor's application token carries the template's scope.
    const auditor = await appLogin('acme', 'auditor');
    expect(auditor.scope.split(' ')).toEqual(['openid', `${app.instanceName}.Viewer`]);
    // An administrator can appoint further administrators.
    const appointed = await api('acme', 'PUT', `/Users/${user.json().id}/role-collections/${encodeURIComponent(ZONE_ADMIN_ROLE_COLLECTION)}`, auth);
    expect(appointed.status).toBe(200);
    await api('acme', 'DELETE', `/Users/${user.json().id}/role-collections/${encodeURIComponent(ZONE_ADMIN_ROLE_COLLECTION)}`, auth);
  });

  it('refuses the same token in another zone and on the zones API (403), changing nothing', async () => {
    const auth = bearer(adminToken.access_token);
    const create = await api('globex', 'POST', '/Users', auth, { userName: 'mole', emails: [{ value: 'mole@globex.example' }], password: PASSWORD });
    expect(create.status).toBe(403);
    expect(create.json()).toEqual({ error: 'access_denied', error_description: 'The token belongs to another zone' });
    expect((await api('globex', 'GET', '/Users', auth)).status).toBe(403);
    expect((await api('globex', 'POST', '/role-collections', auth, { name: 'Moles', roleTemplates: ['Viewer'] })).status).toBe(403);
    expect(await directory.getUserByName(globex.id, 'mole')).toBeUndefined();
    expect((await api(undefined, 'POST', '/identity-zones', auth, { subdomain: 'takeover' })).status).toBe(403);
    expect(await directory.getZoneBySubdomain('takeover')).toBeUndefined();
    // Tampered or unknown tokens are not callers at all: 401.
    const [head, body] = adminToken.access_token.split('.');
    expect((await api('acme', 'GET', '/Users', bearer(`${head}.${body}.AAAA`))).status).toBe(401);
    expect((await api('acme', 'GET', '/Users', bearer('not-a-jwt'))).status).toBe(401);
  });

  it('refuses a normal user\'s token: application token or admin-client token without the role collection (403)', async () => {
    await directory.createUser(acme.id, { userName: 'appadmin', email: 'appadmin@acme.example', password: PASSWORD, roleCollections: ['myapp_Administrator'] });
    const appToken = await appLogin('acme', 'appadmin');
    expect(appToken.scope).toContain(`${app.instanceName}.Admin`);
    const viaApp = await api('acme', 'POST', '/Users', bearer(appToken.access_token), { userName: 'x1', emails: [{ value: 'x1@acme.example' }] });
    expect(viaApp.status).toBe(403);
    expect(viaApp.json().error).toBe('access_denied');
    const viaAdminClient = await adminLogin('acme', 'appadmin');
    expect(viaAdminClient.scope).toBe('openid');
    const res = await api('acme', 'GET', '/Users', bearer(viaAdminClient.access_token));
    expect(res.status).toBe(403);
    expect(res.json().error).toBe('insufficient_scope');
    expect(await directory.getUserByName(acme.id, 'x1')).toBeUndefined();
  });

  it('an administrator of the zones-admin zone also gets zones.* and manages zones; a tenant\'s cannot', async () => {
    await api('provider', 'POST', '/Users', BOOT, { userName: 'root', emails: [{ value: 'root@provider.example' }], password: PASSWORD, roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
    const root = await adminLogin('provider', 'root');
    expect(root.scope.split(' ').sort()).toEqual(['openid', 'scim.read', 'scim.write', 'zones.read', 'zones.write']);
    const zone = await api(undefined, 'POST', '/identity-zones', bearer(root.access_token), { subdomain: 'initech' });
    expect(zone.status, zone.text).toBe(201);
    expect((await api(undefined, 'GET', '/identity-zones', bearer(adminToken.access_token))).status).toBe(403);
  });
});

describe('the admin client never carries application scopes (attacks)', () => {
  it('refuses application scopes at authorize, and the password and jwt-bearer grants', async () => {
    const { challenge } = pkce();
    const back = await authorize('acme', 'acme-admin', {
      client_id: ADMIN_CLIENT_ID,
      redirect_uri: LOOPBACK,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: `openid ${app.instanceName}.Admin`,
    });
    expect(back.searchParams.get('error')).toBe('invalid_scope');
    expect(back.searchParams.get('code')).toBeNull();

    const password = await tokenRequest('acme', { grant_type: 'password', username: 'acme-admin', password: PASSWORD }, adminAuth());
    expect(password.status).toBe(400);
    expect(password.json().error).toBe('unauthorized_client');

    const appToken = await appLogin('acme', 'appadmin');
    const exchange = await tokenRequest('acme', { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: appToken.access_token }, adminAuth());
    expect(exchange.status).toBe(400);
    expect(exchange.json().error).toBe('unauthorized_client');
  });

  it('is refused client credentials (its grant list has none: RFC 6749 §5.2 unauthorized_client), in every zone and via x-zid', async () => {
    // Before issue 9 the grant was "always allowed" for every client, so anyone holding the admin
    // secret got a uaa.resource token in any zone (the admin client is usable everywhere).
    for (const sub of ['acme', 'globex', 'provider']) {
      const cc = await tokenRequest(sub, { grant_type: 'client_credentials' }, adminAuth());
      expect(cc.status, cc.text).toBe(400);
      expect(cc.json().error).toBe('unauthorized_client');
      expect(cc.json().access_token).toBeUndefined();
    }
    const viaZid = await call(undefined, {
      method: 'POST',
      path: '/oauth/token',
      headers: { authorization: adminAuth(), 'content-type': 'application/x-www-form-urlencoded', 'x-zid': acme.id },
      body: 'grant_type=client_credentials',
    });
    expect(viaZid.status).toBe(400);
    expect(viaZid.json().error).toBe('unauthorized_client');
  });

  it('a refresh keeps only what the role collection still grants', async () => {
    const login = await adminLogin('acme', 'acme-admin');
    const refreshed = await tokenRequest('acme', { grant_type: 'refresh_token', refresh_token: login.refresh_token! }, adminAuth());
    expect(refreshed.json().scope.split(' ').sort()).toEqual(['openid', 'scim.read', 'scim.write']);
    // Removed from the role collection: the next refresh carries no admin scope.
    const admin = (await directory.getUserByName(acme.id, 'acme-admin'))!;
    await directory.unassignRoleCollection(acme.id, admin.id, ZONE_ADMIN_ROLE_COLLECTION);
    const after = await tokenRequest('acme', { grant_type: 'refresh_token', refresh_token: refreshed.json().refresh_token }, adminAuth());
    expect(after.json().scope).toBe('openid');
    expect((await api('acme', 'GET', '/Users', bearer(after.json().access_token))).status).toBe(403);
    await directory.assignRoleCollection(acme.id, admin.id, ZONE_ADMIN_ROLE_COLLECTION);
  });

  it('is refused at the token endpoint with a wrong secret, and at authorize for a foreign redirect URI', async () => {
    const wrong = await tokenRequest('acme', { grant_type: 'client_credentials' }, basic(ADMIN_CLIENT_ID, 'guessed-secret'));
    expect(wrong.status).toBe(401);
    const page = await new Browser({ call }).get('acme', `/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: ADMIN_CLIENT_ID, redirect_uri: 'https://evil.example/cb' }).toString()}`);
    expect(page.status).toBe(400);
    expect(page.headers.location).toBeUndefined();
  });
});

describe('an administrator who is removed loses the admin API at once (attacks)', () => {
  async function freshAdmin(userName: string): Promise<{ id: string; token: string }> {
    const created = await api('acme', 'POST', '/Users', BOOT, { userName, emails: [{ value: `${userName}@acme.example` }], password: PASSWORD, roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
    expect(created.status, created.text).toBe(201);
    const tokens = await adminLogin('acme', userName);
    expect((await api('acme', 'GET', '/Users', bearer(tokens.access_token))).status).toBe(200);
    return { id: created.json().id, token: tokens.access_token };
  }

  it('unassigned from Zone Administrator: the same, unexpired token is 403 on the next request', async () => {
    const { id, token } = await freshAdmin('demoted-admin');
    const removed = await api('acme', 'DELETE', `/Users/${id}/role-collections/${encodeURIComponent(ZONE_ADMIN_ROLE_COLLECTION)}`, BOOT);
    expect(removed.status).toBe(200);
    const read = await api('acme', 'GET', '/Users', bearer(token));
    expect(read.status).toBe(403);
    expect(read.json().error).toBe('insufficient_scope');
    const write = await api('acme', 'POST', '/Users', bearer(token), { userName: 'revenge', emails: [{ value: 'revenge@acme.example' }], password: PASSWORD });
    expect(write.status).toBe(403);
    expect(await directory.getUserByName(acme.id, 'revenge')).toBeUndefined();
    // Given the role collection back, the token works again: the check is on today's assignments.
    await api('acme', 'PUT', `/Users/${id}/role-collections/${encodeURIComponent(ZONE_ADMIN_ROLE_COLLECTION)}`, BOOT);
    expect((await api('acme', 'GET', '/Users', bearer(token))).status).toBe(200);
  });

  it('deleted: the same token is 401, even after a user of the same name is created again', async () => {
    const { id, token } = await freshAdmin('deleted-admin');
    expect((await api('acme', 'DELETE', `/Users/${id}`, BOOT)).status).toBe(200);
    const res = await api('acme', 'POST', '/Users', bearer(token), { userName: 'ghost', emails: [{ value: 'ghost@acme.example' }], password: PASSWORD });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/Bearer/);
    expect(await directory.getUserByName(acme.id, 'ghost')).toBeUndefined();
    // A new account of the same name is another user (another id): the old token stays dead.
    await api('acme', 'POST', '/Users', BOOT, { userName: 'deleted-admin', emails: [{ value: 'x@acme.example' }], password: PASSWORD, roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
    expect((await api('acme', 'GET', '/Users', bearer(token))).status).toBe(401);
  });

  it('a zones administrator removed from the zones-admin zone can no longer create zones', async () => {
    await api('provider', 'POST', '/Users', BOOT, { userName: 'root2', emails: [{ value: 'root2@provider.example' }], password: PASSWORD, roleCollections: [ZONE_ADMIN_ROLE_COLLECTION] });
    const root = await adminLogin('provider', 'root2');
    const user = (await directory.getUserByName(provider.id, 'root2'))!;
    await directory.unassignRoleCollection(provider.id, user.id, ZONE_ADMIN_ROLE_COLLECTION);
    const res = await api(undefined, 'POST', '/identity-zones', bearer(root.access_token), { subdomain: 'after-demotion' });
    expect(res.status).toBe(403);
    expect(await directory.getZoneBySubdomain('after-demotion')).toBeUndefined();
  });
});

describe('application clients never get admin scopes (attacks)', () => {
  it('a zone administrator logging in to the application gets its scopes only, and cannot ask for scim.*', async () => {
    await api('acme', 'PUT', `/Users/${(await directory.getUserByName(acme.id, 'appadmin'))!.id}/role-collections/${encodeURIComponent(ZONE_ADMIN_ROLE_COLLECTION)}`, BOOT);
    const token = await appLogin('acme', 'appadmin');
    expect(token.scope.split(' ')).toEqual(['openid', `${app.instanceName}.Admin`, `${app.instanceName}.Viewer`]);
    expect(decodeJwt(token.access_token).scope).not.toContain('scim.write');
    expect((await api('acme', 'GET', '/Users', bearer(token.access_token))).status).toBe(403);

    const back = await authorize('acme', 'appadmin', { client_id: app.clientId, redirect_uri: APP_REDIRECT, scope: 'openid scim.write' });
    expect(back.searchParams.get('error')).toBe('invalid_scope');

    // Nor by exchanging the administrator's admin token (jwt-bearer), nor as a client.
    const adminTokens = await adminLogin('acme', 'appadmin');
    expect(adminTokens.scope).toContain('scim.write');
    const exchanged = await tokenRequest('acme', { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: adminTokens.access_token }, basic(app.clientId, appSecret));
    expect(exchanged.status, exchanged.text).toBe(200);
    expect(exchanged.json().scope.split(' ')).not.toContain('scim.write');
    const narrowed = await tokenRequest('acme', { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: adminTokens.access_token, scope: 'scim.write' }, basic(app.clientId, appSecret));
    expect(narrowed.json().error).toBe('invalid_scope');
    const cc = await tokenRequest('provider', { grant_type: 'client_credentials' }, basic(app.clientId, appSecret));
    expect(cc.json().scope.split(' ').some((s: string) => s.startsWith('scim.') || s.startsWith('zones.'))).toBe(false);
  });
});

describe('the admin client at identity server start', () => {
  it('is ensured by every server on the storage with one secret; redirect URIs are configurable and validated', async () => {
    const mem = openSqliteStorage({ file: ':memory:' });
    const memRecords = await openTestRecords();
    try {
      const d = createZoneDirectory(memRecords, { passwordHashing: FAST_HASHING });
      const base = { storage: mem, records: memRecords, directory: d, uaaDomain: 'auth.example.com', publicUrlFor: (s?: string) => `https://${s ? `${s}.` : ''}auth.example.com`, logger: createMemoryLogger() };
      await expect(createIdentityServer({ ...base, adminClientRedirectUris: ['https://admin.example.com/cb', 'javascript:alert(1)'] })).rejects.toThrow(/adminClientRedirectUris: "javascript:alert\(1\)"/);
      const first = await createIdentityServer({ ...base, adminClientRedirectUris: ['https://admin.example.com/cb'] });
      expect((await d.getApplicationByClientId(ADMIN_CLIENT_ID))?.redirectUris).toEqual(['https://admin.example.com/cb']);
      const second = await createIdentityServer(base);
      expect(second.adminClient).toEqual(first.adminClient);
      expect((await d.getApplicationByClientId(ADMIN_CLIENT_ID))?.redirectUris).toEqual(['https://admin.example.com/cb']);
    } finally {
      await mem.close();
      await memRecords.close();
    }
  });
});
