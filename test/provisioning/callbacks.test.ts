/**
 * The SaaS registry callbacks over real HTTP: tokens from the real identity server (port 0), the
 * provisioning service on its SQLite storage, and a small local "SaaS registry" that records the
 * asynchronous status reports.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createProvisioning } from '../../src/provisioning/service.js';
import { createMemoryLogger } from '../../src/log.js';
import { request, type TestResponse } from '../support/http.js';
import { PASSWORD, security, startZones, type Harness } from '../zones/oauth/harness.js';
import { clientToken, guid, provisioningFor, startCallbacks, tenantUrlFor, verifierFor, type CallbackServer } from './support.js';

interface Report {
  path: string;
  authorization: string | undefined;
  body: { status: string; message: string; subscriptionUrl?: string };
}

/** The registry's status endpoint: records every PUT; answers 503 to the first `failures` of them. */
class FakeRegistry {
  server = http.createServer((req, res) => this.receive(req, res));
  reports: Report[] = [];
  attempts = 0;
  failures = 0;
  port = 0;

  private receive(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.attempts++;
      if (req.method !== 'PUT' || this.failures > 0) {
        this.failures--;
        res.writeHead(503).end();
        return;
      }
      this.reports.push({ path: req.url!, authorization: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  }

  async waitForReports(n: number): Promise<Report[]> {
    const deadline = Date.now() + 5000;
    while (this.reports.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} status reports, got ${this.reports.length}`);
      await sleep(10);
    }
    return this.reports;
  }
}

let h: Harness;
let cb: CallbackServer;
let registry: FakeRegistry;
let token: string;
let tokenCount = 0;
const revoked: string[] = [];

beforeAll(async () => {
  h = await startZones();
  registry = new FakeRegistry();
  await new Promise<void>((resolve) => registry.server.listen(0, '127.0.0.1', resolve));
  registry.port = (registry.server.address() as AddressInfo).port;
  cb = await startCallbacks({
    provisioning: provisioningFor(h, { revokeTenantSessions: async (s) => void revoked.push(s) }),
    verifyToken: verifierFor(h),
    dependencies: [{ xsappname: 'destination-xsappname!b404' }],
    registryUrl: `http://127.0.0.1:${registry.port}`,
    getClientToken: async () => `registry-token-${++tokenCount}`,
    maxBodyBytes: 4096,
    statusRetry: { attempts: 4, baseDelayMs: 20, timeoutMs: 2000 },
  });
  token = await clientToken(h, 'provider');
});
afterAll(async () => {
  await cb?.close();
  registry?.server.closeAllConnections();
  await new Promise((resolve) => registry?.server.close(resolve));
  await h?.close();
});
beforeEach(() => {
  registry.reports = [];
  registry.attempts = 0;
  registry.failures = 0;
});

function call(
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string>; server?: CallbackServer } = {},
): Promise<TestResponse> {
  const headers: Record<string, string> = { ...options.headers };
  const bearer = options.token === undefined ? token : options.token;
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  let body: string | undefined = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  return request((options.server ?? cb).port, { method, path, headers, ...(body !== undefined ? { body } : {}) });
}

const payload = (n: number, subdomain: string, extra: Record<string, unknown> = {}) => ({
  subscriptionAppName: 'myapp',
  subscriptionAppId: 'myapp!t1',
  subscribedTenantId: guid(n),
  subscribedZoneId: guid(n),
  subscribedSubaccountId: guid(n + 100000),
  subscribedSubdomain: subdomain,
  globalAccountGUID: 'ga-1',
  subscribedLicenseType: 'PRODUCTIVE',
  subscribedCrmId: '',
  userId: 'u-1',
  eventType: 'CREATE',
  userInfo: { userId: 'u-1', userName: `admin@${subdomain}.example`, email: `admin@${subdomain}.example` },
  additionalInformation: {},
  ...extra,
});

