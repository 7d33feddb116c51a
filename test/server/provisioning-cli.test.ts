/**
 * `zonegate tenants` as an operator runs it: the compiled command in its own process against a temp
 * data directory (`npm run build` first, as npm test does), then `zonegate start` on the same data
 * directory serves what the command subscribed, and the printed initial password logs in.
 */
import { CLI, runCli, startCli, type RunningCli } from '../support/cli.js';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoBackend, listenEcho } from '../../src/demo/echo-backend.js';
import { logIn, ROUTES, securityWithCallbackAuthority } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import type http from 'node:http';


let dir: string;
let echo: http.Server;
let env: Record<string, string>;

function run(args: string[], extra: Record<string, string> = {}, cwd = dir): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCli(args, { cwd, env: { PATH: process.env.PATH ?? '', ...env, ...extra } });
}

function startGateway(): Promise<RunningCli> {
  return startCli(['start'], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env, PORT: '0' } });
}

beforeAll(async () => {
  expect(fs.existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-tenants-cli-'));
  fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify(ROUTES));
  fs.writeFileSync(path.join(dir, 'xs-security.json'), securityWithCallbackAuthority());
  fs.mkdirSync(path.join(dir, 'public'));
  fs.writeFileSync(path.join(dir, 'public/index.html'), '<!doctype html><title>t</title>');
  echo = createEchoBackend();
  const echoUrl = await listenEcho(echo);
  env = {
    ZONEGATE_DATA_DIR: path.join(dir, 'data'),
    ZONEGATE_SECRET_KEY: 'c'.repeat(64),
    TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$',
    UAA_DOMAIN: 'auth.localhost',
    PORT: '8123',
    destinations: JSON.stringify([{ name: 'echo', url: echoUrl, forwardAuthToken: true }]),
  };
});

