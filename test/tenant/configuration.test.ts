/**
 * Per-tenant configuration (issue 14, part 3): validation, the records and their change notices, and
 * the gateway resolving each request's destination by its tenant, over real HTTP, written by each of
 * the three writers (`zonegate tenants config`, the admin API, the registry's subscriptionParams).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDestinations } from '../../src/config/destinations.js';
import { ConfigError } from '../../src/errors.js';
import { createMemoryLogger } from '../../src/log.js';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import { openStorage } from '../../src/storage/index.js';
import { migrate } from '../../src/records/migrate.js';
import { openPostgresRecords } from '../../src/records/postgres.js';
import { startPostgresServer } from '../support/postgres.js';
import { runTenantConfigCommand } from '../../src/tenant/config-cli.js';
import { createTenantConfigurations, parseTenantConfiguration } from '../../src/tenant/configuration.js';
import { loadTenantConfigurations } from '../../src/tenant/live-configurations.js';
import type { ParsedCommand } from '../../src/cli/args.js';
import { request } from '../support/http.js';
import { startDemoGateway, type TestGateway } from '../support/gateway.js';
import { openTestRecords } from '../support/records.js';
import { clientToken, guid, provisioningFor, startCallbacks, verifierFor, type CallbackServer } from '../provisioning/support.js';
import { startZones, type Harness } from '../zones/oauth/harness.js';

const base = parseDestinations(JSON.stringify([{ name: 'backend', url: 'http://backend.internal:8080/api', forwardAuthToken: true }, { name: 'files', url: 'http://files.internal' }]), 'destinations');

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
};

/** Waits for `check` to hold (a change notice is on its way), failing after a generous bound. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('a tenant configuration document', () => {
  it('overrides destinations by name and carries settings', () => {
    const c = parseTenantConfiguration({ destinations: { backend: { url: 'https://acme-backend.example.com', timeout: 5000 } }, settings: { plan: 'gold', 'ui.theme': { dark: true } } }, 'doc', base);
    expect(c).toEqual({ destinations: { backend: { url: 'https://acme-backend.example.com', timeout: 5000 } }, settings: { plan: 'gold', 'ui.theme': { dark: true } } });
  });

  it('is refused with every problem at once, each at its JSON path, URLs checked as destinations are', () => {
    const problems = problemsOf(() =>
      parseTenantConfiguration(
        {
          destinations: {
            backend: { url: '/relative', timeout: -1 },
            files: { url: 'ftp://files.example.com', name: 'other' },
            nosuch: { url: 'https://x.example.com' },
          },
          settings: { 'bad name': 1 },
          extra: true,
        },
        'doc',
        base,
      ),
    );
    expect(problems).toEqual([
      '/extra: unknown property: a tenant configuration has "destinations" and "settings"',
      '/destinations/backend/url: expected an absolute http(s) URL, got "/relative"',
      '/destinations/backend/timeout: expected a positive number of milliseconds, got integer -1',
      '/destinations/files/name: cannot be overridden per tenant (these can: url, forwardAuthToken, timeout, maxSockets, setXForwardedHeaders, strictSSL, proxyHost, proxyPort)',
      '/destinations/nosuch: the application has no destination "nosuch" (it has "backend", "files")',
      '/settings/bad name: a setting name is 1-64 letters, digits, ".", "_" or "-"',
    ]);
    expect(problemsOf(() => parseTenantConfiguration({ destinations: { files: { url: 'ftp://x' } } }, 'doc', base))[0]).toMatch(/http or https/);
    expect(problemsOf(() => parseTenantConfiguration([], 'doc'))).toEqual([': expected a JSON object with "destinations" and/or "settings", got array']);
  });
});

describe('the records and their change notices', () => {
  it('stores, announces and reloads: a running view sees a change of another writer without a restart', async () => {
    const records = await openTestRecords();
    const storage = openSqliteStorage({ file: ':memory:' });
    const store = createTenantConfigurations(records, storage);
    const live = await loadTenantConfigurations({ store, notices: storage, logger: createMemoryLogger('info') });
    const before = live.current();
    expect(before.size).toBe(0);
    let changes = 0;
    live.onChange(() => changes++);
    await store.put('acme', parseTenantConfiguration({ settings: { plan: 'gold' } }, 'doc'));
    await eventually(async () => live.current().get('acme')?.settings.plan === 'gold', 'the change');
    expect(changes).toBe(1);
    // Tenants without a document: no entry, the same map object until something changes.
    const after = live.current();
    expect(after.has('globex')).toBe(false);
    expect(live.current()).toBe(after);
    await store.delete('acme');
    await eventually(async () => !live.current().has('acme'), 'the removal');
    live.close();
    await storage.close();
    await records.close();
  });
});

describe('the same records on PostgreSQL', () => {
  it('stores, replaces, keeps the credential digest apart from the document, and deletes', async () => {
    const server = await startPostgresServer();
    const records = openPostgresRecords({ connectionString: await server.createDatabase('tenant_configurations') });
    try {
      await migrate(records);
      const store = createTenantConfigurations(records);
      await store.setMetadataCredentialDigest('acme', 'a'.repeat(64));
      await store.put('acme', parseTenantConfiguration({ settings: { plan: 'gold' } }, 'doc'));
      await store.put('acme', parseTenantConfiguration({ destinations: { backend: { url: 'https://acme.example.com' } } }, 'doc', base));
      expect((await store.get('acme'))?.configuration).toEqual({ destinations: { backend: { url: 'https://acme.example.com' } }, settings: {} });
      expect(await store.metadataCredentialDigest('acme')).toBe('a'.repeat(64));
      expect((await store.all()).map((c) => c.subdomain)).toEqual(['acme']);
      expect(await store.delete('acme')).toBe(true);
      expect(await store.delete('acme')).toBe(false);
      expect(await store.metadataCredentialDigest('acme')).toBeUndefined();
    } finally {
      await records.close();
      await server.dispose();
    }
  }, 120_000);
});

describe('across processes, through one SQLite store', () => {
  it('a change the CLI made (its own store handle, which names no key to others) reaches an idle gateway within a second or so', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-tenant-config-sqlite-'));
    const records = await openTestRecords();
    const gateway = openSqliteStorage({ file: path.join(dir, 'store.db') });
    const cli = openSqliteStorage({ file: path.join(dir, 'store.db') });
    try {
      const live = await loadTenantConfigurations({ store: createTenantConfigurations(records), notices: gateway, logger: createMemoryLogger('info'), reloadEveryMs: 200 });
      await createTenantConfigurations(records, cli).put('acme', parseTenantConfiguration({ settings: { plan: 'gold' } }, 'doc'));
      // No request asks the gateway's store meanwhile: the view's own poll notices the file changed.
      await eventually(async () => live.current().get('acme')?.settings.plan === 'gold', 'the change');
      await createTenantConfigurations(records, cli).delete('acme');
      await eventually(async () => !live.current().has('acme'), 'the removal');
      live.close();
    } finally {
      await Promise.all([gateway.close(), cli.close()]);
      await records.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('across instances, through Redis', () => {
  it("a configuration written by one instance (or the CLI) reaches another's view through the notices' pub/sub", async () => {
    const records = await openTestRecords();
    const keyPrefix = `zonegate-test:tenant-config:${process.pid}-${Date.now()}:`;
    const [writer, reader] = await Promise.all([
      openStorage({ kind: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix }),
      openStorage({ kind: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix }),
    ]);
    try {
      const live = await loadTenantConfigurations({ store: createTenantConfigurations(records), notices: reader, logger: createMemoryLogger('info') });
      await createTenantConfigurations(records, writer).put('acme', parseTenantConfiguration({ destinations: { backend: { url: 'https://acme.example.com' } } }, 'doc', base));
      await eventually(async () => live.current().get('acme')?.destinations.backend?.url === 'https://acme.example.com', 'the notice');
      await createTenantConfigurations(records, writer).delete('acme');
      await eventually(async () => !live.current().has('acme'), 'the removal');
      live.close();
    } finally {
      await Promise.all([writer.close(), reader.close()]);
      await records.close();
    }
  });
});

describe('the gateway serves each tenant its own destinations (demo gateway, over HTTP)', () => {
  let gw: TestGateway;
  const adminSecret = 'tenant-config-admin-secret-0123';
  beforeAll(async () => {
    gw = await startDemoGateway({ ZONEGATE_ADMIN_SECRET: adminSecret });
  });
  afterAll(() => gw?.stop());

  const seenUrl = async (tenant: string, path = '/echo/x') => {
    const res = await request(gw.port, { path, host: `${tenant}.localhost:${gw.port}` });
    expect(res.status, res.text).toBe(200);
    return res.json<{ url: string }>().url;
  };
  const cli = (positionals: string[], values: Record<string, string> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const store = createTenantConfigurations(gw.running.records, gw.running.storage);
    return runTenantConfigCommand({ positionals, values } as unknown as ParsedCommand, {
      store,
      destinations: [{ ...base[0]!, name: 'echo', url: new URL(gw.echoUrl) }],
      out: (l) => out.push(l),
      err: (l) => err.push(l),
    }).then((code) => ({ code, out, err }));
  };

  it('`zonegate tenants config set|get|unset`: acme gets its own backend at once, globex keeps the application\'s', async () => {
    expect(await seenUrl('acme')).toBe('/x');
    const bad = await cli(['set', 'acme'], { json: JSON.stringify({ destinations: { echo: { url: 'acme-backend' }, nosuch: {} } }) });
    expect(bad.code).toBe(1);
    expect(bad.err.join('\n')).toMatch(/2 problems[\s\S]*\/destinations\/echo\/url: expected an absolute http\(s\) URL[\s\S]*\/destinations\/nosuch: the application has no destination/);
    const set = await cli(['set', 'acme'], { json: JSON.stringify({ destinations: { echo: { url: `${gw.echoUrl}/acme-service` } }, settings: { plan: 'gold' } }) });
    expect(set).toMatchObject({ code: 0, out: ['Tenant acme: configuration stored (overrides echo, 1 settings)'] });
    await eventually(async () => (await seenUrl('acme')) === '/acme-service/x', "acme's override");
    expect(await seenUrl('globex')).toBe('/x');
    const got = await cli(['get', 'acme']);
    expect(JSON.parse(got.out.join('\n'))).toEqual({ destinations: { echo: { url: `${gw.echoUrl}/acme-service` } }, settings: { plan: 'gold' } });
    expect((await cli(['unset', 'acme'])).code).toBe(0);
    await eventually(async () => (await seenUrl('acme')) === '/x', 'the removal');
    expect((await cli(['set', 'Not_A_Tenant'], { json: '{}' })).code).toBe(2);
  });

  it("the admin API's /identity-zones/{id}/tenant-config, for the provider's administrators only", async () => {
    const zone = await gw.running.directory!.getZoneBySubdomain('globex');
    const call = (method: string, auth?: string, body?: object) =>
      request(gw.port, {
        method,
        path: `/identity-zones/${zone!.id}/tenant-config`,
        host: `auth.localhost:${gw.port}`,
        headers: { accept: 'application/json', 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const admin = `Basic ${Buffer.from(`admin:${adminSecret}`).toString('base64')}`;
    expect((await call('PUT', undefined, { settings: {} })).status).toBe(401);
    const invalid = await call('PUT', admin, { destinations: { echo: { url: 'not a url' } } });
    expect(invalid.status).toBe(400);
    expect(invalid.json()).toMatchObject({ error: 'invalid_tenant_config' });
    const put = await call('PUT', admin, { destinations: { echo: { url: `${gw.echoUrl}/globex-service` } } });
    expect(put.status, put.text).toBe(200);
    await eventually(async () => (await seenUrl('globex')) === '/globex-service/x', "globex's override");
    expect(await seenUrl('acme')).toBe('/x');
    expect((await call('GET', admin)).json()).toEqual({ destinations: { echo: { url: `${gw.echoUrl}/globex-service` } }, settings: {} });
    expect((await call('DELETE', admin)).json()).toEqual({ removed: true });
    await eventually(async () => (await seenUrl('globex')) === '/x', 'the removal');
    // A tenant zone's host does not serve it: a tenant's own administrators cannot repoint the gateway.
    const onTenantHost = await request(gw.port, { method: 'GET', path: `/identity-zones/${zone!.id}/tenant-config`, host: `globex.auth.localhost:${gw.port}`, headers: { accept: 'application/json', authorization: admin } });
    expect(onTenantHost.status).not.toBe(200);
  });
});

describe("the registry's subscriptionParams", () => {
  let h: Harness;
  let cb: CallbackServer;
  let token: string;
  let store: ReturnType<typeof createTenantConfigurations>;
  beforeAll(async () => {
    h = await startZones();
    store = createTenantConfigurations(h.records, h.storage);
    cb = await startCallbacks({ provisioning: provisioningFor(h), verifyToken: verifierFor(h), tenantConfigurations: { store, destinations: base } });
    token = await clientToken(h, 'provider');
  });
  afterAll(async () => {
    await cb?.close();
    await h?.close();
  });
  const put = (n: number, subdomain: string, params?: unknown) =>
    request(cb.port, {
      method: 'PUT',
      path: `/callback/v1.0/tenants/${guid(n)}`,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subscribedTenantId: guid(n), subscribedSubdomain: subdomain, ...(params !== undefined ? { subscriptionParams: params } : {}) }),
    });

  it('become the tenant\'s configuration: "destinations" overrides, every other parameter a setting', async () => {
    const res = await put(31, 'initech', { destinations: { backend: { url: 'https://initech-backend.example.com' } }, plan: 'gold', seats: 25 });
    expect(res.status, res.text).toBe(200);
    expect((await store.get('initech'))?.configuration).toEqual({ destinations: { backend: { url: 'https://initech-backend.example.com' } }, settings: { plan: 'gold', seats: 25 } });
    // An UPDATE without parameters leaves it alone.
    expect((await put(31, 'initech')).status).toBe(200);
    expect((await store.get('initech'))?.configuration.settings).toEqual({ plan: 'gold', seats: 25 });
    // The unsubscription takes it with it.
    const del = await request(cb.port, { method: 'DELETE', path: `/callback/v1.0/tenants/${guid(31)}`, headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(200);
    expect(await store.get('initech')).toBeUndefined();
  });

  it('are checked before anything is subscribed: 400 ZG_ERR_TENANT_INVALID naming each problem', async () => {
    const res = await put(32, 'umbrella', { destinations: { backend: { url: 'file:///etc/passwd' }, nosuch: {} } });
    expect(res.status).toBe(400);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_INVALID');
    expect(res.json().error.message).toMatch(/\/destinations\/backend\/url .*http or https.*; \/destinations\/nosuch the application has no destination/);
    expect(await h.directory.getZone(guid(32))).toBeUndefined();
    expect(await store.get('umbrella')).toBeUndefined();
  });
});
