/**
 * Issue 12, the SaaS registry's side with the built-in zones, through the compiled command:
 *  - `zonegate zones registry-client` creates the client SAP's registry holds (granted the app's
 *    Callback scope as an authority by the unchanged demo xs-security.json) and prints its credentials;
 *  - `zonegate start` leaves the application's own credentials in <data dir>/xsuaa-credentials.json
 *    (0600) without a second command;
 *  - asynchronous subscriptions report to SAAS_REGISTRY_URL with a token of the configured registry
 *    client (SAAS_REGISTRY_CLIENT_ID/SECRET), not the application's.
 * The registry is a plain HTTP server of the test that records what it is sent.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoBackend, listenEcho } from '../../src/demo/echo-backend.js';
import { guid, ROOT, ROUTES, subscription } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { CLI, runCli, startCli, type RunningCli } from '../support/cli.js';

let dir: string;
let echo: http.Server;
let registry: http.Server;
let registryUrl: string;
const reports: { path: string; authorization: string; body: Record<string, unknown> }[] = [];
let env: Record<string, string>;

beforeAll(async () => {
  expect(fs.existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-registry-client-'));
  fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify(ROUTES));
  fs.copyFileSync(path.join(ROOT, 'xs-security.json'), path.join(dir, 'xs-security.json'));
  fs.mkdirSync(path.join(dir, 'public'));
  fs.writeFileSync(path.join(dir, 'public/index.html'), '<!doctype html><title>t</title>');
  echo = createEchoBackend();
  const echoUrl = await listenEcho(echo);
  registry = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      reports.push({ path: req.url ?? '', authorization: String(req.headers.authorization), body: JSON.parse(body || '{}') });
      res.writeHead(200).end();
    });
  });
  registry.listen(0, '127.0.0.1');
  await once(registry, 'listening');
  registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
  env = {
    PATH: process.env.PATH ?? '',
    ZONEGATE_DATA_DIR: path.join(dir, 'data'),
    ZONEGATE_SECRET_KEY: 'e'.repeat(64),
    TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$',
    UAA_DOMAIN: 'auth.localhost',
    destinations: JSON.stringify([{ name: 'echo', url: echoUrl, forwardAuthToken: true }]),
  };
});

afterAll(async () => {
  echo.closeAllConnections();
  await new Promise((r) => echo.close(r));
  await new Promise((r) => registry.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function token(port: number, clientId: string, clientSecret: string): Promise<string> {
  const res = await new ScriptedBrowser().post(`http://provider.auth.localhost:${port}/oauth/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }, { accept: 'application/json' });
  expect(res.status, res.text).toBe(200);
  return res.json().access_token as string;
}

describe('the SaaS registry client and the application credentials (compiled command)', () => {
  let registryClient: { clientid: string; clientsecret: string; xsappname: string };

  it('zones registry-client creates the registry client once and prints its credentials', async () => {
    const first = await runCli(['zones', 'registry-client', '--json'], { cwd: dir, env: { ...env, PORT: '8124' } });
    expect(first.code, first.stderr).toBe(0);
    registryClient = JSON.parse(first.stdout);
    expect(registryClient).toMatchObject({ clientid: expect.stringMatching(/^sb-tenant-onboarding!t\d+$/), url: 'http://provider.auth.localhost:8124', uaadomain: 'auth.localhost' });
    const again = await runCli(['zones', 'registry-client', '--json'], { cwd: dir, env: { ...env, PORT: '8124' } });
    expect(JSON.parse(again.stdout)).toEqual(registryClient);
    const text = await runCli(['zones', 'registry-client'], { cwd: dir, env: { ...env, PORT: '8124' } });
    expect(text.stdout).toMatch(/Authority: +zonegate-demo!t\d+\.Callback/);
  });

  it('refuses an application that grants the callback scope to nobody', async () => {
    const doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'xs-security.json'), 'utf8'));
    doc.xsappname = 'no-registry';
    doc.scopes = doc.scopes.map((s: Record<string, unknown>) => ({ ...s, 'grant-as-authority-to-apps': undefined }));
    fs.writeFileSync(path.join(dir, 'other-security.json'), JSON.stringify(doc));
    const res = await runCli(['zones', 'registry-client', '--security', 'other-security.json'], { cwd: dir, env });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('grants "$XSAPPNAME.Callback" to no application');
  });

  describe('zonegate start', () => {
    let gw: RunningCli;
    beforeAll(async () => {
      gw = await startCli(['start'], {
        cwd: dir,
        env: { ...env, PORT: '0', SAAS_REGISTRY_URL: registryUrl, SAAS_REGISTRY_CLIENT_ID: registryClient.clientid, SAAS_REGISTRY_CLIENT_SECRET: registryClient.clientsecret },
      });
    });
    afterAll(async () => {
      const exited = once(gw.child, 'exit');
      gw.child.kill('SIGTERM');
      await exited;
    });

    it('writes the application credentials to <data dir>/xsuaa-credentials.json (0600) and names the file, not the secret', async () => {
      const file = path.join(dir, 'data', 'xsuaa-credentials.json');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const credentials = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(credentials).toMatchObject({ clientid: expect.stringMatching(/^sb-zonegate-demo!t\d+$/), url: `http://provider.auth.localhost:${gw.port}`, tenantmode: 'shared' });
      expect(gw.output()).toContain('xsuaa-credentials.json');
      expect(gw.output()).not.toContain(credentials.clientsecret);
      await token(gw.port, credentials.clientid, credentials.clientsecret);
    });

    it("the registry client's token may call the callbacks; the status report carries a token of the registry client", async () => {
      const registryToken = await token(gw.port, registryClient.clientid, registryClient.clientsecret);
      expect(decodeJwt(registryToken).scope).toEqual(expect.arrayContaining([expect.stringMatching(/^zonegate-demo!t\d+\.Callback$/)]));
      const tenantId = guid(31);
      const put = await new ScriptedBrowser().request(`http://localhost:${gw.port}/callback/v1.0/tenants/${tenantId}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${registryToken}`, 'content-type': 'application/json', status_callback: '/api/v2.0/jobs/42' },
        body: JSON.stringify(subscription(tenantId, 'initech')),
      });
      expect(put.status, put.text).toBe(202);
      const deadline = Date.now() + 10_000;
      while (reports.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ path: '/api/v2.0/jobs/42', body: { status: 'SUCCEEDED', subscriptionUrl: `http://initech.localhost:${gw.port}` } });
      expect(decodeJwt(reports[0]!.authorization.replace(/^Bearer /, ''))).toMatchObject({ client_id: registryClient.clientid });
    });
  });
});