afterAll(async () => {
  echo.closeAllConnections();
  await new Promise((r) => echo.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('zonegate tenants (the compiled command)', () => {
  let password: string;

  it('subscribe prints the tenant URL (TENANT_HOST_PATTERN and PORT) and a one-time administrator password; a repeat changes nothing', async () => {
    const res = await run(['tenants', 'subscribe', 'initech', '--id', '00000000-0000-4000-8000-0000000000aa', '--admin-user', 'peter@initech.example']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).toBe('Subscribed tenant initech (id 00000000-0000-4000-8000-0000000000aa): http://initech.localhost:8123');
    password = /initial password: (\S+)$/.exec(lines[1]!)![1]!;

    const again = await run(['tenants', 'subscribe', 'initech', '--admin-user', 'peter@initech.example']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Already subscribed: tenant initech (id 00000000-0000-4000-8000-0000000000aa)');
    expect(again.stdout).toContain('password unchanged');
  });

  it('TENANT_URL_TEMPLATE gives the production URL', async () => {
    const res = await run(['tenants', 'list', '--json'], { TENANT_URL_TEMPLATE: 'https://{subdomain}.apps.example.com' });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual([
      expect.objectContaining({ subdomain: 'initech', tenantId: '00000000-0000-4000-8000-0000000000aa', url: 'https://initech.apps.example.com', admin: 'peter@initech.example' }),
    ]);
  });

  it('the gateway started on the same data directory serves the tenant, and the printed password logs in', async () => {
    const gw = await startGateway();
    try {
      expect(gw.output()).toContain('subscription callbacks mounted');
      const browser = new ScriptedBrowser();
      await logIn(browser, `http://initech.localhost:${gw.port}`, 'peter@initech.example', password);
      expect((await browser.get(`http://initech.localhost:${gw.port}/api/whoami`, { accept: 'application/json' })).status).toBe(200);
      expect((await new ScriptedBrowser().get(`http://nosuch.localhost:${gw.port}/`, { accept: 'application/json' })).status).toBe(404);

      // Unsubscribed by the command while the gateway runs: its tenant cache forgets within a second.
      const res = await run(['tenants', 'unsubscribe', 'initech']);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('Unsubscribed tenant initech');
      await new Promise((r) => setTimeout(r, 1100));
      const gone = await browser.get(`http://initech.localhost:${gw.port}/api/whoami`, { accept: 'application/json' });
      expect(gone.status).toBe(404);
      expect(gone.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_UNKNOWN');
    } finally {
      gw.child.kill('SIGTERM');
      await once(gw.child, 'exit');
    }
  });

  it('list after the unsubscription; an unknown tenant is nothing to do', async () => {
    expect((await run(['tenants', 'list'])).stdout.trim()).toBe('No tenants.');
    const res = await run(['tenants', 'unsubscribe', 'initech']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('nothing to do');
  });

  it('exit codes: 2 for usage errors, 1 without xs-security.json or for a refused subscription', async () => {
    const none = await run(['tenants']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('zonegate tenants subscribe <subdomain>');
    expect((await run(['tenants', 'subscribe'])).code).toBe(2);
    expect((await run(['tenants', 'subscribe', 'x', '--bogus'])).code).toBe(2);
    const help = await run(['tenants', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('zonegate tenants list [--json]');

    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-tenants-nosec-'));
    try {
      const res = await run(['tenants', 'list'], {}, elsewhere);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('xs-security.json');
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
    const invalid = await run(['tenants', 'subscribe', 'not_a_label']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/subdomain/i);
  });

  it('a zone made with zones create is told apart from a tenant, and tenants subscribe adopts it with its id and users', async () => {
    const created = await run(['zones', 'create', 'globex']);
    expect(created.code).toBe(0);
    const zoneId = /\(id ([0-9a-f-]{36})\)/.exec(created.stdout)![1]!;
    expect(created.stdout).toContain('It is an identity zone only');
    expect(created.stdout).toContain('zonegate tenants subscribe globex');
    const listed = (await run(['zones', 'list'])).stdout;
    expect(listed).toMatch(/\nglobex\s+\S+\s+globex\s+- \(zone only\)\n/);
    expect(listed).toMatch(/\nprovider\s+\S+\s+provider\s+zonegate-demo \(provider\)\n/);
    expect(listed).toContain('`zonegate tenants subscribe <subdomain>` subscribes the application in it.');
    expect((await run(['tenants', 'list'])).stdout).not.toContain('globex');

    expect((await run(['users', 'create', 'globex', 'bob', '--email', 'bob@globex.example', '--password', 'globex-test-pass-1'])).code).toBe(0);
    // The application's role collections apply only where it is subscribed.
    const early = await run(['users', 'assign', 'globex', 'bob', 'Demo Viewer']);
    expect(early.code).toBe(1);

    const subscribed = await run(['tenants', 'subscribe', 'globex']);
    expect(subscribed.stderr).toBe('');
    expect(subscribed.stdout).toContain(`Subscribed tenant globex (id ${zoneId})`);
    expect((await run(['users', 'assign', 'globex', 'bob', 'Demo Viewer'])).code).toBe(0);
    const zones = JSON.parse((await run(['zones', 'list', '--json'])).stdout) as { subdomain: string; applications: unknown[] }[];
    expect(zones.find((z) => z.subdomain === 'globex')!.applications).toEqual([{ xsappname: 'zonegate-demo', provider: false }]);
    expect(zones.find((z) => z.subdomain === 'provider')!.applications).toEqual([{ xsappname: 'zonegate-demo', provider: true }]);
    expect((await run(['tenants', 'list', '--json'])).stdout).toContain(`"tenantId": "${zoneId}"`);
    expect((await run(['tenants', 'unsubscribe', 'globex'])).code).toBe(0);
  });

  it('--security names the file explicitly', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-tenants-sec-'));
    try {
      const res = await run(['tenants', 'list', '--security', path.join(dir, 'xs-security.json')], {}, other);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});