describe('authorization (before any body is read)', () => {
  it('answers 401 with WWW-Authenticate without a token, and for an invalid one', async () => {
    const none = await call('PUT', `/callback/v1.0/tenants/${guid(1)}`, { token: null, body: payload(1, 'anon') });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer realm=/);
    expect(none.headers['x-zonegate-error']).toBe('ZG_ERR_UNAUTHENTICATED');
    const forged = await call('PUT', `/callback/v1.0/tenants/${guid(1)}`, { token: `${token.slice(0, -4)}AAAA`, body: payload(1, 'anon') });
    expect(forged.status).toBe(401);
    expect(forged.headers['www-authenticate']).toContain('error="invalid_token"');
    const basic = await call('GET', '/callback/v1.0/dependencies', { token: null, headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } });
    expect(basic.status).toBe(401);
    expect(await h.directory.getZoneBySubdomain('anon')).toBeUndefined();
  });

  it("refuses a token of a tenant's zone, even with the Callback scope (a tenant must not unsubscribe others)", async () => {
    const tenantToken = await clientToken(h, 'acme');
    const res = await call('DELETE', `/callback/v1.0/tenants/${h.globex.id}`, { token: tenantToken });
    expect(res.status).toBe(403);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_FORBIDDEN');
    expect(await h.directory.getZone(h.globex.id)).toBeDefined();
  });

  it('refuses a provider token without <instanceName>.Callback, naming the scope', async () => {
    const other = await clientToken(h, 'provider', { id: h.pwdApp.clientId, secret: h.pwdSecret });
    const res = await call('PUT', `/callback/v1.0/tenants/${guid(2)}`, { token: other, body: payload(2, 'wrongscope') });
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toContain('scope="myapp!t1.Callback"');
    expect(await h.directory.getZoneBySubdomain('wrongscope')).toBeUndefined();
  });

  it('refuses a user token that carries the Callback scope: only the registry (client credentials) may call', async () => {
    const sec = security('cbapp', { grantTypes: ['password', 'client_credentials'] });
    sec.roleTemplates.push({ name: 'Onboarder', scopeReferences: ['$XSAPPNAME.Callback'], attributeReferences: [] });
    sec.roleCollections.push({ name: 'cbapp_Onboarder', roleTemplateReferences: ['$XSAPPNAME.Onboarder'] });
    const { application, clientSecret } = await h.directory.registerApplication(sec, h.provider.id);
    await h.directory.createUser(h.provider.id, { userName: 'ops', email: 'ops@provider.example', password: PASSWORD, roleCollections: ['cbapp_Onboarder'] });
    const own = await startCallbacks({
      provisioning: createProvisioning({ directory: h.directory, records: h.records, storage: h.storage, application, adminRoleCollection: 'cbapp_Administrator', tenantUrlFor, deleteZoneKeys: (zoneId) => h.server.keys.deleteKeys(zoneId), logger: createMemoryLogger() }),
      verifyToken: verifierFor(h),
    });
    try {
      const login = await h.token('provider', { grant_type: 'password', username: 'ops', password: PASSWORD }, { id: application.clientId, secret: clientSecret });
      expect(login.json().scope.split(' ')).toContain(`${application.instanceName}.Callback`);
      const userCall = await call('GET', '/callback/v1.0/dependencies', { token: login.json().access_token, server: own });
      expect(userCall.status).toBe(403);
      expect(userCall.json().error.message).toContain('client-credentials');
      // The same application's client-credentials token passes: the grant type made the difference.
      const registryCall = await call('GET', '/callback/v1.0/dependencies', { token: await clientToken(h, 'provider', { id: application.clientId, secret: clientSecret }), server: own });
      expect(registryCall.status).toBe(200);
    } finally {
      await own.close();
    }
  });

  it("attack: another application cannot claim the provider app's Callback scope as its authority (issue 9)", async () => {
    // Registering such a descriptor is refused (src/config/security.ts refuses it in the file, with the JSON path).
    const claim = security('claimapp', { authorities: ['myapp!t1.Callback'] });
    await expect(h.directory.registerApplication(claim, h.provider.id)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('myapp!t1.Callback') });
  });

  it('attack: an application record stored before that rule still gets no foreign Callback authority (issue 9)', async () => {
    const { application, clientSecret } = await h.directory.registerApplication(security('oldapp'), h.provider.id);
    const select = 'SELECT application FROM applications WHERE xsappname = $1';
    const stored = JSON.parse((await h.records.one<{ application: string }>(select, [application.xsappname]))!.application);
    stored.authorities.push('myapp!t1.Callback');
    stored.scopes.push('myapp!t1.Callback');
    await h.records.run('UPDATE applications SET application = $1 WHERE xsappname = $2', [JSON.stringify(stored), application.xsappname]);
    const stolen = await clientToken(h, 'provider', { id: application.clientId, secret: clientSecret });
    const res = await call('DELETE', `/callback/v1.0/tenants/${h.globex.id}`, { token: stolen });
    expect(res.status).toBe(403);
    expect(await h.directory.getZone(h.globex.id)).toBeDefined();
  });

  it('accepts a client the application granted Callback to (grant-as-authority-to-apps), and no other client', async () => {
    const grantor = security('grantor');
    grantor.scopes.find((sc) => sc.name === '$XSAPPNAME.Callback')!.grantAsAuthorityToApps = ['$XSAPPNAME(application,sap-provisioning,onboarder)'];
    grantor.authorities = [];
    const { application } = await h.directory.registerApplication(grantor, h.provider.id);
    // Asks for it and is granted; asks for it and is not; accepts everything granted, but nothing is granted to it.
    const onboarder = await h.directory.registerApplication(security('onboarder', { authorities: ['$XSAPPNAME(application,grantor).Callback'] }), h.provider.id);
    const intruder = await h.directory.registerApplication(security('intruder', { authorities: ['$XSAPPNAME(application,grantor).Callback'] }), h.provider.id);
    const greedy = await h.directory.registerApplication(security('greedy', { authorities: ['$ACCEPT_GRANTED_AUTHORITIES'] }), h.provider.id);
    const own = await startCallbacks({
      provisioning: createProvisioning({ directory: h.directory, records: h.records, storage: h.storage, application, adminRoleCollection: 'grantor_Administrator', tenantUrlFor, deleteZoneKeys: (zoneId) => h.server.keys.deleteKeys(zoneId), logger: createMemoryLogger() }),
      verifyToken: verifierFor(h),
    });
    try {
      const as = async (c: { application: { clientId: string }; clientSecret: string }) => {
        const t = await clientToken(h, 'provider', { id: c.application.clientId, secret: c.clientSecret });
        return (await call('GET', '/callback/v1.0/dependencies', { token: t, server: own })).status;
      };
      expect(await as(onboarder)).toBe(200);
      expect(await as(intruder)).toBe(403);
      expect(await as(greedy)).toBe(403);
      // grantor's own client did not list the scope in its authorities: not a caller either.
      expect(await as({ application, clientSecret: (await h.directory.registerApplication(grantor, h.provider.id)).clientSecret })).toBe(403);
    } finally {
      await own.close();
    }
  });

  it('checks the scope name it is configured with', async () => {
    const own = await startCallbacks({ provisioning: provisioningFor(h), verifyToken: verifierFor(h), scopeName: 'Onboarding' });
    try {
      const res = await call('GET', '/callback/v1.0/dependencies', { server: own });
      expect(res.status).toBe(403);
      expect(res.headers['www-authenticate']).toContain('scope="myapp!t1.Onboarding"');
    } finally {
      await own.close();
    }
  });
});

