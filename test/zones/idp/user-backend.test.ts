/**
 * Issue 13, a tenant's user backend: the zone's own login form, the password checked by the tenant's
 * real HTTPS endpoint (port 0, a throw-away CA), which verifies the zone's HMAC signature. The user
 * becomes a shadow user of the backend's origin with its mapped role collections; the password is in
 * no record. A backend that is down, slow, behind an untrusted certificate or refusing the signature
 * ends on a clear 503 page, never a crash and never "wrong password".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Zone } from '../../../src/zones/directory/types.js';
import { ensureZone } from '../../../src/zones/start.js';
import { ScriptedBrowser, hiddenFields } from '../../support/browser.js';
import { startDemoGateway, type TestGateway } from '../../support/gateway.js';
import { makeTestTls, type TestTls } from '../../support/tls.js';
import { adminCall, appUrl, zoneAdminToken } from './zone-admin.js';

const SECRET = 'shared-secret-of-the-tenant-backend-0123456789';
const PASSWORDS: Record<string, string> = { carol: 'carol-backend-pass-1', dave: 'dave-backend-pass-1', erin: 'erin-backend-pass-1' };

let gw: TestGateway;
let zone: Zone;
let tls: TestTls;
let backend: https.Server;
let backendUrl: string;
let instance: string;
let token: string;
const calls: { path: string; signatureOk: boolean; body: Record<string, unknown> }[] = [];
const held: (() => void)[] = [];

const admin = (method: string, path: string, body?: unknown) => adminCall(gw, 'ubk', token, method, path, body);

function verify(header: string | undefined, raw: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', SECRET).update(`${m[1]}.${raw}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')) && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

/** The tenant's backend, as a tenant would write it: signature first, then the credentials. */
function startBackend(): Promise<void> {
  backend = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const signatureOk = verify(req.headers['x-zonegate-signature'] as string | undefined, raw);
      const body = JSON.parse(raw) as Record<string, unknown>;
      calls.push({ path: req.url ?? '', signatureOk, body });
      const send = (status: number, answer: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      };
      if (!signatureOk) return send(401, { error: 'bad signature' });
      if (req.url === '/slow') {
        held.push(() => send(200, { valid: false }));
        return;
      }
      const user = String(body.username);
      if (PASSWORDS[user] !== body.password) return send(200, { valid: false });
      send(200, { valid: true, user: { user_name: user, email: `${user}@backend.example`, given_name: user.toUpperCase(), groups: user === 'carol' ? ['admins'] : ['staff'] } });
    });
  });
  return new Promise((resolve) => backend.listen(0, '127.0.0.1', () => resolve()));
}

function userBackend(originKey: string, config: Record<string, unknown>) {
  return { type: 'userbackend', originKey, name: `Backend ${originKey}`, config: { url: `${backendUrl}/check`, caCertificate: tls.ca, sharedSecret: SECRET, timeoutMs: 10_000, ...config } };
}

/** The zone's form for the backend `origin`, opened from the application. */
async function openForm(browser: ScriptedBrowser, origin: string) {
  const start = await browser.get(`${appUrl(gw, 'ubk')}/api/whoami`);
  expect(start.status).toBe(302);
  const authorize = new URL(String(start.headers.location));
  authorize.searchParams.set('idp', origin);
  const page = await browser.get(authorize.href);
  expect(page.status, page.text.slice(0, 300)).toBe(200);
  return page;
}

async function signIn(browser: ScriptedBrowser, origin: string, user: string, password: string) {
  const page = await openForm(browser, origin);
  return browser.post(`http://ubk.auth.localhost:${gw.port}/login.do`, { ...hiddenFields(page.text), username: user, password });
}

