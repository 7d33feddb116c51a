/// <reference lib="dom" />
/**
 * SAP's own application router (`@sap/approuter` 21.2.0, unmodified, as a child process) logs users in
 * against zonegate's built-in identity zones, in a real browser (Debian's Chromium via playwright-core).
 *
 * Real parts only: the zones run as `zonegate zones start` (the built CLI, SQLite in a temp dir), set up
 * with `zonegate tenants subscribe` and `zonegate users create`; SAP's router is bound to them with the
 * `xsuaa-credentials.json` that `zones start` writes, as an `xsuaa` service in `VCAP_SERVICES`; the
 * backend is a plain HTTP server on port 0 that echoes what it received.
 *
 * One test harness part touches SAP's process: Node does not resolve `*.localhost` (Chromium does, RFC
 * 6761 §6.3), so the router is started with `--require` of a preload that answers `dns.lookup` for names
 * ending in `.localhost` with 127.0.0.1 and leaves every other name to the system resolver. Nothing in
 * SAP's code is patched. The same preload lets `@sap/xssec` (in its own child process) reach the zones'
 * bare `uaadomain`; xssec fetches keys only over https, so it goes through a TLS terminator (a throw-away
 * CA trusted with NODE_EXTRA_CA_CERTS) that pipes bytes to the zones' HTTP port.
 *
 * APPROUTER_LOG=1 prints SAP's router's log after the run.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium.js';
import { runCli, startCli, type RunningCli } from '../support/cli.js';
import { makeTestTls, type TestTls } from '../support/tls.js';

const APPROUTER = path.resolve('node_modules/@sap/approuter/approuter.js');
const PASSWORD = 'Correct-Horse-42';
const UAA_DOMAIN = 'auth.localhost';
const TENANTS = {
  acme: { id: randomUUID(), admin: 'alice', viewer: 'bob' },
  globex: { id: randomUUID(), admin: 'carol', viewer: 'dave' },
} as const;
type Tenant = keyof typeof TENANTS;

/** The application: Viewer carries the Department attribute with a default, so tokens hold attributes. */
const XS_SECURITY = {
  xsappname: 'approuter-compat',
  'tenant-mode': 'shared',
  scopes: [
    { name: '$XSAPPNAME.Viewer', description: 'read' },
    { name: '$XSAPPNAME.Admin', description: 'administer' },
  ],
  attributes: [{ name: 'Department', description: 'department', valueType: 'string', valueRequired: false }],
  'role-templates': [
    { name: 'Viewer', 'scope-references': ['$XSAPPNAME.Viewer'], 'attribute-references': [{ name: 'Department', 'default-values': ['Sales'] }] },
    { name: 'Admin', 'scope-references': ['$XSAPPNAME.Viewer', '$XSAPPNAME.Admin'] },
  ],
  'role-collections': [
    { name: 'Compat Viewer', 'role-template-references': ['$XSAPPNAME.Viewer'] },
    { name: 'Compat Administrator', 'role-template-references': ['$XSAPPNAME.Admin'] },
  ],
  'oauth2-configuration': {
    'token-validity': 3600,
    // SAP's router sends http://<tenant>.app.localhost:<port>/login/callback and, on logout, its logoutPage.
    'redirect-uris': ['http://*.app.localhost:*/**'],
  },
};

/** SAP's xs-app.json: protected API, an Admin-only route, the user API, logout, a public page. */
const XS_APP = {
  authenticationMethod: 'route',
  logout: { logoutEndpoint: '/do/logout', logoutPage: '/public/bye' },
  routes: [
    { source: '^/public/(.*)$', target: '/public/$1', destination: 'backend', authenticationType: 'none' },
    { source: '^/api/(.*)$', target: '/api/$1', destination: 'backend', authenticationType: 'xsuaa', scope: '$XSAPPNAME.Viewer' },
    { source: '^/admin/(.*)$', target: '/admin/$1', destination: 'backend', authenticationType: 'xsuaa', scope: '$XSAPPNAME.Admin' },
    { source: '^/user-api(.*)', target: '$1', service: 'sap-approuter-userapi' },
  ],
};

