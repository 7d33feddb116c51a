import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATED_KEY_FILE, readSettings, resolveSecretKey, type Environment } from '../../src/config/environment.js';
import { ConfigError } from '../../src/errors.js';
import { createMemoryLogger } from '../../src/log.js';
import { requiredScopes } from '../../src/routing/route-table.js';
import { RecordsOpenError } from '../../src/records/index.js';
import { loadConfiguration } from '../../src/server/configuration.js';
import { startGateway, type RunningGateway } from '../../src/server/start.js';
import type { Zone } from '../../src/zones/directory/types.js';
import { DEMO_TENANTS, DEMO_USERS, seedDemoZones } from '../../src/demo/demo.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { request, type TestResponse } from '../support/http.js';

/**
 * The built-in identity zones served by the gateway's own process on `<subdomain>.<uaadomain>`
 * hosts (issue 3, "Running it"): what start.ts wires, over real HTTP, SQLite files in temp dirs.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SECURITY = fs.readFileSync(path.join(ROOT, 'xs-security.json'), 'utf8');
const UAA = 'auth.localhost';

const ROUTES = {
  authenticationMethod: 'route',
  routes: [
    { source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' },
    { source: '^/admin/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'xsuaa', scope: { GET: '$XSAPPNAME.Viewer', default: '$XSAPPNAME.Admin' } },
    { source: '^/api/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'xsuaa', scope: ['$XSAPPNAME.Viewer', 'other!b1.Read'] },
  ],
};

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

function basic(id: string, secret: string): string {
  // RFC 6749 §2.3.1: form-encode both parts before base64 (the client id contains "!").
  const enc = (s: string) => encodeURIComponent(s);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

function tokenRequest(port: number, host: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<TestResponse> {
  return request(port, {
    method: 'POST',
    path: '/oauth/token',
    host,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: form(body),
  });
}

function scopesOf(running: RunningGateway, url: string, method: string): readonly string[] | undefined {
  const match = running.routes.match(url, method);
  if (match.kind !== 'route') throw new Error(`no route for ${url}`);
  return requiredScopes(match.route, method);
}

describe('zones in the gateway process', () => {
  let gw: TestGateway;
  let acme: Zone;
  let globex: Zone;

  beforeAll(async () => {
    gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': SECURITY },
      env: { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.app\\.localhost$', UAA_DOMAIN: UAA },
    });
    const directory = gw.running.directory!;
    acme = await directory.createZone({ subdomain: 'acme' });
    globex = await directory.createZone({ subdomain: 'globex' });
    const application = (await directory.getApplicationByClientId(gw.running.credentials!.clientid))!;
    await directory.subscribe(application, acme.id);
  });
  afterAll(() => gw?.stop());

  it('exposes xsuaa-binding-shaped credentials of the application registered in the provider zone', async () => {
    const c = gw.running.credentials!;
    expect(c.xsappname).toMatch(/^zonegate-demo!t\d+$/);
    const provider = (await gw.running.directory!.getZoneBySubdomain('provider'))!;
    expect(c).toEqual({
      clientid: `sb-${c.xsappname}`,
      clientsecret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      url: `http://provider.${UAA}:${gw.port}`,
      uaadomain: UAA,
      xsappname: c.xsappname,
      identityzone: 'provider',
      tenantid: provider.id,
      tenantmode: 'shared',
    });
    expect(gw.running.identity).toBeDefined();
  });

  it('expands $XSAPPNAME in route scopes to the instance name', () => {
    const x = gw.running.credentials!.xsappname;
    expect(scopesOf(gw.running, '/admin/a', 'GET')).toEqual([`${x}.Viewer`]);
    expect(scopesOf(gw.running, '/admin/a', 'DELETE')).toEqual([`${x}.Admin`]);
    expect(scopesOf(gw.running, '/api/a', 'GET')).toEqual([`${x}.Viewer`, 'other!b1.Read']);
  });

  it('serves discovery on a zone host with that zone issuer and the listening port', async () => {
    const res = await request(gw.port, { path: '/.well-known/openid-configuration', host: `acme.${UAA}:${gw.port}` });
    expect(res.status).toBe(200);
    const base = `http://acme.${UAA}:${gw.port}`;
    expect(res.json()).toMatchObject({ issuer: `${base}/oauth/token`, token_endpoint: `${base}/oauth/token`, jwks_uri: `${base}/token_keys` });
  });

  it('answers an unknown zone host with 404, not with a tenant or the provider zone', async () => {
    const res = await request(gw.port, { path: '/.well-known/openid-configuration', host: `nowhere.${UAA}` });
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('issuer');
  });

  // Issue 11: the gateway and the zones read the Host each their own way, so a host could be one
  // the gateway refuses and a zone serves, or one the gateway does not hand to the zones at all.
  it('reads a hostile Host as the zones on their own read it: trailing dot, case, port, userinfo, path, IPv6', async () => {
    const alone = http.createServer((req, res) => gw.running.identity!.handle(req, res));
    await new Promise<void>((resolve) => alone.listen(0, '127.0.0.1', resolve));
    try {
      const port = (alone.address() as AddressInfo).port;
      const discovery = async (target: number, host: string) => {
        const res = await request(target, { path: '/.well-known/openid-configuration', host });
        return { status: res.status, issuer: res.status === 200 ? (res.json().issuer as string) : undefined };
      };
      const acmeIssuer = `http://acme.${UAA}:${gw.port}/oauth/token`;
      for (const [host, status, issuer] of [
        [`ACME.Auth.Localhost:${gw.port}`, 200, acmeIssuer],
        // Another origin to a browser: neither the gateway nor the zones take it for acme's.
        [`acme.${UAA}.`, 404, undefined],
        [`acme.${UAA}.:${gw.port}`, 404, undefined],
        [`acme.${UAA}:1@evil.example`, 400, undefined],
        [`evil.example@acme.${UAA}`, 400, undefined],
        [`acme.${UAA}/x`, 400, undefined],
        ['[::1]:8080', undefined, undefined],
      ] as const) {
        const viaGateway = await discovery(gw.port, host);
        const ownServer = await discovery(port, host);
        // An IPv6 literal is no zone host: the gateway takes it for a tenant host (which it does not
        // match), the zones find no zone there; neither serves a zone.
        if (status !== undefined) expect(viaGateway, host).toEqual({ status, issuer });
        expect(viaGateway.status >= 400, host).toBe(ownServer.status >= 400);
        expect(ownServer.issuer, host).toBe(viaGateway.issuer);
      }
    } finally {
      await new Promise((resolve) => alone.close(resolve));
    }
  });

  it('serves token_keys on the bare uaadomain by ?zid=, and 400 for an unknown or missing zid', async () => {
    const ok = await request(gw.port, { path: `/token_keys?zid=${acme.id}`, host: UAA });
    expect(ok.status).toBe(200);
    expect(ok.json().keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect((await request(gw.port, { path: '/token_keys?zid=00000000-0000-4000-8000-000000000000', host: UAA })).status).toBe(400);
    expect((await request(gw.port, { path: '/token_keys', host: UAA })).status).toBe(400);
  });

  it('issues a client-credentials token with the exposed credentials, verifiable with the zone keys from the bare domain', async () => {
    const c = gw.running.credentials!;
    for (const [zone, auth] of [
      ['provider', 'basic'],
      ['acme', 'post'],
    ] as const) {
      const body: Record<string, string> = { grant_type: 'client_credentials' };
      const headers: Record<string, string> = {};
      if (auth === 'basic') headers.authorization = basic(c.clientid, c.clientsecret);
      else Object.assign(body, { client_id: c.clientid, client_secret: c.clientsecret });
      const res = await tokenRequest(gw.port, `${zone}.${UAA}`, body, headers);
      expect(res.status, res.text).toBe(200);
      const token = res.json().access_token as string;
      const zid = zone === 'acme' ? acme.id : c.tenantid!;
      const jwks = (await request(gw.port, { path: `/token_keys?zid=${zid}`, host: UAA })).json() as JSONWebKeySet;
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks));
      expect(payload).toMatchObject({ zid, cid: c.clientid, grant_type: 'client_credentials', ext_attr: { zdn: zone } });
      expect(payload.iss).toBe(`http://${zone}.${UAA}:${gw.port}/oauth/token`);
    }
  });

  it('serves the bare domain token endpoint for a zone named by x-zid (as @sap/xssec calls it)', async () => {
    const c = gw.running.credentials!;
    const res = await tokenRequest(gw.port, UAA, { grant_type: 'client_credentials', client_id: c.clientid, client_secret: c.clientsecret }, { 'x-zid': acme.id });
    expect(res.status, res.text).toBe(200);
    const claims = JSON.parse(Buffer.from((res.json().access_token as string).split('.')[1]!, 'base64url').toString());
    expect(claims.zid).toBe(acme.id);
  });

  it('attack: refuses the shared client in a zone that did not subscribe, and a wrong secret', async () => {
    const c = gw.running.credentials!;
    const unsubscribed = await tokenRequest(gw.port, `globex.${UAA}`, { grant_type: 'client_credentials', client_id: c.clientid, client_secret: c.clientsecret });
    expect(unsubscribed.status).toBe(401);
    expect(unsubscribed.json().error).toBe('invalid_client');
    expect(globex.id).toMatch(/^[0-9a-f-]{36}$/);
    const wrong = await tokenRequest(gw.port, `provider.${UAA}`, { grant_type: 'client_credentials', client_id: c.clientid, client_secret: `${c.clientsecret.slice(0, -1)}x` });
    expect(wrong.status).toBe(401);
  });

  it('attack: a token of one zone does not verify with another zone keys', async () => {
    const c = gw.running.credentials!;
    const res = await tokenRequest(gw.port, `acme.${UAA}`, { grant_type: 'client_credentials', client_id: c.clientid, client_secret: c.clientsecret });
    const providerKeys = (await request(gw.port, { path: `/token_keys?zid=${c.tenantid}`, host: UAA })).json() as JSONWebKeySet;
    await expect(jwtVerify(res.json().access_token, createLocalJWKSet(providerKeys))).rejects.toThrow();
  });

  it('keeps tenant hosts and public routes on the gateway', async () => {
    const res = await request(gw.port, { path: '/echo/hi', host: 'acme.app.localhost' });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ url: '/hi' });
  });

  it('rotating keys publishes the new kid next to the old one, and signs with the new one', async () => {
    const c = gw.running.credentials!;
    const kidsOf = async () => ((await request(gw.port, { path: '/token_keys', host: `acme.${UAA}` })).json().keys as { kid: string }[]).map((k) => k.kid);
    const before = await kidsOf();
    expect(before.length).toBeGreaterThan(0);
    const [kid] = await gw.running.identity!.rotateKeys(acme.id);
    const after = await kidsOf();
    expect(after).toContain(kid);
    for (const old of before) expect(after).toContain(old);
    expect(before).not.toContain(kid);
    const res = await tokenRequest(gw.port, `acme.${UAA}`, { grant_type: 'client_credentials', client_id: c.clientid, client_secret: c.clientsecret });
    expect(decodeProtectedHeader(res.json().access_token).kid).toBe(kid);
  });

  it('seeds the demo zones idempotently: subscribed, with users whose demo passwords and role collections work', async () => {
    const directory = gw.running.directory!;
    const c = gw.running.credentials!;
    // acme exists and is subscribed already (beforeAll): seeding twice must not trip over either.
    await seedDemoZones(directory, c.clientid);
    await seedDemoZones(directory, c.clientid);
    const application = (await directory.getApplicationByClientId(c.clientid))!;
    for (const tenant of DEMO_TENANTS) {
      const zone = (await directory.getZoneBySubdomain(tenant))!;
      expect(await directory.isClientAllowedInZone(application, zone.id)).toBe(true);
      expect((await directory.listUsers(zone.id)).map((u) => u.userName).sort()).toEqual(DEMO_USERS.map((u) => u.userName).sort());
      for (const demo of DEMO_USERS) {
        const user = (await directory.verifyPassword(zone.id, demo.userName, demo.password))!;
        expect(user.roleCollections).toEqual([demo.roleCollection]);
        const scopes = await directory.userScopes(application, user);
        expect(scopes.includes(`${c.xsappname}.Admin`)).toBe(demo.roleCollection === 'Demo Administrator');
        expect(scopes).toContain(`${c.xsappname}.Viewer`);
      }
    }
  });
});

describe('what starts, and with which identity provider', () => {
  it('runs no zones without an xs-security.json: public routes work, zone hosts are not served', async () => {
    const gw = await startTestGateway({ routes: ROUTES, env: { UAA_DOMAIN: UAA } });
    try {
      expect(gw.running.identity).toBeUndefined();
      expect(gw.running.directory).toBeUndefined();
      expect(gw.running.credentials).toBeUndefined();
      expect((await request(gw.port, { path: '/echo/x' })).status).toBe(200);
      const zoneHost = await request(gw.port, { path: '/.well-known/openid-configuration', host: `provider.${UAA}` });
      expect(zoneHost.status).toBe(404);
      expect(zoneHost.headers['x-zonegate-error']).toBeDefined();
      // No login configured: protected routes say so rather than pass through.
      expect((await request(gw.port, { path: '/api/x' })).status).toBe(401);
    } finally {
      await gw.stop();
    }
  });

  it('uses an xsuaa binding instead of the zones when one is bound, and expands $XSAPPNAME with its xsappname', async () => {
    const binding = { clientid: 'sb-ext!t9', clientsecret: 's3cret', url: 'https://provider.auth.example.com', uaadomain: 'auth.example.com', xsappname: 'ext!t9' };
    const gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': SECURITY },
      env: { VCAP_SERVICES: JSON.stringify({ xsuaa: [{ name: 'uaa', credentials: binding }] }) },
    });
    try {
      expect(gw.running.identity).toBeUndefined();
      expect(gw.running.directory).toBeUndefined();
      expect(gw.running.credentials).toMatchObject(binding);
      expect(scopesOf(gw.running, '/admin/a', 'POST')).toEqual(['ext!t9.Admin']);
      const res = await request(gw.port, { path: '/.well-known/openid-configuration', host: 'provider.auth.example.com' });
      expect(res.status).toBe(404);
      expect(res.text).not.toContain('issuer');
    } finally {
      await gw.stop();
    }
  });

  it('builds zone URLs from UAA_URL (scheme and port) and PROVIDER_SUBDOMAIN', async () => {
    const gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': SECURITY },
      env: { UAA_URL: 'https://auth.example.com:8443', PROVIDER_SUBDOMAIN: 'owner' },
    });
    try {
      expect(gw.running.credentials).toMatchObject({ url: 'https://owner.auth.example.com:8443', uaadomain: 'auth.example.com', identityzone: 'owner' });
      const res = await request(gw.port, { path: '/.well-known/openid-configuration', host: 'owner.auth.example.com' });
      expect(res.json().issuer).toBe('https://owner.auth.example.com:8443/oauth/token');
    } finally {
      await gw.stop();
    }
  });

  it('guards the admin API bootstrap user with ZONEGATE_ADMIN_SECRET, and has none without it', async () => {
    const secret = 'an-admin-secret-of-32-characters';
    const withSecret = await startTestGateway({ routes: ROUTES, files: { 'xs-security.json': SECURITY }, env: { UAA_DOMAIN: UAA, ZONEGATE_ADMIN_SECRET: secret } });
    const without = await startTestGateway({ routes: ROUTES, files: { 'xs-security.json': SECURITY }, env: { UAA_DOMAIN: UAA } });
    try {
      const list = (gw: TestGateway, password: string) =>
        request(gw.port, { path: '/identity-zones', host: UAA, headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`, accept: 'application/json' } });
      const ok = await list(withSecret, secret);
      expect(ok.status).toBe(200);
      expect(JSON.stringify(ok.json())).toContain('provider');
      expect((await list(withSecret, `${secret}x`)).status).toBe(401);
      expect((await list(without, secret)).status).toBe(401);
      expect((await list(without, '')).status).toBe(401);
    } finally {
      await withSecret.stop();
      await without.stop();
    }
  });
});

describe('the secret key that seals the client secret', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-zones-'));
    fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify(ROUTES));
    fs.writeFileSync(path.join(dir, 'xs-security.json'), SECURITY);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function start(env: Record<string, string>): Promise<{ running: RunningGateway; logs: string[] }> {
    const config = loadConfiguration({ destinations: JSON.stringify([{ name: 'echo', url: 'http://127.0.0.1:9' }]), UAA_DOMAIN: UAA, ...env }, { cwd: dir });
    const logger = createMemoryLogger('info');
    return { running: await startGateway(config, { logger, port: 0 }), logs: logger.lines };
  }

  it('without ZONEGATE_SECRET_KEY: generates a 0600 key file, warns by name on every start, keeps the credentials across restarts', async () => {
    const data = path.join(dir, 'dev');
    const first = await start({ ZONEGATE_DATA_DIR: data });
    const credentials = first.running.credentials!;
    await first.running.stop();
    const file = path.join(data, GENERATED_KEY_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const keyText = fs.readFileSync(file, 'utf8');
    const second = await start({ ZONEGATE_DATA_DIR: data });
    try {
      expect(second.running.credentials).toEqual({ ...credentials, url: `http://provider.${UAA}:${second.running.port}` });
      expect(fs.readFileSync(file, 'utf8')).toBe(keyText);
      for (const logs of [first.logs, second.logs]) {
        const warning = logs.map((l) => JSON.parse(l)).find((l) => l.level === 'warn' && /ZONEGATE_SECRET_KEY/.test(l.msg));
        expect(warning).toMatchObject({ msg: expect.stringContaining('Production must set ZONEGATE_SECRET_KEY'), keyFile: file });
      }
      // The logs never carry the key or the client secret.
      expect([...first.logs, ...second.logs].join('\n')).not.toContain(keyText.trim());
      expect([...first.logs, ...second.logs].join('\n')).not.toContain(credentials.clientsecret);
    } finally {
      await second.running.stop();
    }
  });

  it('with ZONEGATE_SECRET_KEY: no key file, no warning; a different key cannot open the stored secret (start-up refuses)', async () => {
    const data = path.join(dir, 'prod');
    const key = Buffer.alloc(32, 7).toString('base64');
    const first = await start({ ZONEGATE_DATA_DIR: data, ZONEGATE_SECRET_KEY: key });
    const credentials = first.running.credentials!;
    await first.running.stop();
    expect(fs.existsSync(path.join(data, GENERATED_KEY_FILE))).toBe(false);
    expect(first.logs.join('\n')).not.toMatch(/"level":"warn"[^\n]*ZONEGATE_SECRET_KEY/);

    // The same key as hex is the same key.
    const again = await start({ ZONEGATE_DATA_DIR: data, ZONEGATE_SECRET_KEY: Buffer.alloc(32, 7).toString('hex') });
    expect(again.running.credentials).toEqual({ ...credentials, url: `http://provider.${UAA}:${again.running.port}` });
    await again.running.stop();

    // Refused before the port is bound, by the records database's installation row (issue 19),
    // naming the variable and never the key.
    const wrongKey = Buffer.alloc(32, 8).toString('base64url');
    const wrong = start({ ZONEGATE_DATA_DIR: data, ZONEGATE_SECRET_KEY: wrongKey });
    await expect(wrong).rejects.toThrow(RecordsOpenError);
    await expect(wrong).rejects.toThrow(/another secret key than ZONEGATE_SECRET_KEY/);
    await expect(wrong).rejects.not.toThrow(wrongKey);
    // Nor does running without any key (then the generated one) open it.
    await expect(start({ ZONEGATE_DATA_DIR: data })).rejects.toThrow(/another secret key than the development key in \S+secret\.key \(ZONEGATE_SECRET_KEY is not set\)/);
  });

  it('refuses a generated key file that is not a key, and warns when it is readable by others', () => {
    const data = path.join(dir, 'files');
    fs.mkdirSync(data, { recursive: true });
    const file = path.join(data, GENERATED_KEY_FILE);
    fs.writeFileSync(file, 'not a key\n', { mode: 0o600 });
    const settings = { secretKey: undefined, dataDir: data, storage: { kind: 'sqlite' as const, file: path.join(data, 'db') } };
    expect(() => resolveSecretKey(settings, () => {})).toThrow(ConfigError);
    fs.writeFileSync(file, `${Buffer.alloc(32, 1).toString('base64url')}\n`);
    fs.chmodSync(file, 0o644);
    const warnings: Record<string, unknown>[] = [];
    expect(Buffer.from(resolveSecretKey(settings, (_m, f) => warnings.push(f)))).toEqual(Buffer.alloc(32, 1));
    expect(warnings[0]).toMatchObject({ permissions: expect.stringContaining('644') });
    const redis = resolveSecretKey({ ...settings, storage: { kind: 'redis', connection: { mode: 'standalone', nodes: [{ host: '127.0.0.1', port: 6379 }] } } }, (_m, f) => warnings.push(f));
    expect(redis).toEqual(new Uint8Array(Buffer.alloc(32, 1)));
    expect(warnings[1]).toMatchObject({ problem: expect.stringContaining('every instance') });
  });
});

describe('settings of the identity zones', () => {
  const cwd = os.tmpdir();
  const read = (env: Environment) => readSettings(env, { cwd });
  const problemsOf = (env: Environment): string[] => {
    try {
      read(env);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => `${p.file}: ${p.message}`);
      throw err;
    }
    return [];
  };

  it('has development defaults', () => {
    const s = read({});
    expect(s).toMatchObject({ uaaDomain: 'auth.localhost', uaaUrl: undefined, providerSubdomain: 'provider', secretKey: undefined, adminSecret: undefined });
    expect(s.dataDir).toBe(path.join(cwd, '.zonegate'));
  });

  it('reads the key as hex or base64, UAA_URL as scheme, host and port, and takes the uaadomain from it', () => {
    const s = read({ ZONEGATE_SECRET_KEY: 'ab'.repeat(32), UAA_URL: 'https://Auth.Example.com', PROVIDER_SUBDOMAIN: 'Owner', ZONEGATE_ADMIN_SECRET: 'x'.repeat(16) });
    expect(Buffer.from(s.secretKey!)).toEqual(Buffer.alloc(32, 0xab));
    expect(s).toMatchObject({ uaaDomain: 'auth.example.com', uaaUrl: { protocol: 'https:', port: '' }, providerSubdomain: 'owner', adminSecret: 'x'.repeat(16) });
    expect(read({ UAA_URL: 'http://auth.example.com:8080/', UAA_DOMAIN: 'auth.example.com' }).uaaUrl).toEqual({ protocol: 'http:', port: '8080' });
  });

  it('reports every problem of the new settings at once, naming each variable and never echoing the key', () => {
    const key = 'c2hvcnQta2V5';
    const problems = problemsOf({
      ZONEGATE_SECRET_KEY: key,
      ZONEGATE_ADMIN_SECRET: 'short',
      UAA_URL: 'ftp://auth.example.com',
      PROVIDER_SUBDOMAIN: '-bad-',
    });
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/ZONEGATE_SECRET_KEY: expected 32 random bytes/);
    expect(problems.join('\n')).toMatch(/ZONEGATE_ADMIN_SECRET: expected at least 16 characters/);
    expect(problems.join('\n')).toMatch(/UAA_URL: expected an http: or https: URL/);
    expect(problems.join('\n')).toMatch(/PROVIDER_SUBDOMAIN: expected a DNS label/);
    expect(problems.join('\n')).not.toContain(key);
  });

  it('refuses a UAA_URL with a path, query, user information, or another host than UAA_DOMAIN', () => {
    expect(problemsOf({ UAA_URL: 'https://auth.example.com/uaa' })[0]).toMatch(/UAA_URL: expected scheme, host and port only/);
    expect(problemsOf({ UAA_URL: 'https://auth.example.com/?a=1' })[0]).toMatch(/UAA_URL/);
    expect(problemsOf({ UAA_URL: 'https://u:p@auth.example.com' })[0]).toMatch(/UAA_URL: must not contain user information/);
    expect(problemsOf({ UAA_URL: 'not a url' })[0]).toMatch(/UAA_URL: expected a URL/);
    expect(problemsOf({ UAA_URL: 'https://evil.example', UAA_DOMAIN: 'auth.example.com' })[0]).toMatch(/UAA_URL: its host "evil.example" must be UAA_DOMAIN/);
    // 31 and 33 bytes are not keys.
    expect(problemsOf({ ZONEGATE_SECRET_KEY: Buffer.alloc(31).toString('base64') })).toHaveLength(1);
    expect(problemsOf({ ZONEGATE_SECRET_KEY: 'ab'.repeat(33) })).toHaveLength(1);
  });
});
