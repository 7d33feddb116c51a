import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS, seedDemoZones } from '../../src/demo/demo.js';
import { ScriptedBrowser } from '../support/browser.js';
import { freePort } from '../support/free-port.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';
import { logIn, ROOT, ROUTES } from '../provisioning/gateway-support.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const ECHO_ROUTE = '^/echo/(.*)$';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
const SERVER = 2;
const CLIENT = 3;

/** The sample application (built-in zones, the demo's tenants and users) plus a destination nothing listens on. */
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
    env: { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$', UAA_DOMAIN: 'auth.localhost', SESSION_KEYS: 'k1:' + 't'.repeat(40), ...env },
  });
  await seedDemoZones(gw.running.directory!, gw.running.credentials!.clientid);
  return gw;
}

describe('tracing on (OTEL_EXPORTER_OTLP_ENDPOINT): spans exported over OTLP/HTTP, traceparent propagated', () => {
  let receiver: OtlpReceiver;
  let echoed: { headers: Record<string, string>; url: string };
  let fresh: { headers: Record<string, string> };
  let spans: ReceivedSpan[];
  let exportedBeforeStop: number;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const gw = await startSample({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20collector-token',
      OTEL_SERVICE_NAME: 'zonegate-test',
    });
    const host = `acme.localhost:${gw.port}`;
    try {
      // A caller that is itself traced: the gateway continues its trace.
      const res = await request(gw.port, { host, path: '/echo/hello?code=secret', headers: { traceparent: TRACEPARENT, tracestate: 'caller=1' } });
      expect(res.status).toBe(200);
      echoed = res.json();
      // A malformed traceparent starts a new trace, and the tracestate that came with it is not passed on.
      const again = await request(gw.port, { host, path: '/echo/x', headers: { traceparent: '00-not-a-trace-01', tracestate: 'caller=2' } });
      fresh = again.json();
      expect((await request(gw.port, { host, method: 'POST', path: '/down/x', body: 'x' })).status).toBe(502);
      await logIn(new ScriptedBrowser(), `http://${host}`, DEMO_USERS[0].userName, DEMO_USERS[0].password);
      exportedBeforeStop = receiver.spans.length;
    } finally {
      // Shutdown exports what the batch still holds (its 5 s delay has not passed).
      await gw.stop();
    }
    spans = receiver.spans;
  }, 60_000);
  afterAll(() => receiver?.close());

  const serverSpanOf = (route: string) => spans.find((s) => s.kind === SERVER && s.attributes['http.route'] === route)!;

  it('sends the backend a traceparent of the same trace, whose parent is the backend span', () => {
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(echoed.headers.traceparent ?? '');
    expect(match).not.toBeNull();
    expect(match![1]).toBe(TRACE_ID);
    expect(match![2]).not.toBe(CALLER_SPAN);
    const backend = spans.find((s) => s.kind === CLIENT && s.traceId === TRACE_ID)!;
    expect(backend.spanId).toBe(match![2]);
    // The caller's tracestate goes on with its trace.
    expect(echoed.headers.tracestate).toBe('caller=1');
  });

  it('starts a new trace for a malformed traceparent and drops its tracestate', () => {
    expect(fresh.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(fresh.headers.traceparent).not.toContain(TRACE_ID);
    expect(fresh.headers.tracestate).toBeUndefined();
  });

  it('exports nothing before shutdown (batched), everything at shutdown, with the configured headers', () => {
    expect(exportedBeforeStop).toBe(0);
    expect(receiver.posts.length).toBeGreaterThan(0);
    for (const post of receiver.posts) {
      expect(post).toMatchObject({ path: '/v1/traces', contentType: 'application/json', authorization: 'Bearer collector-token' });
    }
    expect(spans[0]!.resource['service.name']).toBe('zonegate-test');
  });

  it('exports the request as a server span under the caller, with route, method, status and tenant', () => {
    const server = spans.find((s) => s.kind === SERVER && s.traceId === TRACE_ID)!;
    expect(server.parentSpanId).toBe(CALLER_SPAN);
    expect(server.name).toBe(`GET ${ECHO_ROUTE}`);
    expect(server.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': ECHO_ROUTE,
      'http.response.status_code': 200,
      'url.path': '/echo/hello',
      'url.scheme': 'http',
      'server.address': 'acme.localhost',
      'zonegate.tenant': 'acme',
      'zonegate.route': 0,
    });
  });

  it('exports the backend call as a client span under the server span, with destination and status, without the query', () => {
    const server = spans.find((s) => s.kind === SERVER && s.traceId === TRACE_ID)!;
    const backend = spans.find((s) => s.kind === CLIENT && s.traceId === TRACE_ID)!;
    expect(backend.parentSpanId).toBe(server.spanId);
    expect(backend.name).toBe('GET');
    expect(backend.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 200, 'zonegate.destination': 'echo', 'server.address': '127.0.0.1' });
    expect(String(backend.attributes['url.full'])).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/hello$/);
    expect(JSON.stringify(spans)).not.toContain('secret');
  });

  it('marks a failed backend call and its 502 as errors', () => {
    const server = serverSpanOf('^/down/(.*)$');
    expect(server.attributes).toMatchObject({ 'http.response.status_code': 502, 'error.type': '502' });
    expect(server.status.code).toBe(2);
    const backend = spans.find((s) => s.kind === CLIENT && s.parentSpanId === server.spanId)!;
    expect(backend.attributes).toMatchObject({ 'zonegate.destination': 'down', 'error.type': 'ZG_ERR_BACKEND_UNREACHABLE' });
    expect(backend.status.code).toBe(2);
  });

  it('exports the login callback (the code exchange at the zone) as a span under its request', () => {
    const login = spans.find((s) => s.name === 'login callback')!;
    expect(login).toBeDefined();
    expect(login.attributes['zonegate.tenant']).toBe('acme');
    expect(login.status.code ?? 0).toBe(0);
    const request = spans.find((s) => s.spanId === login.parentSpanId)!;
    expect(request).toMatchObject({ kind: SERVER, traceId: login.traceId });
    expect(request.attributes).toMatchObject({ 'url.path': '/login/callback', 'http.response.status_code': 302, 'zonegate.answered_by': 'login' });
  });
});