/** Loaded into SAP's router and the xssec child only: `*.localhost` is loopback, as in Chromium. */
const DNS_PRELOAD = `
const dns = require('node:dns');
const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (typeof options === 'function') { callback = options; options = {}; }
  if (typeof options === 'number') options = { family: options };
  if (typeof hostname === 'string' && /(^|\\.)localhost\\.?$/i.test(hostname)) {
    if (options && options.all) return process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);
    return process.nextTick(callback, null, '127.0.0.1', 4);
  }
  return lookup.call(this, hostname, options, callback);
};
`;

/** @sap/xssec 4 validates the token the backend received and reads the user from it. */
const XSSEC_CHILD = `
const { XsuaaService } = require('@sap/xssec');
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', async () => {
  const { credentials, token } = JSON.parse(input);
  try {
    const ctx = await new XsuaaService(credentials).createSecurityContext(token);
    process.stdout.write(JSON.stringify({
      ok: true,
      logonName: ctx.getLogonName(),
      email: ctx.getEmail(),
      zoneId: ctx.getZoneId(),
      subdomain: ctx.getSubdomain(),
      viewer: ctx.checkLocalScope('Viewer'),
      admin: ctx.checkLocalScope('Admin'),
      department: ctx.getAttribute('Department'),
    }));
  } catch (err) {
    process.stdout.write(JSON.stringify({ ok: false, error: err && err.constructor && err.constructor.name, message: String(err && err.message) }));
  }
});
`;

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

const claimsOf = (authorization: string | string[] | undefined): Record<string, any> =>
  JSON.parse(Buffer.from(String(authorization).replace(/^Bearer /, '').split('.')[1]!, 'base64url').toString());

let tmp: string;
let zones: RunningCli | undefined;
let approuter: ChildProcess | undefined;
let approuterOut = '';
let approuterPort = 0;
let backend: http.Server | undefined;
let terminator: net.Server | undefined;
let terminatorPort = 0;
const terminatorSockets = new Set<net.Socket>();
let testTls: TestTls | undefined;
let browser: Browser | undefined;
let credentials: Record<string, string>;
const seen: Seen[] = [];
const started = Date.now();

const base = (tenant: Tenant) => `http://${tenant}.app.localhost:${approuterPort}`;
const zoneHost = (tenant: Tenant) => `${tenant}.${UAA_DOMAIN}:${zones!.port}`;

