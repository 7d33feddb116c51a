/**
 * Serving deployed HTML5 applications (src/html5-apps/serve.ts) through a real gateway that logs
 * users in at real identity zones: the application's own xs-app.json routes inside it (login, scopes,
 * its destination, the user API, welcomeFile, cacheControl), versions, sap.cloud.service prefixes,
 * ETag and conditional GET, compression, and the attacks its rules exist for.
 */
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAppPackage, readAppZip } from '../../src/html5-apps/package.js';
import { createHtml5Apps } from '../../src/html5-apps/serve.js';
import { createHtml5AppStore, type Html5AppStore } from '../../src/html5-apps/store.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';
import { openTestRecords } from '../support/records.js';
import { request } from '../support/http.js';
import { makeZip } from '../support/zip.js';
import { startOrdersBackend, type OrdersBackend } from './orders-backend.js';
import { ORDERS_APP } from './fixtures.js';

const ROUTES = {
  authenticationMethod: 'route',
  routes: [
    { source: '^/public-apps/(.*)$', target: '/$1', service: 'html5-apps-repo-rt', authenticationType: 'none' },
    { source: '^/admin-apps/(.*)$', target: '/$1', service: 'html5-apps-repo-rt', scope: '$XSAPPNAME.Admin' },
    // As xs-app/035.json of the corpus writes it: a target without its leading slash.
    { source: '^/lectures(/.*)$', target: 'plainapp/$1', service: 'html5-apps-repo-rt', authenticationType: 'none' },
    { source: '^/user-api(.*)', target: '$1', service: 'sap-approuter-userapi' },
    { source: '^(.*)$', target: '$1', service: 'html5-apps-repo-rt', authenticationType: 'xsuaa' },
  ],
};

const manifest = (id: string, version: string, cloud?: object) =>
  JSON.stringify({ 'sap.app': { id, applicationVersion: { version } }, ...(cloud ? { 'sap.cloud': cloud } : {}) });
const app = (id: string, version: string, files: Record<string, string>, cloud?: object) =>
  readAppZip(`${id}.zip`, makeZip([{ name: 'manifest.json', content: manifest(id, version, cloud) }, ...Object.entries(files).map(([name, content]) => ({ name, content }))]));

