/**
 * `/html5-applications` in the zones' admin API (src/html5-apps/admin.ts): deploy a zip, list,
 * remove, on the bare uaadomain and authorized as /identity-zones is.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { html5AppsAdminRoutes } from '../../src/html5-apps/admin.js';
import { createHtml5AppStore } from '../../src/html5-apps/store.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { createAdminApi } from '../../src/zones/admin/api.js';
import { createZoneDirectory } from '../../src/zones/directory/directory.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';
import { openTestRecords } from '../support/records.js';
import { makeZip } from '../support/zip.js';

const BOOTSTRAP = `bootstrap-${randomUUID()}`;
const basic = `Basic ${Buffer.from(`admin:${BOOTSTRAP}`).toString('base64')}`;
const manifest = (id: string, version: string) => JSON.stringify({ 'sap.app': { id, applicationVersion: { version } } });

let records: RecordsDatabase;
let server: Server;
let port: number;

beforeAll(async () => {
  records = await openTestRecords();
  const api = createAdminApi({
    directory: createZoneDirectory(records),
    removeZone: async () => undefined,
    bootstrapSecret: BOOTSTRAP,
    authenticate: async () => undefined,
    domainRoutes: [html5AppsAdminRoutes(createHtml5AppStore(records))],
  });
  server = createServer((req, res) => {
    void api(req, res, undefined).then((answered) => {
      if (!answered) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await records.close();
});

const post = (body: Buffer, headers: Record<string, string> = {}) =>
  request(port, { method: 'POST', path: '/html5-applications', headers: { authorization: basic, 'content-type': 'application/zip', ...headers }, body });

describe('/html5-applications', () => {
  it('needs the admin credential', async () => {
    const res = await request(port, { path: '/html5-applications' });
    expect(res.status).toBe(401);
    expect((await post(makeZip([]), { authorization: 'Basic d3Jvbmc6d3Jvbmc=' })).status).toBe(401);
  });

  it('deploys a zip (201), lists it, removes a version, then refuses to remove it again (404)', async () => {
    const created = await post(makeZip([{ name: 'manifest.json', content: manifest('com.example.app', '1.2.3') }, { name: 'index.html', content: '<p>' }]));
    expect(created.status).toBe(201);
    expect(created.json()).toEqual([{ name: 'comexampleapp', version: '1.2.3', appId: 'com.example.app', outcome: 'deployed' }]);
    const list = await request(port, { path: '/html5-applications', headers: { authorization: basic } });
    expect(list.json()).toEqual([expect.objectContaining({ name: 'comexampleapp', version: '1.2.3', current: true, fileCount: 2 })]);
    const removed = await request(port, { method: 'DELETE', path: '/html5-applications/comexampleapp/1.2.3', headers: { authorization: basic } });
    expect(removed.status).toBe(200);
    const again = await request(port, { method: 'DELETE', path: '/html5-applications/comexampleapp/1.2.3', headers: { authorization: basic } });
    expect(again.status).toBe(404);
    expect(again.headers['x-zonegate-error']).toBe('ZG_ERR_APP_NOT_FOUND');
  });

  it('refuses a zip that leaves its root (400, naming the entry) and deploys nothing', async () => {
    const res = await post(makeZip([{ name: 'manifest.json', content: manifest('slip', '1.0.0') }, { name: '../evil.js', content: 'x' }]));
    expect(res.status).toBe(400);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_APP_INVALID');
    expect(res.json().error_description).toContain('the request body: entry "../evil.js" leaves the application\'s root');
    const list = await request(port, { path: '/html5-applications', headers: { authorization: basic } });
    expect(list.json()).toEqual([]);
  });

  it('refuses a body that is not a zip by media type (415), and other methods (405 with Allow)', async () => {
    expect((await post(Buffer.from('{}'), { 'content-type': 'application/json' })).status).toBe(415);
    const put = await request(port, { method: 'PUT', path: '/html5-applications', headers: { authorization: basic } });
    expect(put.status).toBe(405);
    expect(put.headers['allow']).toBe('GET, POST');
  });
});

describe('through a running gateway with its zones', () => {
  let gw: TestGateway;
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  beforeAll(async () => {
    gw = await startTestGateway({
      routes: { routes: [{ source: '^(.*)$', target: '$1', service: 'html5-apps-repo-rt', authenticationType: 'none' }] },
      files: { 'xs-security.json': fs.readFileSync(path.join(root, 'xs-security.json'), 'utf8') },
      env: { ZONEGATE_ADMIN_SECRET: BOOTSTRAP, UAA_DOMAIN: 'auth.localhost' },
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it('a deployment through the admin API is served at once: its change notice reaches the gateway', async () => {
    const deploy = (version: string, text: string) =>
      request(gw.port, {
        method: 'POST',
        path: '/html5-applications',
        host: `auth.localhost:${gw.port}`,
        headers: { authorization: basic, 'content-type': 'application/zip' },
        body: makeZip([{ name: 'manifest.json', content: manifest('live', version) }, { name: 'index.html', content: text }]),
      });
    const get = () => request(gw.port, { path: '/live/index.html', host: `localhost:${gw.port}` });
    expect((await deploy('1.0.0', 'one')).status).toBe(201);
    expect((await get()).text).toBe('one');
    // The current version was just looked up (and would be reused for 5 s): only the notice makes this "two".
    expect((await deploy('1.0.1', 'two')).status).toBe(201);
    expect((await get()).text).toBe('two');
    expect((await request(gw.port, { method: 'DELETE', path: '/html5-applications/live/1.0.1', host: `auth.localhost:${gw.port}`, headers: { authorization: basic } })).status).toBe(200);
    expect((await get()).text).toBe('one');
  });
});