beforeAll(async () => {
  tls = makeTestTls(['localhost']);
  await startBackend();
  backendUrl = `https://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  gw = await startDemoGateway();
  const directory = gw.running.directory!;
  const application = (await directory.getApplicationByClientId(gw.running.credentials!.clientid))!;
  instance = application.instanceName;
  zone = await ensureZone(directory, 'ubk', 'User backend tenant');
  await directory.subscribe(application, zone.id);
  token = (await zoneAdminToken(gw, 'ubk', zone)).token;
}, 60_000);

afterAll(async () => {
  for (const release of held) release();
  await gw?.stop();
  await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
  tls?.cleanup();
});

describe('a tenant\'s user backend over the admin API', () => {
  it('is added with its shared secret sealed, never shown', async () => {
    const created = await admin('POST', '/identity-providers', userBackend('backend', {}));
    expect(created.status, created.text).toBe(201);
    expect(created.json()).toMatchObject({ type: 'userbackend', originKey: 'backend', config: { url: `${backendUrl}/check`, timeoutMs: 10_000 } });
    expect(created.text).not.toContain(SECRET);
    const mapped = await admin('PUT', `/identity-providers/${created.json().id}/role-collection-mappings`, [{ group: 'admins', roleCollection: 'Demo Administrator' }]);
    expect(mapped.status, mapped.text).toBe(200);
    const row = await gw.running.records.one<{ config: string; sealed_secret: string }>(`SELECT config, sealed_secret FROM identity_providers WHERE origin_key = 'backend'`);
    expect(row!.config + row!.sealed_secret).not.toContain(SECRET);
    expect(JSON.parse(row!.sealed_secret).alg).toBe('A256GCM');
    expect((await admin('GET', '/identity-providers')).text).not.toContain(SECRET);
    // The variants the attacks below use.
    const closed = https.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    for (const [origin, config] of [
      ['wrong-secret', { sharedSecret: 'not-the-secret-the-backend-knows-0123456789' }],
      ['down', { url: `https://127.0.0.1:${closedPort}/check` }],
      ['slow', { url: `${backendUrl}/slow`, timeoutMs: 500 }],
      ['untrusted', { caCertificate: undefined }],
    ] as const) {
      const res = await admin('POST', '/identity-providers', userBackend(origin, config));
      expect(res.status, res.text).toBe(201);
    }
  });

  it('refuses a bad config, naming each field', async () => {
    const res = await admin('POST', '/identity-providers', {
      type: 'userbackend',
      originKey: 'bad',
      config: { url: 'http://backend.example.com/check', sharedSecret: 'short', caCertificate: 'not pem', timeoutMs: 60_000 },
    });
    expect(res.status).toBe(400);
    const text = res.json().error_description as string;
    for (const field of ['config.url must be https', 'config.sharedSecret', 'config.caCertificate', 'config.timeoutMs']) expect(text).toContain(field);
  });
});

describe('login at the zone\'s form, checked by the tenant\'s backend', () => {
  it('a backend user logs in: shadow user of origin "backend", mapped scopes, a signed call, no password stored', async () => {
    const browser = new ScriptedBrowser();
    const page = await openForm(browser, 'backend');
    expect(page.text).toContain('Sign in with your Backend backend account');
    const login = await browser.post(`http://ubk.auth.localhost:${gw.port}/login.do`, { ...hiddenFields(page.text), username: 'carol', password: PASSWORDS.carol! });
    expect(login.status, login.text.slice(0, 300)).toBe(302);
    const done = await browser.follow(login);
    expect(done.status, done.text.slice(0, 300)).toBe(200);
    const claims = done.json().jwt.claims;
    expect(claims).toMatchObject({ origin: 'backend', user_name: 'carol', email: 'carol@backend.example', given_name: 'CAROL', zid: zone.id });
    expect(claims.scope).toContain(`${instance}.Admin`);
    const call = calls.at(-1)!;
    expect(call).toMatchObject({ path: '/check', signatureOk: true, body: { username: 'carol', zone: zone.id, origin: 'backend' } });
    // The user is a shadow user without a password, and the password is in no row of the records.
    const users = await gw.running.records.all<Record<string, unknown>>('SELECT * FROM users WHERE zone_id = $1 AND origin = $2', [zone.id, 'backend']);
    expect(users).toHaveLength(1);
    expect(users[0]!.password_hash).toBeNull();
    for (const table of ['users', 'identity_providers', 'user_role_collections']) {
      const rows = await gw.running.records.all<Record<string, unknown>>(`SELECT * FROM ${table}`);
      expect(JSON.stringify(rows)).not.toContain(PASSWORDS.carol);
    }
  });

  it('a wrong password shows the form again with the usual message', async () => {
    const res = await signIn(new ScriptedBrowser(), 'backend', 'dave', 'not-his-password');
    expect(res.status).toBe(401);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_LOGIN_FAILED');
    expect(res.text).toContain('The user name or password is incorrect.');
    expect(res.text).toContain('name="password"');
  });

  it('the local users cannot use the backend form to skip the backend', async () => {
    // The zone's own administrator, at the backend's form: the backend does not know them.
    const res = await signIn(new ScriptedBrowser(), 'backend', 'zone-admin', 'zone-admin-pass-1');
    expect(res.status).toBe(401);
  });

  for (const [origin, what] of [
    ['wrong-secret', 'a call signed with another secret (the backend refuses it)'],
    ['down', 'a backend that is down'],
    ['slow', 'a backend slower than the timeout'],
    ['untrusted', 'a backend whose certificate the zone does not trust'],
  ] as const) {
    it(`answers 503 ZG_ERR_IDP_UNAVAILABLE for ${what}`, async () => {
      const before = calls.length;
      const started = process.hrtime.bigint();
      const res = await signIn(new ScriptedBrowser(), origin, 'erin', PASSWORDS.erin!);
      expect(res.status, res.text.slice(0, 300)).toBe(503);
      expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_IDP_UNAVAILABLE');
      expect(res.text).toContain(`Backend ${origin}`);
      if (origin === 'wrong-secret') expect(calls.slice(before)).toMatchObject([{ signatureOk: false }]);
      // The slow backend holds its answer until the end of the tests: the zone gave up well before.
      if (origin === 'slow') expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(20_000);
      if (origin === 'untrusted' || origin === 'down') expect(calls.length).toBe(before);
      // Still serving: the working backend logs erin in right after.
      const ok = await signIn(new ScriptedBrowser(), 'backend', 'erin', PASSWORDS.erin!);
      expect(ok.status, ok.text.slice(0, 300)).toBe(302);
    });
  }
});

