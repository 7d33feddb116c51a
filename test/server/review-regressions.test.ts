/**
 * Regression tests for the defects an adversarial review found in the gateway core: path
 * normalisation (login bypass through `//`, `\`, dot-segments), Host junk, spoofed forwarding
 * headers, a backend status that would crash the process, SIGTERM with open WebSockets, abandoned
 * requests holding backend sockets, backends setting the gateway's cookie, h2c upgrades, and more.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { request } from '../support/http.js';
import { raw } from '../support/raw.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';


const listen = async <T extends net.Server>(server: T): Promise<number> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
};

/** A backend that records every request target it receives and answers with a few hostile headers. */
const received: string[] = [];
const backend = http.createServer((req, res) => {
  received.push(req.url ?? '');
  if (req.url === '/never') {
    // Holds the request until someone gives up; records who did.
    res.once('close', () => received.push(res.writableFinished ? 'finished /never' : 'cut /never'));
    return;
  }
  if (req.url === '/hostile-headers') {
    res.writeHead(200, { 'set-cookie': ['zonegate.sid=fixated; Path=/; HttpOnly', '__Host-zonegate.sid=fixated; Path=/; Secure; HttpOnly', 'zonegate.login.AAAAAAAAAAAA=1.planted; Path=/login/callback', 'theme=dark'], 'x-zonegate-error': 'ZG_ERR_FORBIDDEN', 'content-length': 2 });
    return void res.end('ok');
  }
  const body = JSON.stringify({ url: req.url, headers: req.headers });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
/** Accepts connections and never answers (a hung backend). */
const silent = net.createServer((socket) => socket.on('error', () => {}));
const silentSockets = new Set<net.Socket>();
silent.on('connection', (s) => {
  silentSockets.add(s);
  s.once('close', () => silentSockets.delete(s));
});
/** A forward proxy (RFC 9112 §3.2.2) that records the request target it is asked for. */
const forwardProxySeen: { url: string; host: string | undefined }[] = [];
const forwardProxy = http.createServer((req, res) => {
  forwardProxySeen.push({ url: req.url ?? '', host: req.headers.host });
  res.end('via proxy');
});

/** Answers with the status named by the request path (`/status/099`), however invalid. */
const anyStatus = net.createServer((socket) => {
  socket.on('error', () => undefined);
  socket.once('data', (d: Buffer) => {
    const code = /^GET \/status\/(\d{3})/.exec(d.toString('latin1'))?.[1] ?? '200';
    socket.end(`HTTP/1.1 ${code} Whatever\r\ncontent-length: 2\r\n\r\nok`);
  });
});

let gw: TestGateway;
const acme = () => `acme.app.localhost:${gw.port}`;

beforeAll(async () => {
  const [backendPort, silentPort, proxyPort, anyStatusPort] = [await listen(backend), await listen(silent), await listen(forwardProxy), await listen(anyStatus)];
  gw = await startTestGateway({
    routes: {
      websockets: { enabled: true },
      routes: [
        // SAP's usual shape: a protected area, then a public catch-all on the same backend.
        { source: '^/admin/(.*)$', destination: 'app' },
        { source: '^/public/(.*)$', target: '/public/$1', destination: 'app', authenticationType: 'none' },
        { source: '^/silent/(.*)$', target: '/$1', destination: 'silent', authenticationType: 'none' },
        { source: '^/slow/(.*)$', target: '/slow/$1', destination: 'slow-echo', authenticationType: 'none' },
        { source: '^/via-proxy/(.*)$', target: '/$1', destination: 'via-proxy', authenticationType: 'none' },
        { source: '^/any-status/(.*)$', target: '/$1', destination: 'any-status', authenticationType: 'none' },
        { source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' },
        { source: '^/(.*)$', destination: 'app', authenticationType: 'none' },
      ],
    },
    destinations: [
      { name: 'echo', url: 'ECHO' },
      { name: 'slow-echo', url: 'ECHO', timeout: 200 },
      { name: 'app', url: `http://127.0.0.1:${backendPort}` },
      { name: 'silent', url: `http://127.0.0.1:${silentPort}`, timeout: 300 },
      { name: 'any-status', url: `http://127.0.0.1:${anyStatusPort}` },
      { name: 'via-proxy', url: 'http://backend.internal:8080/base', proxyHost: '127.0.0.1', proxyPort },
    ],
    env: { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.app\\.localhost$' },
  });
});
afterAll(async () => {
  await gw.stop();
  for (const s of silentSockets) s.destroy();
  backend.closeAllConnections();
  forwardProxy.closeAllConnections();
  await Promise.all([backend, silent, forwardProxy, anyStatus].map((s) => new Promise((r) => s.close(r))));
});

describe('D1 (critical): the path the route table matches is the path the backend receives', () => {
  // http-proxy rebuilds the outgoing path with url.parse (turns "\" into "/") and collapses "//",
  // so these matched the public catch-all and reached /admin/secret on the backend without a login.
  it('"//admin" and "/\\admin" cannot reach a protected path through a public route', async () => {
    received.length = 0;
    const slashes = await request(gw.port, { host: acme(), path: '//admin/secret' });
    const backslash = await raw(gw.port, `GET /\\admin/secret HTTP/1.1\r\nHost: ${acme()}\r\nConnection: close\r\n\r\n`);
    expect(received.filter((url) => url.startsWith('/admin'))).toEqual([]);
    expect([401, 400]).toContain(slashes.status);
    expect(backslash).toMatch(/^HTTP\/1\.1 40[01] /);
  });

  // Backends resolve dot-segments and percent-encoded unreserved characters (RFC 3986 §5.2.4,
  // §6.2.2.2) before routing; the gateway must match on the same path it forwards, or refuse.
  it('dot-segments and encoded characters never smuggle a path past its route', async () => {
    received.length = 0;
    for (const path of ['/public/../admin/secret', '/public/%2e%2e/admin/secret', '/public/.%2E/admin/secret', '/public/..%2fadmin/secret', '/%61dmin/secret']) {
      const res = await request(gw.port, { host: acme(), path });
      expect([400, 401], path).toContain(res.status);
    }
    expect(received).toEqual([]);
  });

  it('keeps ordinary encoded paths working (OData keys with %2F, spaces, unicode)', async () => {
    const res = await request(gw.port, { host: acme(), path: "/public/Products('a%2Fb')/x%20y/%C3%A4?$filter=a%20eq%201" });
    expect(res.status).toBe(200);
    expect(res.json().url).toBe("/public/Products('a%2Fb')/x%20y/%C3%A4?$filter=a%20eq%201");
  });
});

describe('D1b (high): path parameters cannot carry a path past its route', () => {
  // Tomcat and Spring drop ";..." from each segment before routing: "/admin;x/secret" matched the
  // public catch-all here and was the protected "/admin/secret" to a Java backend.
  it('refuses a path whose parameters change the route it takes, before any backend sees it', async () => {
    received.length = 0;
    for (const path of ['/admin;x/secret', '/admin;/secret', '/admin;jsessionid=1/secret?x=1']) {
      const res = await request(gw.port, { host: acme(), path, headers: { accept: 'application/json' } });
      expect(res.status, path).toBe(400);
      expect(res.headers['x-zonegate-error'], path).toBe('ZG_ERR_BAD_REQUEST');
      expect(res.json().error.message, path).toMatch(/path parameters/);
    }
    // A WebSocket handshake is held to the same rule.
    const ws = await raw(gw.port, `GET /admin;x/socket HTTP/1.1\r\nHost: ${acme()}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    expect(ws).toMatch(/^HTTP\/1\.1 400 /);
    expect(received).toEqual([]);
  });

  it("passes SAP OData's matrix parameters through when they change nothing about the route", async () => {
    const res = await request(gw.port, { host: acme(), path: "/public/sap/opu/odata/sap/ZSRV;v=2;o=ALIAS/Products('1')?$format=json" });
    expect(res.status).toBe(200);
    expect(res.json().url).toBe("/public/sap/opu/odata/sap/ZSRV;v=2;o=ALIAS/Products('1')?$format=json");
    // Query strings may hold ";" freely.
    expect((await request(gw.port, { host: acme(), path: '/public/x?a=1;b=2' })).status).toBe(200);
  });
});

describe('D2 (high): Host must be a host (RFC 9110 §7.2, RFC 9112 §3.2)', () => {
  // The name before ":" matched the tenant; the rest went verbatim into X-Forwarded-Host and into
  // rewritten Locations: an open redirect / cache-poisoning primitive.
  it('refuses a Host with anything but digits after the colon, and an IPv6 literal with a suffix', async () => {
    const to = encodeURIComponent(`${gw.echoUrl}/next`);
    for (const host of ['acme.app.localhost:1@evil.example', 'acme.app.localhost:80/evil', '[::1]evil.example']) {
      const res = await request(gw.port, { host, path: `/echo/redirect?to=${to}` });
      expect(res.status, host).toBe(400);
      expect(String(res.headers.location ?? '')).not.toContain('evil');
    }
  });

  it('refuses two Host header lines', async () => {
    const res = await raw(gw.port, `GET /echo/x HTTP/1.1\r\nHost: acme.app.localhost\r\nHost: globex.app.localhost\r\nConnection: close\r\n\r\n`);
    expect(res).toMatch(/^HTTP\/1\.1 400 /);
  });
});

describe('D3 (high): forwarding headers from an untrusted client never reach a backend', () => {
  // X-Forwarded-* were replaced, but RFC 7239 Forwarded and its common relatives passed through:
  // Spring, Express (trust proxy), Tomcat's RemoteIpValve and IIS/Symfony read them.
  it('drops Forwarded, X-Real-IP, X-Forwarded-Prefix/-Server and X-Original-URL/X-Rewrite-URL', async () => {
    const res = await request(gw.port, {
      host: acme(),
      path: '/public/x',
      headers: {
        forwarded: 'for=6.6.6.6;host=evil.example;proto=https',
        'x-real-ip': '6.6.6.6',
        'x-forwarded-prefix': '/evil',
        'x-forwarded-server': 'evil.example',
        'x-original-url': '/admin/secret',
        'x-rewrite-url': '/admin/secret',
      },
    });
    const seen = res.json().headers;
    for (const name of ['forwarded', 'x-real-ip', 'x-forwarded-prefix', 'x-forwarded-server', 'x-original-url', 'x-rewrite-url']) {
      expect(seen[name], name).toBeUndefined();
    }
  });
});

describe('D4 (high): graceful stop does not hang', () => {
  it('SIGTERM-style shutdown completes with a WebSocket open, ending both of its sides', async () => {
    const wsBackend = http.createServer();
    const wss = new WebSocketServer({ server: wsBackend });
    const backendSide = new Promise<WebSocket>((r) => wss.once('connection', r));
    const port = await listen(wsBackend);
    const g = await startTestGateway({
      routes: { websockets: { enabled: true }, routes: [{ source: '^/(.*)$', destination: 'live', authenticationType: 'none' }] },
      destinations: [{ name: 'live', url: `http://127.0.0.1:${port}` }],
      env: { SHUTDOWN_TIMEOUT_MS: '300' },
    });
    const ws = new WebSocket(`ws://127.0.0.1:${g.port}/x`);
    await new Promise((r) => ws.once('open', r));
    const backendClosed = new Promise((r) => void backendSide.then((s) => s.once('close', r)));
    const clientClosed = new Promise((r) => ws.once('close', r));
    const within = <T>(p: Promise<T>, what: string) =>
      Promise.race([p.then(() => 'done'), new Promise((r) => setTimeout(() => r(`${what} still open after 3 s`), 3000))]);
    expect(await within(g.running.gateway.shutdown(), 'gateway')).toBe('done');
    expect(await within(clientClosed, 'client side')).toBe('done');
    expect(await within(backendClosed, 'backend side')).toBe('done');
    wss.close();
    await new Promise((r) => wsBackend.close(r));
    await g.stop();
  });

  it('closes a keep-alive connection once its in-flight response is done, not at the deadline', async () => {
    const g = await startTestGateway({
      routes: { routes: [{ source: '^/(.*)$', destination: 'echo', authenticationType: 'none' }] },
      env: { SHUTDOWN_TIMEOUT_MS: '5000' },
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await request(g.port, { path: '/warm', agent });
    const inflight = request(g.port, { path: '/slow/300', agent });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const stopped = g.running.gateway.shutdown();
    expect((await inflight).status).toBe(200);
    await stopped;
    expect(Date.now() - started).toBeLessThan(2000);
    agent.destroy();
    await g.stop();
  });
});

describe('D5 (medium): a WebSocket handshake to a backend that never answers times out', () => {
  it('answers 504 within the destination timeout instead of holding the client for ever', async () => {
    const started = Date.now();
    const outcome = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/silent/x`, { headers: { host: acme() } });
      const timer = setTimeout(() => {
        ws.terminate();
        resolve('no answer after 3 s');
      }, 3000);
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        resolve(`${res.statusCode} ${String(res.headers['x-zonegate-error'])}`);
      });
      ws.once('open', () => resolve('open'));
      ws.once('error', () => undefined);
    });
    expect(outcome).toBe('504 ZG_ERR_BACKEND_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('D6 (medium): backend responses cannot speak for the gateway', () => {
  it('drops a backend Set-Cookie for the gateway session cookie (session fixation) and a forged x-zonegate-error', async () => {
    const res = await request(gw.port, { host: acme(), path: '/hostile-headers' });
    expect(res.headers['set-cookie']).toEqual(['theme=dark']);
    expect(res.headers['x-zonegate-error']).toBeUndefined();
  });
});

describe('D6b (medium): nor can the 101 of a WebSocket backend', () => {
  it('drops Set-Cookie of the gateway session cookie from a WebSocket handshake answer', async () => {
    const wsBackend = http.createServer();
    const wss = new WebSocketServer({ server: wsBackend });
    wss.on('headers', (headers) => headers.push('Set-Cookie: zonegate.sid=fixated; Path=/', 'Set-Cookie: __Host-zonegate.sid=fixated; Path=/; Secure', 'Set-Cookie: zonegate.login.AAAAAAAAAAAA=1.planted; Path=/login/callback', 'Set-Cookie: theme=dark'));
    const port = await listen(wsBackend);
    const g = await startTestGateway({
      routes: { websockets: { enabled: true }, routes: [{ source: '^/(.*)$', destination: 'live', authenticationType: 'none' }] },
      destinations: [{ name: 'live', url: `http://127.0.0.1:${port}` }],
    });
    const ws = new WebSocket(`ws://127.0.0.1:${g.port}/x`);
    const cookies = await new Promise<string[] | undefined>((r) => ws.once('upgrade', (res) => r(res.headers['set-cookie'])));
    expect(cookies).toEqual(['theme=dark']);
    ws.terminate();
    await g.stop();
    for (const client of wss.clients) client.terminate();
    wss.close();
    await new Promise((r) => wsBackend.close(r));
  });
});

describe('D7 (medium): destinations behind a forward proxy (proxyHost/proxyPort)', () => {
  // The proxy got "GET /x" with its own Host: it could not know where to go; the base path was lost.
  it('asks the forward proxy for the destination\'s absolute URL', async () => {
    forwardProxySeen.length = 0;
    const res = await request(gw.port, { host: acme(), path: '/via-proxy/x?y=1' });
    expect(res.text).toBe('via proxy');
    expect(forwardProxySeen).toEqual([{ url: 'http://backend.internal:8080/base/x?y=1', host: 'backend.internal:8080' }]);
  });
});

describe('D8 (low): 504 classification does not depend on Expect', () => {
  // http-proxy emits proxyReq only without Expect, so the timeout was never seen: 502 instead of 504.
  it('a request with Expect: 100-continue that times out gets 504', async () => {
    const res = await request(gw.port, { host: acme(), method: 'POST', path: '/slow/2000', headers: { expect: '100-continue', 'content-length': '2' }, body: 'hi' });
    expect(res.status).toBe(504);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_BACKEND_TIMEOUT');
  });
});

describe('D9 (medium): a client that leaves frees the backend request at once', () => {
  // http-proxy cuts the backend request on req 'aborted', which Node does not emit once the request
  // body is complete (every GET): the backend socket stayed busy until the 30 s destination timeout.
  it('cuts the backend request when the client disconnects while the backend is thinking', async () => {
    received.length = 0;
    const req = http.get({ host: '127.0.0.1', port: gw.port, path: '/never', headers: { host: acme() } });
    req.on('error', () => undefined);
    const until = async (what: string, ms: number) => {
      const deadline = Date.now() + ms;
      while (!received.includes(what) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return received.includes(what);
    };
    expect(await until('/never', 3000)).toBe(true);
    req.destroy();
    expect(await until('cut /never', 1500)).toBe(true);
  });
});

describe('D10 (high): a backend with a broken status line cannot crash the gateway', () => {
  // writeHead throws for a status below 100 inside http-proxy's proxyRes event: an uncaught
  // exception that ends the process, every tenant with it; the client hung until then.
  it('answers 502 for a status outside 100-599 and keeps serving', async () => {
    for (const code of ['099', '000', '600']) {
      const res = await request(gw.port, { host: acme(), path: `/any-status/status/${code}` });
      expect(res.status, code).toBe(502);
      expect(res.headers['x-zonegate-error'], code).toBe('ZG_ERR_BACKEND_UNREACHABLE');
    }
    expect((await request(gw.port, { host: acme(), path: '/any-status/status/201' })).status).toBe(201);
  });
});

describe('D11 (medium): an Upgrade other than websocket is ignored, not answered with a reset', () => {
  // `curl --http2 http://…` sends "Connection: Upgrade, HTTP2-Settings" + "Upgrade: h2c" on every
  // request; RFC 9110 §7.8 lets a server ignore it. http-proxy destroyed the socket instead.
  it('serves an h2c upgrade request as an ordinary request, without passing the Upgrade on', async () => {
    const res = await request(gw.port, {
      host: acme(),
      path: '/public/x',
      headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAAP__' },
    }).catch((e: Error) => ({ status: `error ${e.message}`, json: () => ({}) }));
    expect(res.status).toBe(200);
    const seen = (res.json() as { headers: Record<string, string> }).headers;
    expect(seen.upgrade).toBeUndefined();
    expect(seen['http2-settings']).toBeUndefined();
  });
});

describe('D12 (low): malformed requests get Node\'s statuses and the gateway\'s error mark', () => {
  // The custom clientError handler answered a bare 400 to everything, 431 and 408 included.
  it('431 for oversized headers, 400 marked ZG_ERR_BAD_REQUEST for garbage', async () => {
    const big = await raw(gw.port, `GET /public/x HTTP/1.1\r\nHost: ${acme()}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    const garbage = await raw(gw.port, 'GET /public/x HTTP/1.1\r\nHost acme\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage.toLowerCase()).toContain('x-zonegate-error: zg_err_bad_request');
  });
});

describe('D13 (high, Cloud Foundry): behind the gorouter the client still cannot choose its tenant or scheme', () => {
  // manifest.yml sets TRUSTED_PROXIES=all. The gorouter keeps the client's Host, passes a client's
  // X-Forwarded-Host through unchanged (cloudfoundry/routing-release#420) and APPENDS its own
  // X-Forwarded-Proto to the client's: the first values are the client's word.
  it('with TRUSTED_PROXIES=all the tenant comes from Host and the scheme from the last X-Forwarded-Proto', async () => {
    const cf = await startTestGateway({
      routes: { routes: [{ source: '^/(.*)$', destination: 'echo', authenticationType: 'none' }] },
      env: { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.app\\.localhost$', TRUSTED_PROXIES: 'all' },
    });
    try {
      const res = await request(cf.port, {
        host: 'acme.app.localhost',
        path: '/x',
        headers: { 'x-forwarded-host': 'globex.app.localhost', 'x-forwarded-proto': 'http, https' },
      });
      expect(res.status).toBe(200);
      const seen = res.json().headers;
      expect(seen['x-forwarded-host']).toBe('acme.app.localhost');
      expect(seen['x-forwarded-proto']).toBe('https');
      expect(res.headers['strict-transport-security']).toContain('max-age=');
    } finally {
      await cf.stop();
    }
  });
});
