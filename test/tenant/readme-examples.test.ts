/**
 * The README's copy-paste examples for issue 14 part 3, run as written: the demo with tenants in the
 * path (a login at app.localhost/t/acme/ with the demo's users, the subscription check), and
 * `zonegate tenants config` from the built CLI (`npx tsc -p tsconfig.build.json` first).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileTenantUrl } from '../../src/provisioning/tenant-url.js';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { startDemoGateway, type TestGateway } from '../support/gateway.js';

describe('README: tenants in the path, on the demo', () => {
  let gw: TestGateway;
  let base: string;
  beforeAll(async () => {
    // TENANT_HOST_PATTERN= TENANT_PATH_PATTERN='^/t/([^/]+)/' TENANT_URL_TEMPLATE='http://app.localhost:5000/t/{subdomain}/' npm start
    gw = await startDemoGateway({ TENANT_HOST_PATTERN: '', TENANT_PATH_PATTERN: '^/t/([^/]+)/', TENANT_URL_TEMPLATE: 'http://app.localhost:5000/t/{subdomain}/' });
    base = `http://app.localhost:${gw.port}`;
  });
  afterAll(() => gw?.stop());

  it('logs in at app.localhost/t/acme/ as the demo admin, at acme\'s zone, and stays in the prefix', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${base}/t/acme/api/whoami`);
    expect(start.status, start.text.slice(0, 300)).toBe(302);
    const page = await browser.get(String(start.headers.location));
    expect(page.status, page.text.slice(0, 300)).toBe(200);
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'admin', password: 'demo-admin-pass' });
    expect(form.status, form.text.slice(0, 300)).toBe(302);
    const callback = await browser.get(String(form.headers.location));
    expect(callback.headers.location).toBe('/t/acme/api/whoami');
    const whoami = await browser.get(`${base}/t/acme/api/whoami`, { accept: 'application/json' });
    expect(whoami.status).toBe(200);
    expect(whoami.json()).toMatchObject({ url: '/whoami', jwt: { claims: { user_name: 'admin', ext_attr: { zdn: 'acme' } } } });
    // The welcome page and a tenant that is not subscribed.
    expect((await browser.get(`${base}/t/globex/`)).headers.location).toBe('/t/globex/index.html');
    const unknown = await browser.get(`${base}/t/nosuch/`, { accept: 'application/json' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_UNKNOWN');
  });

  it('needs TENANT_URL_TEMPLATE for the subscribed tenants\' URLs, and says so', () => {
    expect(compileTenantUrl(undefined, undefined, { protocol: 'http', port: 5000 }, true)).toMatch(/TENANT_PATH_PATTERN.*TENANT_URL_TEMPLATE.*e\.g\. https:\/\/app\.example\.com\/t\/\{subdomain\}\//);
  });
});

describe('README: zonegate tenants config (the built CLI)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-tenant-config-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH ?? '', ZONEGATE_DATA_DIR: path.join(dir, 'data'), destinations: '[{"name":"backend","url":"https://backend.internal.example.com"}]' };

  it('sets, gets and unsets a document; an invalid one is refused with every problem', async () => {
    const set = await runCli(['tenants', 'config', 'set', 'acme', '--json', '{"destinations":{"backend":{"url":"https://acme-backend.example.com","timeout":5000}},"settings":{"plan":"gold"}}'], { cwd: dir, env });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe('Tenant acme: configuration stored (overrides backend, 1 settings)\n');
    const get = await runCli(['tenants', 'config', 'get', 'acme'], { cwd: dir, env });
    expect(JSON.parse(get.stdout)).toEqual({ destinations: { backend: { url: 'https://acme-backend.example.com', timeout: 5000 } }, settings: { plan: 'gold' } });
    const bad = await runCli(['tenants', 'config', 'set', 'acme', '--json', '{"destinations":{"backend":{"url":"backend"},"other":{}}}'], { cwd: dir, env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('the tenant configuration is invalid (2 problems)');
    expect(bad.stderr).toContain('/destinations/backend/url: expected an absolute http(s) URL, got "backend"');
    expect(bad.stderr).toContain('/destinations/other: the application has no destination "other" (it has "backend")');
    const credential = await runCli(['tenants', 'config', 'credential', 'acme'], { cwd: dir, env });
    expect(credential.code, credential.stderr).toBe(0);
    expect(credential.stdout).toMatch(/^Metadata credential of tenant acme \(it replaces any earlier one\): zgm_[\w-]{43}\n/);
    const unset = await runCli(['tenants', 'config', 'unset', 'acme'], { cwd: dir, env });
    expect(unset.stdout).toBe('Tenant acme: configuration and metadata credential removed\n');
    const help = await runCli(['tenants', 'config', '--help'], { cwd: dir, env });
    expect(help.stdout).toContain('get|set|unset|credential <subdomain>');
  });
});
