import zlib from 'node:zlib';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { freePort } from '../support/free-port.js';

const ROUTES = {
  welcomeFile: '/index.html',
  routes: [
    { source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' },
    { source: '^/only-get/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none', httpMethods: ['GET'] },
    { source: '^/only-post/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none', httpMethods: ['POST', 'PUT'] },
    { source: '^/only-post/(.*)$', target: '/patched/$1', destination: 'echo', authenticationType: 'none', httpMethods: ['PATCH'] },
    { source: '^/v1/(.*)$', target: '/api/v1/$1', destination: 'echo', authenticationType: 'none' },
    { source: '^/protected/(.*)$', target: '/$1', destination: 'echo' },
    { source: '^/(.*)$', target: '$1', localDir: 'web', authenticationType: 'none', cacheControl: 'public, max-age=60' },
  ],
};

let gw: TestGateway;
const acme = () => `acme.app.localhost:${gw.port}`;

beforeAll(async () => {
  gw = await startTestGateway({
    routes: ROUTES,
    env: { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.app\\.localhost$' },
    files: { 'web/index.html': '<!doctype html><title>home</title>', 'web/big.json': JSON.stringify({ a: 'x'.repeat(5000) }) },
  });
});
afterAll(() => gw.stop());

describe('tenant resolution', () => {
  it('routes a matching host and tells the backend which host the client used', async () => {
    const res = await request(gw.port, { host: acme(), path: '/echo/hello?x=1' });
    expect(res.status).toBe(200);
    const seen = res.json();
    expect(seen.url).toBe('/hello?x=1');
    expect(seen.headers['x-forwarded-host']).toBe(acme());
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-port']).toBe(String(gw.port));
  });

  it('refuses a host that does not match the pattern, as JSON for API clients', async () => {
    const res = await request(gw.port, { host: `evil.example.com:${gw.port}`, path: '/echo/x' });
    expect(res.status).toBe(404);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_HOST_UNMATCHED');
    expect(res.json().error).toMatchObject({ code: 'ZG_ERR_HOST_UNMATCHED', status: 404 });
    expect(res.json().error.message).toContain('evil.example.com');
  });

  it('refuses it with a readable page for browsers', async () => {
    const res = await request(gw.port, { host: `localhost:${gw.port}`, path: '/', headers: { accept: 'text/html,*/*' } });
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('does not match the tenant host pattern');
    expect(res.headers['content-security-policy']).toBeDefined();
  });

  it('ignores X-Forwarded-Host from an untrusted peer (no tenant switching by header)', async () => {
    const res = await request(gw.port, { host: `localhost:${gw.port}`, path: '/echo/x', headers: { 'x-forwarded-host': 'acme.app.localhost' } });
    expect(res.status).toBe(404);
    const ok = await request(gw.port, { host: acme(), path: '/echo/x', headers: { 'x-forwarded-host': 'globex.app.localhost', 'x-forwarded-for': '6.6.6.6' } });
    expect(ok.json().headers['x-forwarded-host']).toBe(acme());
    expect(ok.json().headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(ok.json().headers['x-forwarded-host']).not.toContain('globex');
  });

  it('rejects a malformed Host', async () => {
    const res = await request(gw.port, { host: 'acme.app.localhost@evil', path: '/echo/x' });
    expect(res.status).toBe(400);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_BAD_REQUEST');
  });
});

describe('routing', () => {
  it('redirects / to the welcome file, keeping the query', async () => {
    const res = await request(gw.port, { host: acme(), path: '/?sap-language=de' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/index.html?sap-language=de');
  });

  it('rewrites the target with backreferences', async () => {
    const res = await request(gw.port, { host: acme(), path: '/v1/orders/7?$top=2' });
    expect(res.json().url).toBe('/api/v1/orders/7?$top=2');
  });

  it('answers 405 with Allow when only routes of other methods match', async () => {
    // The catch-all localDir route matches DELETE /methods/x too: static files allow GET and HEAD.
    const res = await request(gw.port, { host: acme(), method: 'DELETE', path: '/methods/x' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    const patch = await request(gw.port, { host: acme(), method: 'PATCH', path: '/only-post/x' });
    expect(patch.json().url).toBe('/patched/x');
    const get = await request(gw.port, { host: acme(), method: 'HEAD', path: '/only-get/x' });
    expect(get.status).toBe(200);
  });

  it('falls through to later routes in order (first match wins)', async () => {
    const res = await request(gw.port, { host: acme(), method: 'POST', path: '/only-get/x' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    // /only-post/ excludes GET, so the catch-all localDir route answers (and has no such file).
    const fallthrough = await request(gw.port, { host: acme(), path: '/only-post/x' });
    expect(fallthrough.status).toBe(404);
    expect(fallthrough.headers['x-zonegate-error']).toBe('ZG_ERR_FILE_NOT_FOUND');
  });

  it('serves localDir files with type, cache-control and validators', async () => {
    const res = await request(gw.port, { host: acme(), path: '/index.html' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=60');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    const again = await request(gw.port, { host: acme(), path: '/index.html', headers: { 'if-none-match': String(res.headers.etag) } });
    expect(again.status).toBe(304);
  });

  it('does not serve files outside localDir', async () => {
    for (const path of ['/../routes.json', '/%2e%2e/routes.json', '/..%2froutes.json']) {
      const res = await request(gw.port, { host: acme(), path });
      expect([400, 404], path).toContain(res.status);
      expect(res.text).not.toContain('routes');
    }
  });

  it('refuses protected routes while no identity provider is configured', async () => {
    const res = await request(gw.port, { host: acme(), path: '/protected/x', headers: { authorization: 'Bearer forged' } });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('Bearer');
  });
});

describe('proxying', () => {
  it('strips hop-by-hop headers both ways, including those named in Connection', async () => {
    const res = await request(gw.port, {
      host: acme(),
      path: '/echo/x',
      headers: { connection: 'keep-alive, x-private', 'x-private': 'secret', te: 'trailers', 'keep-alive': 'timeout=5', 'x-kept': '1' },
    });
    const seen = res.json().headers;
    expect(seen['x-private']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen['x-kept']).toBe('1');
  });

  it('never forwards the gateway session and login cookies, keeps the others', async () => {
    const res = await request(gw.port, { host: acme(), path: '/echo/x', headers: { cookie: 'zonegate.sid=s%3Asecret; theme=dark; __Host-zonegate.sid=s%3Asecret2; zonegate.login.AAAAAAAAAAAA=1.state' } });
    expect(res.json().headers.cookie).toBe('theme=dark');
  });

  it('propagates a request id, or generates one', async () => {
    const given = await request(gw.port, { host: acme(), path: '/echo/x', headers: { 'x-request-id': 'abc-123' } });
    expect(given.json().headers['x-request-id']).toBe('abc-123');
    expect(given.headers['x-request-id']).toBe('abc-123');
    const made = await request(gw.port, { host: acme(), path: '/echo/x', headers: { 'x-request-id': 'bad id <script>' } });
    expect(made.json().headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sends the request id as x-correlationid too (SAP's logging libraries correlate on it); a client's valid x-correlationid wins, as in SAP's router", async () => {
    const made = await request(gw.port, { host: acme(), path: '/echo/x' });
    const id = made.json().headers['x-request-id'];
    expect(made.json().headers['x-correlationid']).toBe(id);
    expect(made.headers['x-request-id']).toBe(id);
    // SAP (utils/header-util.js addCorrelationIdHeader): x-correlationid first, then x-request-id.
    const given = await request(gw.port, { host: acme(), path: '/echo/x', headers: { 'x-correlationid': 'corr-1', 'x-request-id': 'req-1' } });
    expect(given.json().headers['x-correlationid']).toBe('corr-1');
    expect(given.json().headers['x-request-id']).toBe('corr-1');
    expect(given.headers['x-request-id']).toBe('corr-1');
    const fromRequestId = await request(gw.port, { host: acme(), path: '/echo/x', headers: { 'x-request-id': 'req-2' } });
    expect(fromRequestId.json().headers['x-correlationid']).toBe('req-2');
    const bad = await request(gw.port, { host: acme(), path: '/echo/x', headers: { 'x-correlationid': 'bad id <script>', 'x-request-id': 'req-3' } });
    expect(bad.json().headers['x-correlationid']).toBe('req-3');
  });

  it('sends x-forwarded-path without the query string (SAP: the pathname of the request URL)', async () => {
    const res = await request(gw.port, { host: acme(), path: '/echo/hello?code=SECRET&x=1' });
    expect(res.json().headers['x-forwarded-path']).toBe('/echo/hello');
  });

  it('rewrites backend redirects to its own URL onto the gateway', async () => {
    const to = encodeURIComponent(`${gw.echoUrl}/next?a=1`);
    const res = await request(gw.port, { host: acme(), path: `/echo/redirect?to=${to}` });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`http://${acme()}/echo/next?a=1`);
    const foreign = await request(gw.port, { host: acme(), path: `/echo/redirect?to=${encodeURIComponent('https://example.org/x')}` });
    expect(foreign.headers.location).toBe('https://example.org/x');
  });

  it('compresses compressible responses for clients that accept it', async () => {
    const br = await request(gw.port, { host: acme(), path: '/echo/' + 'x'.repeat(3000), headers: { 'accept-encoding': 'gzip, br' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(JSON.parse(zlib.brotliDecompressSync(br.body).toString()).url).toBe('/' + 'x'.repeat(3000));
    const gz = await request(gw.port, { host: acme(), path: '/big.json', headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(zlib.gunzipSync(gz.body).toString()).a).toHaveLength(5000);
    const plain = await request(gw.port, { host: acme(), path: '/echo/x' });
    expect(plain.headers['content-encoding']).toBeUndefined();
  });

  it('adds security defaults to proxied responses', async () => {
    const res = await request(gw.port, { host: acme(), path: '/echo/x' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });
});

describe('logging', () => {
  it('writes one line per request with id, tenant, route, status and duration, never secrets', async () => {
    const before = gw.logs.length;
    await request(gw.port, {
      host: acme(),
      path: '/echo/cb?code=SECRETCODE&state=s',
      headers: { authorization: 'Bearer SECRETTOKEN', cookie: 'zonegate.sid=SECRETSID', 'x-request-id': 'log-test-1' },
    });
    await new Promise((r) => setTimeout(r, 20));
    const lines = gw.logs.slice(before);
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.requestId === 'log-test-1');
    expect(line).toMatchObject({ msg: 'request', tenant: 'acme', route: 0, method: 'GET', path: '/echo/cb', status: 200 });
    expect(typeof line.durationMs).toBe('number');
    const all = lines.join('\n');
    for (const secret of ['SECRETCODE', 'SECRETTOKEN', 'SECRETSID']) expect(all).not.toContain(secret);
  });
});

describe('LOG_REQUESTS=off', () => {
  let quiet: TestGateway;
  beforeAll(async () => {
    const down = { source: '^/down/(.*)$', target: '/$1', destination: 'down', authenticationType: 'none' };
    quiet = await startTestGateway({
      routes: { routes: [ROUTES.routes[0]!, down] },
      destinations: [{ name: 'echo', url: 'ECHO' }, { name: 'down', url: `http://127.0.0.1:${await freePort()}` }],
      env: { LOG_REQUESTS: 'off' },
    });
  });
  afterAll(() => quiet.stop());

  it('writes no line per request, and still logs what fails', async () => {
    const before = quiet.logs.length;
    expect((await request(quiet.port, { path: '/echo/x', headers: { 'x-request-id': 'quiet-1' } })).status).toBe(200);
    expect((await request(quiet.port, { path: '/down/x', headers: { 'x-request-id': 'quiet-2' } })).status).toBe(502);
    await new Promise((r) => setTimeout(r, 20));
    const lines = quiet.logs.slice(before).map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.msg === 'request')).toEqual([]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', requestId: 'quiet-2', code: 'ZG_ERR_BACKEND_UNREACHABLE' }));
  });
});

describe('health', () => {
  it('answers /healthz and /readyz on any host, outside tenant routing', async () => {
    const live = await request(gw.port, { host: 'whatever.invalid', path: '/healthz' });
    expect(live.status).toBe(200);
    const ready = await request(gw.port, { host: 'whatever.invalid', path: '/readyz' });
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', storage: 'ok', records: 'ok' });
  });
});

describe('backend failures', () => {
  let failing: TestGateway;
  let closedPort: number;
  beforeAll(async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    failing = await startTestGateway({
      routes: {
        routes: [
          { source: '^/down/(.*)$', target: '/$1', destination: 'down', authenticationType: 'none' },
          { source: '^/slow/(.*)$', target: '/slow/$1', destination: 'slow', authenticationType: 'none' },
          { source: '^/up/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' },
        ],
      },
      destinations: [
        { name: 'echo', url: 'ECHO' },
        { name: 'down', url: `http://127.0.0.1:${closedPort}` },
        { name: 'slow', url: 'ECHO', timeout: 200 },
      ],
    });
  });
  afterAll(() => failing.stop());

  it('answers 502 with a coded error when the destination refuses the connection', async () => {
    const res = await request(failing.port, { path: '/down/x' });
    expect(res.status).toBe(502);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_BACKEND_UNREACHABLE');
    expect(res.json().error.message).toContain('"down"');
  });

  it('answers 504 when the destination exceeds its timeout, and keeps serving other routes', async () => {
    const started = Date.now();
    const res = await request(failing.port, { path: '/slow/3000' });
    expect(res.status).toBe(504);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_BACKEND_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2500);
    const html = await request(failing.port, { path: '/down/x', headers: { accept: 'text/html' } });
    expect(html.text).toContain('ZG_ERR_BACKEND_UNREACHABLE');
    const ok = await request(failing.port, { path: '/up/x' });
    expect(ok.status).toBe(200);
  });
});

describe('routes.json errorPage', () => {
  let custom: TestGateway;
  beforeAll(async () => {
    custom = await startTestGateway({
      routes: {
        errorPage: [{ status: [404, 405], file: '/errors/missing.html' }],
        routes: [{ source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none', httpMethods: ['GET'] }],
      },
      files: { 'errors/missing.html': '<!doctype html><title>Lost</title><p>Our own page for lost souls.</p>' },
    });
  });
  afterAll(() => custom.stop());

  it('shows the configured page to browsers, keeps the status and the JSON for API clients', async () => {
    const page = await request(custom.port, { path: '/nowhere', headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(page.text).toContain('Our own page for lost souls.');
    expect(page.headers['x-zonegate-error']).toBe('ZG_ERR_ROUTE_NOT_FOUND');
    const method = await request(custom.port, { method: 'DELETE', path: '/echo/x', headers: { accept: 'text/html' } });
    expect(method.status).toBe(405);
    expect(method.text).toContain('lost souls');
    const api = await request(custom.port, { path: '/nowhere' });
    expect(api.json().error.code).toBe('ZG_ERR_ROUTE_NOT_FOUND');
  });

  it('refuses to start when the page file is missing, naming the file and path', async () => {
    await expect(
      startTestGateway({ routes: { errorPage: [{ status: 500, file: '/nope.html' }], routes: [{ source: '^/(.*)$', destination: 'echo', authenticationType: 'none' }] } }),
    ).rejects.toThrow(/at \/errorPage\/0\/file: cannot read .*nope\.html/);
  });
});

describe('routes.json responseHeaders', () => {
  let custom: TestGateway;
  beforeAll(async () => {
    custom = await startTestGateway({
      routes: {
        responseHeaders: [
          { name: 'X-Frame-Options', value: 'DENY' },
          { name: 'Content-Security-Policy', value: "frame-ancestors 'none'" },
          { name: 'X-App', value: 'zonegate-test' },
        ],
        routes: [
          { source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' },
          { source: '^/(.*)$', target: '$1', localDir: 'web', authenticationType: 'none' },
        ],
      },
      files: { 'web/a.txt': 'static' },
    });
  });
  afterAll(() => custom.stop());

  it('override the defaults on proxied, static and error answers alike', async () => {
    for (const path of ['/echo/x', '/a.txt', '/missing.txt']) {
      const res = await request(custom.port, { path });
      expect(res.headers['x-frame-options'], path).toBe('DENY');
      expect(res.headers['content-security-policy'], path).toBe("frame-ancestors 'none'");
      expect(res.headers['x-app'], path).toBe('zonegate-test');
    }
  });
});