describe('synchronous callbacks', () => {
  it('subscribes with PUT: 200 text/plain tenant URL; the same PUT again answers the same', async () => {
    const res = await call('PUT', `/callback/v1.0/tenants/${guid(10)}`, { body: payload(10, 'Dunder') });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe('https://dunder.app.example.com');
    const zone = await h.directory.getZone(guid(10));
    expect(zone?.subdomain).toBe('dunder');
    expect((await h.directory.getUserByName(guid(10), 'admin@Dunder.example'))?.roleCollections).toEqual(['myapp_Administrator']);
    const again = await call('PUT', `/callback/v1.0/tenants/${guid(10)}`, { body: payload(10, 'dunder') });
    expect(again.status).toBe(200);
    expect(again.text).toBe(res.text);
    expect(await h.directory.listUsers(guid(10))).toHaveLength(1);
    const update = await call('PUT', `/callback/v1.0/tenants/${guid(10)}`, { body: payload(10, 'dunder', { eventType: 'UPDATE' }) });
    expect(update.status).toBe(200);
  });

  it('answers 409 with a coded error and a clear message when another tenant holds the subdomain', async () => {
    await call('PUT', `/callback/v1.0/tenants/${guid(11)}`, { body: payload(11, 'sterling') });
    const res = await call('PUT', `/callback/v1.0/tenants/${guid(12)}`, { body: payload(12, 'sterling') });
    expect(res.status).toBe(409);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_SUBDOMAIN_TAKEN');
    expect(res.json().error).toMatchObject({ code: 'ZG_ERR_TENANT_SUBDOMAIN_TAKEN', status: 409 });
    expect(res.json().error.message).toContain('"sterling" is already used by another tenant');
  });

  it('unsubscribes with DELETE (sessions revoked, host gone); an unknown tenant is a 200 no-op', async () => {
    await call('PUT', `/callback/v1.0/tenants/${guid(13)}`, { body: payload(13, 'bluth') });
    const res = await call('DELETE', `/callback/v1.0/tenants/${guid(13)}`);
    expect(res.status).toBe(200);
    expect(await h.directory.getZone(guid(13))).toBeUndefined();
    expect(revoked).toContain('bluth');
    expect((await h.call('bluth', { path: '/.well-known/openid-configuration' })).status).toBe(404);
    const unknown = await call('DELETE', `/callback/v1.0/tenants/${guid(14)}`);
    expect(unknown.status).toBe(200);
  });

  it('answers GET /callback/v1.0/dependencies with the configured array', async () => {
    const res = await call('GET', '/callback/v1.0/dependencies');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.json()).toEqual([{ xsappname: 'destination-xsappname!b404' }]);
  });

  it('declines paths that are not callbacks, and answers wrong methods and unknown callback paths itself', async () => {
    expect((await call('GET', '/callbackx')).status).toBe(418);
    expect((await call('GET', '/')).status).toBe(418);
    const post = await call('POST', `/callback/v1.0/tenants/${guid(15)}`, { body: payload(15, 'posted') });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('PUT, DELETE');
    expect((await call('GET', '/callback/v1.0/tenants')).status).toBe(404);
    expect((await call('GET', `/callback/v1.0/tenants/${guid(15)}/extra`)).status).toBe(404);
  });
});

