/**
 * The per-tenant metadata endpoint (issue 14, part 3; Maestrano's `GET /<tenant>/metadata`), over real
 * HTTP: on tenant hosts (the demo gateway, with its zones) and under path prefixes; each tenant's
 * credential opens its own metadata only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantConfigurations, parseTenantConfiguration } from '../../src/tenant/configuration.js';
import { issueMetadataCredential, matchesCredential } from '../../src/tenant/metadata.js';
import { request } from '../support/http.js';
import { startDemoGateway, startTestGateway, type TestGateway } from '../support/gateway.js';

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

describe('the metadata credential', () => {
  it('matches only itself, and nothing when the tenant has none', () => {
    const digest = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'; // sha256("test")
    expect(matchesCredential('test', digest)).toBe(true);
    expect(matchesCredential('tesu', digest)).toBe(false);
    expect(matchesCredential('test', undefined)).toBe(false);
    expect(matchesCredential('', undefined)).toBe(false);
  });
});

describe('GET /metadata on tenant hosts', () => {
  let gw: TestGateway;
  let store: ReturnType<typeof createTenantConfigurations>;
  let acme: string;
  let globex: string;
  beforeAll(async () => {
    gw = await startDemoGateway({ TENANT_METADATA_PATH: '/metadata' });
    store = createTenantConfigurations(gw.running.records, gw.running.storage);
    acme = await issueMetadataCredential(store, 'acme');
    globex = await issueMetadataCredential(store, 'globex');
    await store.put('acme', parseTenantConfiguration({ settings: { plan: 'gold' } }, 'doc'));
  });
  afterAll(() => gw?.stop());

  const get = (tenant: string, authorization?: string) =>
    request(gw.port, { path: '/metadata', host: `${tenant}.localhost:${gw.port}`, headers: { accept: 'application/json', ...(authorization ? { authorization } : {}) } });

  it("describes the tenant's endpoints to a caller with its credential (HTTP Basic or Bearer)", async () => {
    for (const auth of [basic('acme', acme), `Bearer ${acme}`]) {
      const res = await get('acme', auth);
      expect(res.status, res.text).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const zone = new URL(gw.running.credentials!.url);
      const zoneBase = `${zone.protocol}//acme.${gw.running.credentials!.uaadomain}${zone.port ? `:${zone.port}` : ''}`;
      expect(res.json()).toEqual({
        tenant: 'acme',
        application: { url: `http://acme.localhost:${gw.port}/` },
        sso: {
          protocol: 'openid-connect',
          issuer: `${zoneBase}/oauth/token`,
          discovery: `${zoneBase}/.well-known/openid-configuration`,
          jwks_uri: `${zoneBase}/token_keys`,
          callback_url: `http://acme.localhost:${gw.port}/login/callback`,
          logout_url: `http://acme.localhost:${gw.port}/logout`,
        },
        metadata_url: `http://acme.localhost:${gw.port}/metadata`,
        settings: { plan: 'gold' },
      });
    }
  });

  it("refuses no credential, a wrong one, and one tenant's credential at another tenant (401, a challenge)", async () => {
    const none = await get('acme');
    expect(none.status).toBe(401);
    expect(none.headers['x-zonegate-error']).toBe('ZG_ERR_UNAUTHENTICATED');
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm="zonegate metadata acme"/);
    expect((await get('acme', basic('acme', `${acme}x`))).status).toBe(401);
    expect((await get('acme', basic('acme', globex))).status).toBe(401);
    // globex's credential, or acme's presented as globex's, never opens the other.
    expect((await get('globex', `Bearer ${acme}`)).status).toBe(401);
    expect((await get('globex', basic('globex', acme))).status).toBe(401);
    expect((await get('globex', basic('acme', acme))).status).toBe(401);
    expect((await get('globex', basic('globex', globex))).status).toBe(200);
    // A tenant that has no credential: nothing opens it.
    await store.delete('globex');
    expect((await get('globex', basic('globex', globex))).status).toBe(401);
  });

  it('keeps only a digest at rest, and a new credential replaces the old one', async () => {
    const rows = await gw.running.records.all<{ subdomain: string; metadata_secret_digest: string; config: string }>('SELECT * FROM tenant_configurations');
    const row = rows.find((r) => r.subdomain === 'acme')!;
    expect(row.metadata_secret_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows)).not.toContain(acme.slice(4));
    const renewed = await issueMetadataCredential(store, 'acme');
    expect((await get('acme', `Bearer ${acme}`)).status).toBe(401);
    expect((await get('acme', `Bearer ${renewed}`)).status).toBe(200);
    // Setting the configuration keeps the credential.
    await store.put('acme', parseTenantConfiguration({ settings: {} }, 'doc'));
    expect((await get('acme', `Bearer ${renewed}`)).status).toBe(200);
  });
});

describe('GET /<prefix>/metadata for path tenants', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      routes: { routes: [{ source: '^/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] },
      env: { TENANT_PATH_PATTERN: '^/t/([^/]+)/', TENANT_METADATA_PATH: '/metadata' },
    });
  });
  afterAll(() => gw?.stop());

  it('answers inside the prefix with URLs inside it; another prefix refuses the credential', async () => {
    const store = createTenantConfigurations(gw.running.records, gw.running.storage);
    const credential = await issueMetadataCredential(store, 'acme');
    const host = `app.localhost:${gw.port}`;
    const res = await request(gw.port, { path: '/t/acme/metadata', host, headers: { authorization: basic('acme', credential) } });
    expect(res.status, res.text).toBe(200);
    expect(res.json()).toEqual({ tenant: 'acme', application: { url: `http://${host}/t/acme/` }, metadata_url: `http://${host}/t/acme/metadata`, settings: {} });
    expect((await request(gw.port, { path: '/t/globex/metadata', host, headers: { authorization: `Bearer ${credential}` } })).status).toBe(401);
    // Other paths of the prefix are the application's.
    expect((await request(gw.port, { path: '/t/acme/other', host })).json()).toMatchObject({ url: '/other' });
  });
});