/** Waits (bounded) until `output()` matches, or the process exits first. */
function waitForOutput(child: ChildProcess, output: () => string, pattern: RegExp, what: string, ms = 60_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = output().match(pattern);
      if (!m) return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${what} exited with ${code} before it was ready:\n${output()}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what} not ready within ${ms} ms:\n${output()}`));
    }, ms);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-approuter-'));
  const zonesDir = path.join(tmp, 'zones');
  const routerDir = path.join(tmp, 'approuter');
  fs.mkdirSync(zonesDir);
  fs.mkdirSync(routerDir);
  fs.writeFileSync(path.join(zonesDir, 'xs-security.json'), JSON.stringify(XS_SECURITY, null, 2));
  const preload = path.join(tmp, 'localhost-dns.cjs');
  fs.writeFileSync(preload, DNS_PRELOAD);

  // The identity zones: tenants subscribed and users created with the CLI, then `zones start`.
  const zonesEnv = {
    PATH: process.env.PATH,
    HOME: tmp,
    PORT: '0',
    HOST: '127.0.0.1',
    UAA_DOMAIN,
    ZONEGATE_DATA_DIR: path.join(zonesDir, 'data'),
    ZONEGATE_SECRET_KEY: Buffer.alloc(32, 7).toString('hex'),
    TENANT_URL_TEMPLATE: 'http://{subdomain}.app.localhost',
    LOG_LEVEL: 'info',
  };
  const cli = async (...args: string[]) => {
    const r = await runCli(args, { cwd: zonesDir, env: zonesEnv });
    if (r.code !== 0) throw new Error(`zonegate ${args.join(' ')}: ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  for (const [tenant, t] of Object.entries(TENANTS)) {
    await cli('tenants', 'subscribe', tenant, '--id', t.id);
    await cli('users', 'create', tenant, t.admin, '--email', `${t.admin}@${tenant}.example`, '--password', PASSWORD, '--given-name', t.admin, '--family-name', tenant, '--role-collection', 'Compat Administrator');
    await cli('users', 'create', tenant, t.viewer, '--email', `${t.viewer}@${tenant}.example`, '--password', PASSWORD, '--given-name', t.viewer, '--family-name', tenant, '--role-collection', 'Compat Viewer');
  }
  zones = await startCli(['zones', 'start'], { cwd: zonesDir, env: zonesEnv });
  credentials = JSON.parse(fs.readFileSync(path.join(zonesEnv.ZONEGATE_DATA_DIR, 'xsuaa-credentials.json'), 'utf8'));

  // The backend: answers every request with what it received.
  backend = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, authorization: req.headers.authorization ?? null }));
  });
  await new Promise<void>((r) => backend!.listen(0, '127.0.0.1', r));

  // SAP's router, bound to the zones.
  fs.writeFileSync(path.join(routerDir, 'xs-app.json'), JSON.stringify(XS_APP, null, 2));
  approuter = spawn(process.execPath, ['--require', preload, APPROUTER], {
    cwd: routerDir,
    env: {
      PATH: process.env.PATH,
      HOME: tmp,
      PORT: '0',
      TENANT_HOST_PATTERN: '^(.*)\\.app\\.localhost$',
      VCAP_SERVICES: JSON.stringify({ xsuaa: [{ name: 'uaa', label: 'xsuaa', plan: 'application', tags: ['xsuaa'], credentials }] }),
      destinations: JSON.stringify([{ name: 'backend', url: `http://127.0.0.1:${(backend.address() as AddressInfo).port}`, forwardAuthToken: true }]),
      XS_APP_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  approuter.stdout!.on('data', (d: Buffer) => (approuterOut += d));
  approuter.stderr!.on('data', (d: Buffer) => (approuterOut += d));
  const [, port] = await waitForOutput(approuter, () => approuterOut, /listening on port: (\d+)/, "SAP's approuter");
  approuterPort = Number(port);

  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await stop(approuter);
  await stop(zones?.child);
  await new Promise<void>((r) => (backend ? backend.close(() => r()) : r()));
  backend?.closeAllConnections();
  for (const socket of terminatorSockets) socket.destroy();
  await new Promise<void>((r) => (terminator ? terminator.close(() => r()) : r()));
  testTls?.cleanup();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (process.env.APPROUTER_LOG) console.log(approuterOut);
  console.log(`approuter compat: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 60_000);

/** Opens `path` on SAP's router, lands on the tenant's zone login page, signs in and returns to `path`. */
async function login(page: Page, tenant: Tenant, userName: string, target: string): Promise<void> {
  await page.goto(`${base(tenant)}${target}`);
  expect(new URL(page.url()).host, 'the login page is the tenant\'s own zone').toBe(zoneHost(tenant));
  await page.fill('#username', userName);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${base(tenant)}${target}`, { timeout: 60_000 }), page.click('button[type=submit]')]);
}

/** A fresh browser profile; waits are generous (the machine is shared), each bounded. */
async function newContext(): Promise<BrowserContext> {
  const context = await browser!.newContext();
  context.setDefaultTimeout(60_000);
  context.setDefaultNavigationTimeout(60_000);
  return context;
}

/** Every document request of the page, redirects included, in order. */
function recordNavigations(page: Page): URL[] {
  const urls: URL[] = [];
  page.on('request', (request) => {
    if (request.isNavigationRequest()) urls.push(new URL(request.url()));
  });
  return urls;
}

async function bodyJson(page: Page): Promise<any> {
  return JSON.parse((await page.textContent('body')) ?? 'null');
}

function lastSeen(pathPrefix: string): Seen {
  const hit = [...seen].reverse().find((s) => s.url.startsWith(pathPrefix));
  expect(hit, `the backend received ${pathPrefix}`).toBeDefined();
  return hit!;
}