let stack: LoginStack;
let backend: OrdersBackend;
let records: RecordsDatabase;
let store: Html5AppStore;
const alice = new ScriptedBrowser();
const bob = new ScriptedBrowser();
const xhr = { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' };

beforeAll(async () => {
  backend = await startOrdersBackend();
  records = await openTestRecords();
  store = createHtml5AppStore(records);
  await store.deploy([
    await readAppPackage(ORDERS_APP),
    await app('plainapp', '1.0.0', { 'index.html': '<p>plain</p>' }),
    await app('secretapp', '1.0.0', { 'x.js': 'secret' }, { service: 'com.example.shop', public: false }),
    // An application that would make itself public behind a protected routes.json route.
    await app('sneaky', '1.0.0', { 'data.json': '{"secret":1}', 'xs-app.json': JSON.stringify({ authenticationMethod: 'none', routes: [{ source: '^(.*)$', service: 'html5-apps-repo-rt' }] }) }),
    // localDir in an application: a folder of the application, never of the gateway's disk.
    await app('folders', '1.0.0', {
      'webapp/index.html': '<p>webapp</p>',
      'xs-app.json': JSON.stringify({ routes: [{ source: '^/etc/(.*)$', target: '$1', localDir: '/etc' }, { source: '^(.*)$', target: '$1', localDir: 'webapp' }] }),
    }),
    await app('nodest', '1.0.0', { 'xs-app.json': JSON.stringify({ routes: [{ source: '^/api/(.*)$', target: '/$1', destination: 'nowhere' }] }) }),
  ]);
  stack = await startLoginStack({
    routes: ROUTES,
    destinations: [{ name: 'orders-backend', url: backend.url }],
    html5Apps: (xsappname) => createHtml5Apps({ store, xsappname, versionTtlMs: 0 }),
  });
  await stack.login(alice, 'acme', 'alice', '/comexampleorders/index.html');
  await stack.login(bob, 'acme', 'bob', '/comexampleorders/index.html');
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await backend?.close();
  await records?.close();
});

const url = (path: string) => stack.base('acme') + path;

describe('the application and its own xs-app.json', () => {
  it('needs a login where its routes say so: a browser is sent to the zone, an XHR gets 401', async () => {
    const anonymous = new ScriptedBrowser();
    const page = await anonymous.get(url('/comexampleorders/index.html'));
    expect(page.status).toBe(302);
    expect(String(page.headers.location)).toMatch(/^http:\/\/acme\.localhost:\d+\/oauth\/authorize\?/);
    expect((await anonymous.get(url('/comexampleorders/index.html'), xhr)).status).toBe(401);
  });

  it('serves its files with their content type, its route cacheControl and a strong ETag; a second GET with it is 304', async () => {
    const res = await alice.get(url('/comexampleorders/index.html'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toContain('com.example.orders.Component.start(document)');
    expect(res.headers['cache-control']).toBe('no-cache, no-store, must-revalidate');
    expect(res.headers['etag']).toMatch(/^"[\w-]{43}"$/);
    const again = await alice.get(url('/comexampleorders/index.html'), { 'if-none-match': String(res.headers['etag']) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const js = await alice.get(url('/comexampleorders/Component.js'));
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    // Not HTML, no cacheControl on its route: no Cache-Control, as SAP's router sends none.
    expect(js.headers['cache-control']).toBeUndefined();
  });

  it('compresses what a browser accepts compressed', async () => {
    const res = await alice.get(url('/comexampleorders/Component.js'), { 'accept-encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['vary']).toMatch(/accept-encoding/i);
    expect(gunzipSync(res.body).toString()).toContain('ns.orders.Component');
    const notModified = await alice.get(url('/comexampleorders/Component.js'), { 'accept-encoding': 'gzip', 'if-none-match': String(res.headers['etag']) });
    expect(notModified.status).toBe(304);
    expect(notModified.headers['vary']).toBe('Accept-Encoding');
  });

  it('answers /<app>/ with its welcomeFile and /<app> with /<app>/, relative to the URL asked for', async () => {
    const root = await alice.get(url('/comexampleorders/'));
    expect(root.status).toBe(302);
    expect(root.headers.location).toBe('./index.html');
    expect((await alice.get(url('/comexampleorders/?sap-language=de'))).headers.location).toBe('./index.html?sap-language=de');
    const bare = await alice.get(url('/comexampleorders?x=1'));
    expect(bare.status).toBe(302);
    expect(bare.headers.location).toBe('./comexampleorders/?x=1');
    // Behind a routes.json route that rewrites (target "/$1"), the redirect stays relative to the client's URL.
    const gated = await alice.get(url('/admin-apps/comexampleorders/'));
    expect(gated.headers.location).toBe('./index.html');
  });

  it('routes its data requests to its destination, relative to the application, with the user\'s token', async () => {
    const res = await alice.get(url('/comexampleorders/api/orders?top=2'), xhr);
    expect(res.status).toBe(200);
    expect(res.json().items).toHaveLength(2);
    expect(backend.seen.at(-1)).toEqual({ path: '/orders?top=2', bearer: true });
  });

  it('serves the user API from its own xs-app.json route', async () => {
    const res = await alice.get(url('/comexampleorders/user-api/currentUser'), xhr);
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ name: 'alice' });
  });

  it('a cache-busted URL (/<app>/~<token>~/...) is the same file, cached for a year', async () => {
    const res = await alice.get(url('/comexampleorders/~1733212800~/Component.js'));
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000');
  });

  it('refuses what its routes do not serve: another method on a file (405), an unknown file (404)', async () => {
    const post = await alice.request(url('/comexampleorders/index.html'), { method: 'POST', headers: { ...xhr, 'content-type': 'text/plain' }, body: 'x' });
    expect([403, 405]).toContain(post.status);
    const missing = await alice.get(url('/comexampleorders/missing.js'), xhr);
    expect(missing.status).toBe(404);
    expect(missing.headers['x-zonegate-error']).toBe('ZG_ERR_FILE_NOT_FOUND');
  });

  it('a route naming a destination the gateway lacks answers 502 naming it', async () => {
    const res = await alice.get(url('/nodest/api/x'), xhr);
    expect(res.status).toBe(502);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_APP_DESTINATION_UNKNOWN');
    expect(res.json().error.message).toContain('"nowhere"');
  });
});

describe('names, versions and services', () => {
  it('an application without xs-app.json is served as it is; an unknown name is 404', async () => {
    expect((await alice.get(url('/plainapp/index.html'))).text).toBe('<p>plain</p>');
    expect((await new ScriptedBrowser().get(url('/lectures/index.html'))).text).toBe('<p>plain</p>');
    const res = await alice.get(url('/nosuchapp/index.html'), xhr);
    expect(res.status).toBe(404);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_APP_NOT_FOUND');
  });

  it('a new version becomes current; old versions stay addressable as /<app>-<version>/', async () => {
    await store.deploy([await app('versioned', '1.0.0', { 'v.txt': 'one' })]);
    expect((await alice.get(url('/versioned/v.txt'))).text).toBe('one');
    await store.deploy([await app('versioned', '1.1.0', { 'v.txt': 'two' })]);
    expect((await alice.get(url('/versioned/v.txt'))).text).toBe('two');
    expect((await alice.get(url('/versioned-1.0.0/v.txt'))).text).toBe('one');
    expect((await alice.get(url('/versioned-1.1.0/v.txt'))).text).toBe('two');
    expect((await alice.get(url('/versioned-2.0.0/v.txt'), xhr)).status).toBe(404);
    await store.remove('versioned', '1.1.0');
    expect((await alice.get(url('/versioned/v.txt'))).text).toBe('one');
  });

  it('/<service>.<app>/ finds an application of that sap.cloud.service only', async () => {
    expect((await alice.get(url('/comexampleshop.comexampleorders/index.html'))).status).toBe(200);
    expect((await alice.get(url('/comexampleshop.comexampleorders-1.0.0/index.html'))).status).toBe(200);
    expect((await alice.get(url('/otherservice.comexampleorders/index.html'), xhr)).status).toBe(404);
  });

  it('a business application (a service, not public) is reached only through its service', async () => {
    expect((await alice.get(url('/secretapp/x.js'), xhr)).status).toBe(404);
    expect((await alice.get(url('/comexampleshop.secretapp/x.js'))).text).toBe('secret');
  });

  it('every tenant sees the provider\'s applications', async () => {
    const carol = new ScriptedBrowser();
    await stack.login(carol, 'globex', 'carol', '/comexampleorders/index.html');
    expect((await carol.get(stack.base('globex') + '/comexampleorders/index.html')).status).toBe(200);
  });
});

describe('attacks', () => {
  it('an application cannot make public what routes.json protects: its routes.json route is a gate', async () => {
    const anonymous = new ScriptedBrowser();
    // sneaky's xs-app.json says authenticationMethod "none"; the catch-all routes.json route needs a login.
    expect((await anonymous.get(url('/sneaky/data.json'), xhr)).status).toBe(401);
    expect((await alice.get(url('/sneaky/data.json'), xhr)).status).toBe(200);
    // Behind a public routes.json route, the application's own rules decide.
    expect((await anonymous.get(url('/public-apps/sneaky/data.json'), xhr)).status).toBe(200);
    expect((await anonymous.get(url('/public-apps/comexampleorders/index.html'), xhr)).status).toBe(401);
  });

  it('the scopes of the gate hold inside the application', async () => {
    const denied = await bob.get(url('/admin-apps/comexampleorders/index.html'), xhr);
    expect(denied.status).toBe(403);
    expect(denied.headers['x-zonegate-error']).toBe('ZG_ERR_FORBIDDEN');
    expect((await alice.get(url('/admin-apps/comexampleorders/index.html'))).status).toBe(200);
  });

  it('localDir in an application names its own folder, never the gateway\'s disk', async () => {
    expect((await alice.get(url('/folders/index.html'))).text).toBe('<p>webapp</p>');
    const passwd = await alice.get(url('/folders/etc/passwd'), xhr);
    expect(passwd.status).toBe(404);
    expect(passwd.text).not.toContain('root:');
  });

  it('encoded dot-segments and slashes do not leave the application', async () => {
    // Sent as written (a URL parser would resolve them before they leave): the gateway refuses them (400).
    const host = new URL(url('/')).host;
    const cookie = [...alice.cookies(host)].map(([k, v]) => `${k}=${v}`).join('; ');
    for (const path of ['/comexampleorders/%2e%2e/plainapp/index.html', '/comexampleorders/..%2fplainapp%2findex.html', '/comexampleorders/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd']) {
      const res = await request(stack.gateways[0]!.port, { path, host, headers: { ...xhr, cookie } });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.text).not.toContain('plain');
    }
  });
});