describe('tracing on: WebSocket upgrades', () => {
  const WS_TRACE = '0af7651916cd43dd8448eb211c80319c';
  let spans: ReceivedSpan[];
  let backendTraceparent: string | undefined;
  let refusedStatus: number | undefined;

  beforeAll(async () => {
    const receiver = await startOtlpReceiver();
    // A backend that accepts /live and refuses everything else with a 403 of its own.
    const backend = http.createServer();
    const wss = new WebSocketServer({ noServer: true });
    backend.on('upgrade', (req, socket, head) => {
      if (req.url !== '/live') return void socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      backendTraceparent = req.headers.traceparent as string | undefined;
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => ws.send(d.toString())));
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const gw = await startTestGateway({
      routes: { websockets: { enabled: true }, routes: [{ source: '^/ws/(.*)$', target: '/$1', destination: 'live', authenticationType: 'none' }] },
      destinations: [{ name: 'live', url: `http://127.0.0.1:${(backend.address() as AddressInfo).port}` }],
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
    });
    const open = (path: string) =>
      new Promise<{ ws?: WebSocket; status?: number }>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gw.port}${path}`, { headers: { traceparent: `00-${WS_TRACE}-${CALLER_SPAN}-01` } });
        ws.once('open', () => resolve({ ws }));
        ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
        ws.once('error', () => resolve({}));
      });
    try {
      const { ws } = await open('/ws/live');
      const echoed = new Promise<string>((r) => ws!.once('message', (d) => r(d.toString())));
      ws!.send('ping');
      expect(await echoed).toBe('ping');
      ws!.close();
      refusedStatus = (await open('/ws/other')).status;
      expect((await open('/nowhere')).status).toBe(404);
    } finally {
      await gw.stop();
      backend.closeAllConnections();
      await new Promise((r) => backend.close(r));
    }
    spans = receiver.spans;
    receiver.close();
  }, 60_000);

  it('exports the handshake as a server span (101) and the backend handshake as a client span, traceparent passed on', () => {
    const servers = spans.filter((s) => s.kind === SERVER && s.traceId === WS_TRACE);
    const live = servers.find((s) => s.attributes['url.path'] === '/ws/live')!;
    expect(live.parentSpanId).toBe(CALLER_SPAN);
    expect(live.attributes).toMatchObject({ 'http.route': '^/ws/(.*)$', 'http.response.status_code': 101 });
    expect(live.attributes['zonegate.aborted']).toBeUndefined();
    const client = spans.find((s) => s.kind === CLIENT && s.parentSpanId === live.spanId)!;
    expect(client.attributes).toMatchObject({ 'zonegate.destination': 'live', 'http.response.status_code': 101 });
    expect(backendTraceparent).toBe(`00-${WS_TRACE}-${client.spanId}-01`);
  });

  it("records the backend's refusal and the gateway's own (no route) with their statuses", () => {
    expect(refusedStatus).toBe(403);
    const servers = spans.filter((s) => s.kind === SERVER && s.traceId === WS_TRACE);
    const refused = servers.find((s) => s.attributes['url.path'] === '/ws/other')!;
    expect(refused.attributes['http.response.status_code']).toBe(403);
    const client = spans.find((s) => s.kind === CLIENT && s.parentSpanId === refused.spanId)!;
    expect(client.attributes['http.response.status_code']).toBe(403);
    const unrouted = servers.find((s) => s.attributes['url.path'] === '/nowhere')!;
    expect(unrouted.attributes['http.response.status_code']).toBe(404);
    expect(servers).toHaveLength(3);
  });
});

describe('tracing off', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ routes: { routes: [{ source: ECHO_ROUTE, target: '/$1', destination: 'echo', authenticationType: 'none' }] } });
  });
  afterAll(() => gw?.stop());

  it('adds no traceparent to backend requests', async () => {
    const echoed = (await request(gw.port, { path: '/echo/a' })).json();
    expect(echoed.headers.traceparent).toBeUndefined();
    expect(echoed.headers.tracestate).toBeUndefined();
  });

  it("passes a caller's trace context through unchanged, as SAP's router passes unknown headers", async () => {
    const echoed = (await request(gw.port, { path: '/echo/a', headers: { traceparent: TRACEPARENT, tracestate: 'caller=1' } })).json();
    expect(echoed.headers.traceparent).toBe(TRACEPARENT);
    expect(echoed.headers.tracestate).toBe('caller=1');
  });
});