describe("SAP's @sap/approuter against zonegate's identity zones", () => {
  for (const tenant of Object.keys(TENANTS) as Tenant[]) {
    const t = TENANTS[tenant];
    it(`logs ${t.admin} in on ${tenant} at ${tenant}'s zone; the backend gets ${tenant}'s JWT; scoped route, user API, tenant check and logout work`, async () => {
      const context = await newContext();
      try {
        const page = await context.newPage();
        const navigations = recordNavigations(page);
        await login(page, tenant, t.admin, `/api/hello?tenant=${tenant}`);
        // The code flow SAP's router ran: authorize at the tenant's zone, back to its own callback.
        const authorize = navigations.find((u) => u.host === zoneHost(tenant) && u.pathname === '/oauth/authorize');
        expect(authorize?.searchParams.get('client_id')).toBe(credentials.clientid);
        expect(authorize?.searchParams.get('redirect_uri')).toBe(`${base(tenant)}/login/callback`);
        expect(navigations.some((u) => u.origin === base(tenant) && u.pathname === '/login/callback' && u.searchParams.has('code'))).toBe(true);
        const answer = await bodyJson(page);
        expect(answer.url).toBe(`/api/hello?tenant=${tenant}`);
        const claims = claimsOf(lastSeen(`/api/hello?tenant=${tenant}`).headers.authorization);
        expect(claims).toMatchObject({
          zid: t.id,
          ext_attr: { zdn: tenant },
          user_name: t.admin,
          client_id: credentials.clientid,
          iss: `http://${zoneHost(tenant)}/oauth/token`,
        });
        expect(claims.scope).toEqual(expect.arrayContaining(['openid', `${credentials.xsappname}.Viewer`, `${credentials.xsappname}.Admin`]));

        // A route with a scope the user holds.
        const admin = await page.goto(`${base(tenant)}/admin/panel`);
        expect(admin!.status()).toBe(200);
        expect(claimsOf(lastSeen('/admin/panel').headers.authorization).zid).toBe(t.id);

        // SAP's user API shows the user of this tenant.
        const me = await page.goto(`${base(tenant)}/user-api/currentUser`);
        expect(me!.status()).toBe(200);
        const user = await bodyJson(page);
        expect(user).toMatchObject({ name: t.admin, email: `${t.admin}@${tenant}.example`, firstname: t.admin, lastname: tenant, displayName: `${t.admin} ${tenant} (${t.admin})` });
        expect(user.scopes).toEqual(expect.arrayContaining([`${credentials.xsappname}.Viewer`, `${credentials.xsappname}.Admin`]));

        // SAP's router compares the token's ext_attr.zdn with the host's tenant: this session is refused on the other tenant's host.
        const other: Tenant = tenant === 'acme' ? 'globex' : 'acme';
        const session = (await context.cookies(base(tenant))).find((c) => c.name === 'JSESSIONID');
        expect(session, 'SAP\'s session cookie').toBeDefined();
        const elsewhere = await newContext();
        try {
          await elsewhere.addCookies([{ name: 'JSESSIONID', value: session!.value, domain: `${other}.app.localhost`, path: '/' }]);
          const before = seen.length;
          const foreign = await (await elsewhere.newPage()).goto(`${base(other)}/api/foreign`);
          expect(foreign!.status()).toBe(403);
          // The reason goes to SAP's log, not to the browser.
          await expect.poll(() => approuterOut, { timeout: 10_000 }).toMatch(/\/api\/foreign completed with status 403 You cannot use session from another tenant/);
          expect(seen.length).toBe(before);
        } finally {
          await elsewhere.close();
        }

        // Logout through SAP's router: it ends its session, sends the browser to the zone's /logout.do,
        // which ends the zone's session and returns to the logout page.
        navigations.length = 0;
        await page.goto(`${base(tenant)}/do/logout`);
        await page.waitForURL(`${base(tenant)}/public/bye`, { timeout: 60_000 });
        const logoutDo = navigations.find((u) => u.host === zoneHost(tenant) && u.pathname === '/logout.do');
        expect(logoutDo?.searchParams.get('client_id')).toBe(credentials.clientid);
        expect(logoutDo?.searchParams.get('redirect')).toBe(`${base(tenant)}/public/bye`);
        expect((await context.cookies(base(tenant))).find((c) => c.name === 'JSESSIONID')).toBeUndefined();
        // The next protected request goes to the zone's login page again (no silent SSO login).
        await page.goto(`${base(tenant)}/api/after-logout`);
        expect(new URL(page.url()).host).toBe(zoneHost(tenant));
        expect(await page.locator('#username').count()).toBe(1);
        expect(seen.some((s) => s.url.startsWith('/api/after-logout'))).toBe(false);
      } finally {
        await context.close();
      }
    }, 120_000);

    it(`refuses ${tenant}'s Admin route to ${t.viewer} (Viewer only) with 403; user-api/attributes and xssec 4 read ${t.viewer}'s attributes`, async () => {
      const context = await newContext();
      try {
        const page = await context.newPage();
        await login(page, tenant, t.viewer, '/api/data');
        const token = String(lastSeen('/api/data').headers.authorization).replace(/^Bearer /, '');
        const claims = claimsOf(`Bearer ${token}`);
        expect(claims).toMatchObject({ zid: t.id, ext_attr: { zdn: tenant }, user_name: t.viewer });
        expect(claims.scope).toContain(`${credentials.xsappname}.Viewer`);
        expect(claims.scope).not.toContain(`${credentials.xsappname}.Admin`);

        const before = seen.length;
        const admin = await page.goto(`${base(tenant)}/admin/panel`);
        expect(admin!.status()).toBe(403);
        expect(seen.slice(before).some((s) => s.url.startsWith('/admin/'))).toBe(false);

        // SAP's /user-api/attributes asks the zone's /userinfo with the user's token and adds its user_attributes
        // (on any failure it quietly answers without them).
        const attributes = await page.goto(`${base(tenant)}/user-api/attributes`);
        expect(attributes!.status()).toBe(200);
        expect(await bodyJson(page)).toMatchObject({ name: t.viewer, email: `${t.viewer}@${tenant}.example`, Department: ['Sales'] });

        const outcome = await runXssec(token);
        expect(outcome).toEqual({
          ok: true,
          logonName: t.viewer,
          email: `${t.viewer}@${tenant}.example`,
          zoneId: t.id,
          subdomain: tenant,
          viewer: true,
          admin: false,
          department: ['Sales'],
        });
      } finally {
        await context.close();
      }
    }, 120_000);
  }
});

