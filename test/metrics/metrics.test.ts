import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS, seedDemoZones } from '../../src/demo/demo.js';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { freePort } from '../support/free-port.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';
import { clientToken, logIn, ROOT, ROUTES } from '../provisioning/gateway-support.js';
import { parseExposition, type Exposition } from './exposition.js';

const TOKEN = 'metrics-scrape-token-0123456789';
const ECHO_ROUTE = '^/echo/(.*)$';

/**
 * The sample application with its built-in zones, plus a route to a destination nothing listens on;
 * tenants `<t>.localhost`, zones `<t>.auth.localhost`, the demo's tenants and users seeded.
 */
async function startSample(env: Record<string, string>): Promise<TestGateway> {
  const down = await freePort();
  const routes = structuredClone(ROUTES);
  routes.routes.splice(routes.routes.length - 1, 0, { source: '^/down/(.*)$', target: '/$1', destination: 'down', authenticationType: 'none' });
  const gw = await startTestGateway({
    routes,
    files: {
      'xs-security.json': fs.readFileSync(path.join(ROOT, 'xs-security.json'), 'utf8'),
      'public/index.html': '<!doctype html><title>sample</title>',
    },
    destinations: [
      { name: 'echo', url: 'ECHO', forwardAuthToken: true },
      { name: 'down', url: `http://127.0.0.1:${down}` },
    ],
    env: { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$', UAA_DOMAIN: 'auth.localhost', SESSION_KEYS: 'k1:' + 'm'.repeat(40), ...env },
  });
  await seedDemoZones(gw.running.directory!, gw.running.credentials!.clientid);
  return gw;
}

async function scrape(port: number, headers: Record<string, string> = {}): Promise<Exposition> {
  const res = await request(port, { path: '/metrics', headers });
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(res.text);
}

describe('metrics on a port of their own (METRICS_PORT), tenant label capped at one tenant', () => {
  let gw: TestGateway;
  let metricsPort: number;
  let m: Exposition;
  const tenantHost = (t: string) => `${t}.localhost:${gw.port}`;

  beforeAll(async () => {
    gw = await startSample({ METRICS_PORT: '0', METRICS_TENANT_LABEL: 'true', METRICS_TENANT_LIMIT: '1' });
    metricsPort = gw.running.metricsPort!;

    // Requests: a public route twice, a tenant that is not subscribed (no route), a destination that is down.
    for (let i = 0; i < 2; i++) expect((await request(gw.port, { host: tenantHost('acme'), path: '/echo/hello' })).status).toBe(200);
    expect((await request(gw.port, { host: tenantHost('initech'), path: '/echo/hello' })).status).toBe(404);
    expect((await request(gw.port, { host: tenantHost('acme'), method: 'POST', path: '/down/x', body: 'x' })).status).toBe(502);
    // A second tenant, beyond METRICS_TENANT_LIMIT: counted as `other`.
    expect((await request(gw.port, { host: tenantHost('globex'), method: 'DELETE', path: '/echo/hello' })).status).toBe(200);
    // The zones' token endpoint.
    await clientToken(gw, 'provider');
    // A login that fails at the zone's form, then one that succeeds, then a callback the gateway refuses.
    const browser = new ScriptedBrowser();
    const start = await browser.get(`http://${tenantHost('acme')}/api/whoami`);
    const page = await browser.get(String(start.headers.location));
    const wrong = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: DEMO_USERS[0].userName, password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    await logIn(browser, `http://${tenantHost('acme')}`, DEMO_USERS[0].userName, DEMO_USERS[0].password);
    const forged = await new ScriptedBrowser().get(`http://${tenantHost('acme')}/login/callback?code=x&state=y`);
    expect(forged.status).toBe(401);

    m = await scrape(metricsPort);
  });
  afterAll(() => gw.stop());

  it('counts requests by route source, method class, status class and tenant', () => {
    expect(m.types.get('zonegate_http_requests_total')).toBe('counter');
    expect(m.value('zonegate_http_requests_total', { route: ECHO_ROUTE, method: 'GET', status_class: '2xx', tenant: 'acme' })).toBe(2);
    expect(m.value('zonegate_http_requests_total', { route: ECHO_ROUTE, method: 'DELETE', status_class: '2xx', tenant: 'other' })).toBe(1);
    // The unsubscribed tenant reached no route: it is no tenant, and takes no place under the limit.
    expect(m.value('zonegate_http_requests_total', { route: 'none', method: 'GET', status_class: '4xx', tenant: 'none' })).toBe(1);
    expect(m.value('zonegate_http_requests_total', { route: '^/down/(.*)$', method: 'POST', status_class: '5xx', tenant: 'acme' })).toBe(1);
    // The zones' answers and the login's own paths are labelled as such.
    expect(m.value('zonegate_http_requests_total', { route: 'zones', method: 'POST' })).toBeGreaterThanOrEqual(2);
    expect(m.value('zonegate_http_requests_total', { route: 'login', method: 'GET', status_class: '3xx', tenant: 'acme' })).toBe(1);
    expect(m.value('zonegate_http_requests_total', { route: 'login', method: 'GET', status_class: '4xx', tenant: 'acme' })).toBe(1);
    const tenants = new Set(m.find('zonegate_http_requests_total').map((s) => s.labels.tenant));
    expect([...tenants].sort()).toEqual(['acme', 'none', 'other']);
  });

  it('has a latency histogram whose counts agree with the request counter', () => {
    expect(m.types.get('zonegate_http_request_duration_seconds')).toBe('histogram');
    const labels = { route: ECHO_ROUTE, method: 'GET', status_class: '2xx' };
    expect(m.value('zonegate_http_request_duration_seconds_count', labels)).toBe(2);
    expect(m.value('zonegate_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(2);
    const sum = m.value('zonegate_http_request_duration_seconds_sum', labels);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(5);
  });

  it('counts backend errors by destination and code', () => {
    expect(m.value('zonegate_backend_errors_total', { destination: 'down', code: 'ZG_ERR_BACKEND_UNREACHABLE' })).toBe(1);
    expect(m.find('zonegate_backend_errors_total', { destination: 'echo' })).toEqual([]);
  });

  it('counts the gateway\'s logins and the zones\' password checks by outcome', () => {
    expect(m.value('zonegate_logins_total', { outcome: 'started', tenant: 'acme' })).toBe(2);
    expect(m.value('zonegate_logins_total', { outcome: 'succeeded', tenant: 'acme' })).toBe(1);
    expect(m.value('zonegate_logins_total', { outcome: 'failed', tenant: 'acme' })).toBe(1);
    expect(m.value('zonegate_zone_logins_total', { via: 'form', outcome: 'failed' })).toBe(1);
    expect(m.value('zonegate_zone_logins_total', { via: 'form', outcome: 'succeeded' })).toBe(1);
  });

  it('counts the tokens the zones issued by grant type', () => {
    expect(m.value('zonegate_tokens_issued_total', { grant_type: 'client_credentials' })).toBe(1);
    // The login's code exchange.
    expect(m.value('zonegate_tokens_issued_total', { grant_type: 'authorization_code' })).toBe(1);
  });

  it('probes the store and the records database at each scrape, and has the process metrics', () => {
    expect(m.value('zonegate_storage_up', { kind: 'sqlite' })).toBe(1);
    expect(m.value('zonegate_records_up', { kind: 'sqlite' })).toBe(1);
    expect(m.value('zonegate_storage_probe_duration_seconds', { kind: 'sqlite' })).toBeLessThan(0.5);
    expect(m.types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(m.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('serves only /metrics on the metrics port, and nothing of it on the tenants\' port', async () => {
    expect((await request(metricsPort, { path: '/healthz' })).status).toBe(404);
    expect((await request(metricsPort, { path: '/metrics', method: 'POST' })).status).toBe(405);
    const onTenantPort = await request(gw.port, { host: tenantHost('acme'), path: '/metrics', headers: { accept: 'application/json' } });
    expect(onTenantPort.status).toBe(404);
    expect(onTenantPort.text).not.toContain('zonegate_');
    // A scrape counts nothing on the tenants' port.
    const again = await scrape(metricsPort);
    expect(again.find('zonegate_http_requests_total', { route: 'metrics' })).toEqual([]);
  });
});

describe('metrics on the gateway\'s port behind METRICS_TOKEN', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      routes: { routes: [{ source: '^/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] },
      env: { METRICS_TOKEN: TOKEN },
    });
  });
  afterAll(() => gw.stop());

  it('answers 401 without the token or with a wrong one, and the metrics with it', async () => {
    expect(gw.running.metricsPort).toBeUndefined();
    const none = await request(gw.port, { path: '/metrics', headers: { accept: 'application/json' } });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="zonegate metrics"');
    expect(none.json().error.code).toBe('ZG_ERR_UNAUTHENTICATED');
    const wrong = await request(gw.port, { path: '/metrics', headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toContain('error="invalid_token"');
    // On every host, before routing: a route with the same path cannot take it.
    expect((await request(gw.port, { path: '/metrics', host: 'any.example' })).status).toBe(401);

    expect((await request(gw.port, { path: '/anything' })).status).toBe(200);
    const m = await scrape(gw.port, { authorization: `bearer ${TOKEN}` });
    expect(m.value('zonegate_http_requests_total', { route: '^/(.*)$', method: 'GET', status_class: '2xx' })).toBe(1);
    expect(m.value('zonegate_http_requests_total', { route: 'metrics', status_class: '4xx' })).toBe(3);
    // No tenant label unless asked for.
    expect(m.find('zonegate_http_requests_total').every((s) => !('tenant' in s.labels))).toBe(true);
  });
});

describe('metrics of WebSocket upgrades', () => {
  let gw: TestGateway;
  let backend: http.Server;
  beforeAll(async () => {
    backend = http.createServer();
    const wss = new WebSocketServer({ server: backend });
    wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d.toString())));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    gw = await startTestGateway({
      routes: { websockets: { enabled: true }, routes: [{ source: '^/ws/(.*)$', target: '/$1', destination: 'live', authenticationType: 'none' }] },
      destinations: [{ name: 'live', url: `http://127.0.0.1:${(backend.address() as AddressInfo).port}` }],
      env: { METRICS_TOKEN: TOKEN },
    });
  });
  afterAll(async () => {
    await gw.stop();
    backend.closeAllConnections();
    await new Promise((r) => backend.close(r));
  });
  const open = (path: string) =>
    new Promise<{ ws?: WebSocket; status?: number }>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${path}`);
      ws.once('open', () => resolve({ ws }));
      ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    });

  it('counts each handshake as a request (101 as 1xx, a refusal by its status) and the tunnels open now', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const { ws: first } = await open('/ws/a');
    const { ws: second } = await open('/ws/b');
    expect((await open('/elsewhere')).status).toBe(404);
    let m = await scrape(gw.port, auth);
    expect(m.value('zonegate_http_requests_total', { route: '^/ws/(.*)$', method: 'GET', status_class: '1xx' })).toBe(2);
    expect(m.value('zonegate_http_requests_total', { route: 'none', method: 'GET', status_class: '4xx' })).toBe(1);
    expect(m.value('zonegate_websockets_open')).toBe(2);

    const closed = new Promise((r) => first!.once('close', r));
    first!.close();
    await closed;
    // The gateway sees its side close a moment after the client's close handshake.
    for (let i = 0; i < 100 && (await scrape(gw.port, auth)).value('zonegate_websockets_open') !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    m = await scrape(gw.port, auth);
    expect(m.value('zonegate_websockets_open')).toBe(1);
    second!.close();
  });
});

describe('metrics off (the default)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ routes: { routes: [{ source: '^/api/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] } });
  });
  afterAll(() => gw.stop());

  it('serves no /metrics anywhere: the path is routed like any other', async () => {
    expect(gw.running.metricsPort).toBeUndefined();
    const res = await request(gw.port, { path: '/metrics', headers: { accept: 'application/json' } });
    expect(res.status).toBe(404);
    expect(res.json().error.code).toBe('ZG_ERR_ROUTE_NOT_FOUND');
  });
});