describe('an outage and the login lockout', () => {
  it('attempts the backend could not decide do not count: twelve 503s (the lock is at ten) and the user still logs in', async () => {
    for (let i = 0; i < 12; i++) {
      const res = await signIn(new ScriptedBrowser(), 'down', 'erin', PASSWORDS.erin!);
      expect(res.status, `attempt ${i + 1}`).toBe(503);
    }
    const ok = await signIn(new ScriptedBrowser(), 'backend', 'erin', PASSWORDS.erin!);
    expect(ok.status, ok.text.slice(0, 300)).toBe(302);
  }, 60_000);
});

describe('the README\'s sample backend', () => {
  let child: ChildProcess | undefined;
  let dir: string;
  afterAll(() => {
    child?.kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs as written and logs carol in through the zone', async () => {
    const readme = fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md'), 'utf8');
    const code = /<!-- user-backend-example -->\n```js\n([\s\S]*?)\n```/.exec(readme)?.[1];
    expect(code, 'README block after <!-- user-backend-example -->').toBeDefined();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-readme-backend-'));
    fs.writeFileSync(path.join(dir, 'user-backend.mjs'), code!);
    fs.writeFileSync(path.join(dir, 'key.pem'), tls.key);
    fs.writeFileSync(path.join(dir, 'cert.pem'), tls.cert);
    const free = net.createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
    const port = (free.address() as AddressInfo).port;
    await new Promise<void>((r) => free.close(() => r()));
    child = spawn(process.execPath, ['user-backend.mjs'], { cwd: dir, env: { SHARED_SECRET: SECRET, TLS_KEY: 'key.pem', TLS_CERT: 'cert.pem', PORT: String(port) }, stdio: 'ignore' });
    // Listening once a connection is accepted.
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
        socket.on('error', () => resolve(false));
      });
      if (up) break;
      if (i > 200) throw new Error('the README backend did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    const created = await admin('POST', '/identity-providers', { type: 'userbackend', originKey: 'readme', name: 'README backend', config: { url: `https://127.0.0.1:${port}/check`, caCertificate: tls.ca, sharedSecret: SECRET, timeoutMs: 10_000 } });
    expect(created.status, created.text).toBe(201);
    expect((await admin('PUT', `/identity-providers/${created.json().id}/role-collection-mappings`, [{ group: 'app-admins', roleCollection: 'Demo Administrator' }])).status).toBe(200);
    const wrong = await signIn(new ScriptedBrowser(), 'readme', 'carol', 'not-carols');
    expect(wrong.status).toBe(401);
    const browser = new ScriptedBrowser();
    const login = await signIn(browser, 'readme', 'carol', 'carol-pass-1');
    expect(login.status, login.text.slice(0, 300)).toBe(302);
    const done = await browser.follow(login);
    expect(done.status, done.text.slice(0, 300)).toBe(200);
    expect(done.json().jwt.claims).toMatchObject({ origin: 'readme', user_name: 'carol', email: 'carol@acme.example' });
    expect(done.json().jwt.claims.scope).toContain(`${instance}.Admin`);
  }, 60_000);
});