/**
 * xssec fetches keys from `https://<uaadomain>/token_keys?zid=`: a TLS terminator on a port of its own
 * (started on first use) pipes to the zones, and the child gets `uaadomain` with that port.
 */
async function runXssec(token: string): Promise<Record<string, unknown>> {
  if (!terminator) {
    testTls = makeTestTls([UAA_DOMAIN, `*.${UAA_DOMAIN}`]);
    const server = tls.createServer({ key: testTls.key, cert: testTls.cert }, (socket) => {
      const upstream = net.connect(zones!.port, '127.0.0.1');
      terminatorSockets.add(socket).add(upstream);
      socket.once('close', () => terminatorSockets.delete(socket));
      upstream.once('close', () => terminatorSockets.delete(upstream));
      socket.pipe(upstream).pipe(socket);
      const end = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', end);
      upstream.on('error', end);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    terminator = server;
    terminatorPort = (server.address() as AddressInfo).port;
  }
  const xssecCredentials = { ...credentials, uaadomain: `https://${UAA_DOMAIN}:${terminatorPort}` };
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--require', path.join(tmp, 'localhost-dns.cjs'), '-e', XSSEC_CHILD],
      { cwd: process.cwd(), env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: testTls!.caFile }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`xssec child failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as Record<string, unknown>);
      },
    );
    child.stdin!.end(JSON.stringify({ credentials: xssecCredentials, token }));
  });
}
