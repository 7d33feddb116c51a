/**
 * How the provisioning settings reach the gateway: validated with every other problem at once,
 * checked against xs-security.json before listening, and what the gateway does when provisioning
 * cannot run (external XSUAA, dedicated application, no callback scope).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadConfiguration } from '../../src/server/configuration.js';
import { BASE_ENV, callback, clientToken, guid, ROUTES, securityWithCallbackAuthority, subscription } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

function security(change: (doc: Record<string, any>) => void): string {
  const doc = JSON.parse(securityWithCallbackAuthority());
  change(doc);
  return JSON.stringify(doc);
}

const ECHO = [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }];

describe('provisioning settings', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-prov-config-'));
    fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify({ routes: [{ source: '^/(.*)$', destination: 'echo', authenticationType: 'none' }] }));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reports every malformed provisioning setting at once, with the other problems', () => {
    let error: unknown;
    try {
      loadConfiguration(
        {
          destinations: JSON.stringify([{ name: 'echo', url: 'http://127.0.0.1:1' }]),
          PORT: 'eighty',
          TENANT_URL_TEMPLATE: 'https://app.example.com',
          SAAS_REGISTRY_URL: 'ftp://registry.example.com',
          SAAS_DEPENDENCIES: JSON.stringify([{ xsappname: 'ok!b1' }, { name: 'no-xsappname' }]),
          CALLBACK_SCOPE: '$XSAPPNAME.Callback',
        },
        { cwd: dir },
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => `${p.file}${p.path}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^environment variable PORT/),
        expect.stringMatching(/^environment variable TENANT_URL_TEMPLATE: .*\{subdomain\}/),
        expect.stringMatching(/^environment variable SAAS_REGISTRY_URL: .*http/),
        expect.stringMatching(/^environment variable SAAS_DEPENDENCIES\/1: .*xsappname/),
        expect.stringMatching(/^environment variable CALLBACK_SCOPE: /),
      ]),
    );
    // The other variables' problems do not make routes.json's destination "unknown": it is declared
    // (issue 10: one bad variable must not produce a false problem for every route).
    expect(problems, problems.join('\n')).toHaveLength(5);
  });

  it('SAAS_DEPENDENCIES must be a JSON array', () => {
    expect(() => loadConfiguration({ destinations: JSON.stringify([{ name: 'echo', url: 'http://127.0.0.1:1' }]), SAAS_DEPENDENCIES: '{"xsappname":"a"}' }, { cwd: dir })).toThrow(
      /SAAS_DEPENDENCIES: expected a JSON array/,
    );
  });
});

describe('checked against xs-security.json before listening', () => {
  it('an unknown TENANT_ADMIN_ROLE_COLLECTION and an undeclared CALLBACK_SCOPE are reported together', async () => {
    const started = startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': securityWithCallbackAuthority() },
      destinations: ECHO,
      env: { ...BASE_ENV, TENANT_ADMIN_ROLE_COLLECTION: 'Root', CALLBACK_SCOPE: 'Onboarding' },
    });
    const error = await started.then(
      (gw) => gw.stop().then(() => undefined),
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('TENANT_ADMIN_ROLE_COLLECTION: "Root" is not a role collection of zonegate-demo; xs-security.json declares "Demo Viewer", "Demo Administrator"');
    expect((error as ConfigError).message).toContain('CALLBACK_SCOPE: xs-security.json of zonegate-demo declares no scope "$XSAPPNAME.Onboarding"');
  });

  it('a TENANT_HOST_PATTERN that names no single host needs TENANT_URL_TEMPLATE', async () => {
    const error = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': securityWithCallbackAuthority() },
      destinations: ECHO,
      env: { ...BASE_ENV, TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.(eu|us)\\.localhost$' },
    }).then(
      (gw) => gw.stop().then(() => undefined),
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/TENANT_URL_TEMPLATE: TENANT_HOST_PATTERN .* set TENANT_URL_TEMPLATE/);
  });
});

describe('configured provisioning', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': security((d) => d.scopes.push({ name: '$XSAPPNAME.Onboarding' }) && d.authorities.push('$XSAPPNAME.Onboarding')) },
      destinations: ECHO,
      env: {
        ...BASE_ENV,
        TENANT_URL_TEMPLATE: 'https://{subdomain}.apps.example.com',
        TENANT_ADMIN_ROLE_COLLECTION: 'Demo Viewer',
        CALLBACK_SCOPE: 'Onboarding',
      },
    });
  });
  afterAll(() => gw?.stop());

  it('answers the URL of TENANT_URL_TEMPLATE, gives the subscriber TENANT_ADMIN_ROLE_COLLECTION, and requires CALLBACK_SCOPE', async () => {
    const instance = gw.running.credentials!.xsappname;
    const withoutOnboarding = await clientToken(gw, 'provider', `${instance}.Callback`);
    const refused = await callback(gw, 'PUT', guid(30), { token: withoutOnboarding, body: subscription(guid(30), 'vandelay') });
    expect(refused.status).toBe(403);
    expect(refused.headers['www-authenticate']).toContain(`scope="${instance}.Onboarding"`);

    const res = await callback(gw, 'PUT', guid(30), { token: await clientToken(gw, 'provider'), body: subscription(guid(30), 'vandelay') });
    expect(res.status).toBe(200);
    expect(res.text).toBe('https://vandelay.apps.example.com');
    const owner = await gw.running.directory!.getUserByName(guid(30), 'owner@vandelay.example');
    expect(owner?.roleCollections).toEqual(['Demo Viewer']);
  });
});

describe('when provisioning cannot run', () => {
  it('with an external XSUAA bound whose binding names no zone id (tenantid): no callbacks, and the log says why', async () => {
    const xsuaa = { clientid: 'sb-app!t1', clientsecret: 's', url: 'https://provider.auth.example.com', uaadomain: 'auth.example.com', xsappname: 'app!t1' };
    const gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': securityWithCallbackAuthority() },
      destinations: ECHO,
      env: { ...BASE_ENV, VCAP_SERVICES: JSON.stringify({ xsuaa: [{ credentials: xsuaa }] }) },
    });
    try {
      expect(gw.running.provisioning).toBeUndefined();
      // Issue 12 mounts the callbacks with a binding (test/server/provisioning-xsuaa-binding.test.ts),
      // but only when the registry's tokens can be told from other zones' of the same XSUAA.
      expect(gw.logs.some((l) => l.includes('subscription callbacks not mounted: the xsuaa binding has no tenantid'))).toBe(true);
      const res = await callback(gw, 'PUT', guid(40), { token: 'x.y.z', body: subscription(guid(40), 'nope') });
      // Not the callback handler's 401: an ordinary request, on a host that names no tenant.
      expect(res.status).toBe(404);
      expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_HOST_UNMATCHED');
    } finally {
      await gw.stop();
    }
  });

  it('with a dedicated application: no provisioning, no tenant registry, and the log says why', async () => {
    const gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': security((d) => (d['tenant-mode'] = 'dedicated')) },
      destinations: ECHO,
      env: BASE_ENV,
    });
    try {
      expect(gw.running.provisioning).toBeUndefined();
      expect(gw.logs.some((l) => l.includes('subscription callbacks not mounted') && l.includes('tenant-mode \\"dedicated\\"'))).toBe(true);
    } finally {
      await gw.stop();
    }
  });

  it('without the callback scope in xs-security.json: tenants work (CLI, demo), the callbacks are not mounted', async () => {
    const gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': security((d) => ((d.scopes = d.scopes.filter((s: { name: string }) => !s.name.endsWith('.Callback'))), (d.authorities = []))) },
      destinations: ECHO,
      env: BASE_ENV,
    });
    try {
      expect(gw.running.provisioning).toBeDefined();
      expect(gw.logs.some((l) => l.includes('xs-security.json declares no callback scope'))).toBe(true);
      const res = await callback(gw, 'DELETE', guid(41), { token: 'x.y.z' });
      expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_HOST_UNMATCHED');
      const subscribed = await gw.running.provisioning!.subscribe({ tenantId: guid(41), subdomain: 'kramerica' });
      expect(subscribed.url).toBe(`http://kramerica.localhost:${gw.port}`);
      expect((await new ScriptedBrowser().get(`${subscribed.url}/echo/hello`)).status).toBe(200);
      expect((await new ScriptedBrowser().get(`http://seinfeld.localhost:${gw.port}/echo/hello`)).status).toBe(404);
    } finally {
      await gw.stop();
    }
  });
});