describe('malformed requests get precise 400s', () => {
  const cases: [string, { raw?: string; body?: unknown; headers?: Record<string, string>; path?: string }, RegExp][] = [
    ['not JSON', { raw: '{"subscribedSubdomain":' }, /not valid JSON/],
    ['wrong content type', { raw: 'subscribedSubdomain=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, /must be JSON/],
    ['an array', { body: [payload(20, 'arr')] }, /JSON object/],
    ['no subdomain', { body: { ...payload(20, 'x'), subscribedSubdomain: undefined } }, /subscribedSubdomain is required/],
    ['a subdomain that is no DNS label', { body: payload(20, 'evil.example.com') }, /not a DNS label/],
    ['a subdomain of the wrong type', { body: { ...payload(20, 'x'), subscribedSubdomain: 42 } }, /subscribedSubdomain must be a string/],
    ['a tenant id other than the path', { body: payload(21, 'mismatch') }, /does not match the tenant id of the path/],
    ['an unknown eventType', { body: payload(20, 'evt', { eventType: 'DELETE' }) }, /eventType must be CREATE or UPDATE/],
    ['userInfo of the wrong type', { body: payload(20, 'ui', { userInfo: 'admin' }) }, /userInfo must be an object/],
    ['a userInfo field of the wrong type', { body: payload(20, 'ui', { userInfo: { userName: ['a'] } }) }, /userInfo.userName must be a string/],
    ['an overlong field', { body: payload(20, 'ui', { userInfo: { userName: 'a'.repeat(300) } }) }, /at most 255/],
    ['a bad e-mail', { body: payload(20, 'ui', { userInfo: { userName: 'u', email: 'nope' } }) }, /e-mail/],
    ['a tenant id that is no GUID', { body: { ...payload(20, 'x'), subscribedTenantId: undefined }, path: '/callback/v1.0/tenants/..%2F..' }, /GUID/],
    ['broken percent-encoding', { body: payload(20, 'x'), path: '/callback/v1.0/tenants/%E0%A4%A' }, /percent-encoding/],
  ];
  it.each(cases)('%s', async (_name, input, message) => {
    const res = await call('PUT', input.path ?? `/callback/v1.0/tenants/${guid(20)}`, input);
    expect(res.status).toBe(400);
    const error = res.json().error;
    expect(error.code).toMatch(/^ZG_ERR_(BAD_REQUEST|TENANT_INVALID)$/);
    expect(error.message).toMatch(message);
    expect(await h.directory.getZone(guid(20))).toBeUndefined();
  });

  it('refuses a body over the limit with 413, without parsing it', async () => {
    const res = await call('PUT', `/callback/v1.0/tenants/${guid(22)}`, { body: payload(22, 'big', { additionalInformation: { pad: 'x'.repeat(8000) } }) });
    expect(res.status).toBe(413);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_PAYLOAD_TOO_LARGE');
    expect(await h.directory.getZone(guid(22))).toBeUndefined();
  });

  it('tolerates fields it does not know, as the registry adds them over time', async () => {
    const res = await call('PUT', `/callback/v1.0/tenants/${guid(23)}`, { body: payload(23, 'tolerant', { someFutureField: { a: [1] } }) });
    expect(res.status).toBe(200);
  });
});

describe('asynchronous mode (STATUS_CALLBACK)', () => {
  const STATUS = '/saas-manager/v1/subscription-callback/job-1/result';

  it('answers 202 at once, then PUTs SUCCEEDED with the tenant URL and a client-credentials token', async () => {
    const res = await call('PUT', `/callback/v1.0/tenants/${guid(30)}`, { body: payload(30, 'async-ok'), headers: { STATUS_CALLBACK: STATUS } });
    expect(res.status).toBe(202);
    const [report] = await registry.waitForReports(1);
    expect(report).toMatchObject({
      path: STATUS,
      body: { status: 'SUCCEEDED', message: 'https://async-ok.app.example.com', subscriptionUrl: 'https://async-ok.app.example.com' },
    });
    expect(report!.authorization).toMatch(/^Bearer registry-token-\d+$/);
    expect((await h.directory.getZone(guid(30)))?.subdomain).toBe('async-ok');
  });

  it('reports a failed subscription as FAILED with its message', async () => {
    await call('PUT', `/callback/v1.0/tenants/${guid(31)}`, { body: payload(31, 'async-taken') });
    const res = await call('PUT', `/callback/v1.0/tenants/${guid(32)}`, { body: payload(32, 'async-taken'), headers: { STATUS_CALLBACK: STATUS } });
    expect(res.status).toBe(202);
    const [report] = await registry.waitForReports(1);
    expect(report!.body.status).toBe('FAILED');
    expect(report!.body.message).toContain('"async-taken" is already used by another tenant');
    expect(report!.body.subscriptionUrl).toBeUndefined();
  });

  it('reports an unsubscription, and an unexpected failure without leaking internals', async () => {
    await call('PUT', `/callback/v1.0/tenants/${guid(33)}`, { body: payload(33, 'async-del') });
    expect((await call('DELETE', `/callback/v1.0/tenants/${guid(33)}`, { headers: { STATUS_CALLBACK: STATUS } })).status).toBe(202);
    const [report] = await registry.waitForReports(1);
    expect(report!.body.status).toBe('SUCCEEDED');
    expect(await h.directory.getZone(guid(33))).toBeUndefined();

    const broken = await startCallbacks({
      provisioning: provisioningFor(h, { revokeTenantSessions: async () => Promise.reject(new Error('redis at 10.0.0.7 refused')) }),
      verifyToken: verifierFor(h),
      registryUrl: `http://127.0.0.1:${registry.port}`,
      getClientToken: async () => 'registry-token',
      statusRetry: { baseDelayMs: 10 },
    });
    try {
      await call('PUT', `/callback/v1.0/tenants/${guid(34)}`, { body: payload(34, 'async-broken') });
      expect((await call('DELETE', `/callback/v1.0/tenants/${guid(34)}`, { headers: { STATUS_CALLBACK: STATUS }, server: broken })).status).toBe(202);
      const reports = await registry.waitForReports(2);
      expect(reports[1]!.body.status).toBe('FAILED');
      expect(reports[1]!.body.message).toMatch(/^The unsubscription failed \(request [0-9a-f-]+\)$/);
      expect(broken.logLines.some((l) => l.includes('redis at 10.0.0.7 refused'))).toBe(true);
    } finally {
      await broken.close();
    }
  });

  it('retries the status PUT with backoff and a fresh token until the registry takes it', async () => {
    registry.failures = 2;
    const before = tokenCount;
    expect((await call('PUT', `/callback/v1.0/tenants/${guid(35)}`, { body: payload(35, 'async-retry'), headers: { STATUS_CALLBACK: STATUS } })).status).toBe(202);
    const [report] = await registry.waitForReports(1);
    expect(registry.attempts).toBe(3);
    expect(tokenCount - before).toBe(3);
    expect(report!.body.status).toBe('SUCCEEDED');
    expect(cb.logLines.filter((l) => l.includes('subscription status report failed'))).toHaveLength(2);
  });

  it('logs a report it could not deliver with everything needed to repeat it', async () => {
    registry.failures = 100;
    expect((await call('PUT', `/callback/v1.0/tenants/${guid(36)}`, { body: payload(36, 'async-lost'), headers: { STATUS_CALLBACK: STATUS } })).status).toBe(202);
    await cb.handler.settled();
    expect(registry.attempts).toBe(4);
    const line = cb.logLines.find((l) => l.includes('could not be reported'));
    expect(JSON.parse(line!)).toMatchObject({ level: 'error', status: 'SUCCEEDED', subscriptionUrl: 'https://async-lost.app.example.com' });
  });

  it('refuses a STATUS_CALLBACK that is not a path on the registry, and a malformed body, before any 202', async () => {
    for (const target of ['https://evil.example/steal', '//evil.example/steal', 'steal', '/a\\b']) {
      const res = await call('PUT', `/callback/v1.0/tenants/${guid(37)}`, { body: payload(37, 'async-evil'), headers: { STATUS_CALLBACK: target } });
      expect(res.status, target).toBe(400);
    }
    const bad = await call('PUT', `/callback/v1.0/tenants/${guid(37)}`, { body: payload(37, 'not a label'), headers: { STATUS_CALLBACK: STATUS } });
    expect(bad.status).toBe(400);
    await cb.handler.settled();
    expect(registry.attempts).toBe(0);
    expect(await h.directory.getZone(guid(37))).toBeUndefined();
  });
});
