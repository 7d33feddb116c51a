import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.js';
import { raw } from '../support/raw.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

/**
 * Attacks on the gateway core from the client side (issue 2): request smuggling, header
 * injection, spoofed forwarding headers, tenant confusion, upgrade tricks and error pages.
 * Each test names what an attacker tries and asserts that the backend never sees it.
 */


const listen = async (server: net.Server): Promise<number> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
};

/** Every request target and head the backend receives. */
const received: { url: string; headers: http.IncomingHttpHeaders }[] = [];
const backend = http.createServer((req, res) => {
  received.push({ url: req.url ?? '', headers: req.headers });
  req.resume();
  req.on('end', () => {
    const body = JSON.stringify({ url: req.url, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
/** A raw backend that agrees to any upgrade (else answers 200) and records every byte it receives. */
const tunnelBytes: string[] = [];
const tunnel = net.createServer((socket) => {
  socket.on('error', () => undefined);
  socket.once('data', (d: Buffer) => {
    socket.write(
      /^upgrade:/im.test(d.toString('latin1'))
        ? 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'
        : 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nplain',
    );
  });
  socket.on('data', (d: Buffer) => tunnelBytes.push(d.toString('latin1')));
});

let gw: TestGateway;
let trusting: TestGateway;
const acme = () => `acme.app.localhost:${gw.port}`;

beforeAll(async () => {
  const backendPort = await listen(backend);
  const tunnelPort = await listen(tunnel);
  const routes = {
    welcomeFile: '/index.html',
    websockets: { enabled: true },
    routes: [
      { source: '^/admin/(.*)$', destination: 'app' },
      { source: '^/ws/(.*)$', target: '/$1', destination: 'tunnel', authenticationType: 'none' },
      { source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' },
      { source: '^/public/(.*)$', target: '/public/$1', destination: 'app', authenticationType: 'none' },
    ],
  };
  const destinations = [
    { name: 'echo', url: 'ECHO' },
    { name: 'app', url: `http://127.0.0.1:${backendPort}` },
    { name: 'tunnel', url: `http://127.0.0.1:${tunnelPort}` },
  ];
  const env = { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.app\\.localhost$' };
  gw = await startTestGateway({ routes, destinations, env });
  // The test client connects from 127.0.0.1: here it plays the trusted proxy in front.
  trusting = await startTestGateway({ routes, destinations, env: { ...env, TRUSTED_PROXIES: '127.0.0.1' } });
});
afterAll(async () => {
  await gw.stop();
  await trusting.stop();
  backend.closeAllConnections();
  await Promise.all([backend, tunnel].map((s) => new Promise((r) => s.close(r))));
});

describe('request smuggling (RFC 9112 §6.1, §6.3)', () => {
  const smuggled = () => received.filter((r) => r.url.startsWith('/admin'));

  it('refuses Transfer-Encoding together with Content-Length; the hidden request never reaches a backend', async () => {
    received.length = 0;
    const hidden = `GET /admin/secret HTTP/1.1\r\nHost: ${acme()}\r\n\r\n`;
    const answer = await raw(
      gw.port,
      `POST /public/x HTTP/1.1\r\nHost: ${acme()}\r\nContent-Length: ${5 + hidden.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden}`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(received).toEqual([]);
  });

  it('refuses conflicting Content-Length lines and a Transfer-Encoding that does not end in chunked', async () => {
    received.length = 0;
    const cl = await raw(gw.port, `POST /public/x HTTP/1.1\r\nHost: ${acme()}\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc`);
    expect(cl).toMatch(/^HTTP\/1\.1 400 /);
    const te = await raw(gw.port, `POST /public/x HTTP/1.1\r\nHost: ${acme()}\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
    expect(te).toMatch(/^HTTP\/1\.1 400 /);
    expect(received).toEqual([]);
  });

  it('refuses obsolete line folding, which other parsers would read as part of the previous header', async () => {
    received.length = 0;
    const answer = await raw(gw.port, `GET /public/x HTTP/1.1\r\nHost: ${acme()}\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(received).toEqual([]);
  });

  it('keeps pipelined requests apart: each is routed, and protected, on its own', async () => {
    received.length = 0;
    const answer = await raw(
      gw.port,
      `GET /public/one HTTP/1.1\r\nHost: ${acme()}\r\n\r\nGET /admin/two HTTP/1.1\r\nHost: ${acme()}\r\nConnection: close\r\n\r\n`,
    );
    // A body need not end in a newline: status lines are found anywhere in the stream.
    expect(answer.match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 200 ', 'HTTP/1.1 401 ']);
    expect(received.map((r) => r.url)).toEqual(['/public/one']);
    expect(smuggled()).toEqual([]);
  });
});

describe('the gateway is not an open proxy', () => {
  it('refuses absolute-form and authority-form targets without contacting anyone', async () => {
    received.length = 0;
    const absolute = await raw(gw.port, `GET http://127.0.0.1:${gw.port}/public/x HTTP/1.1\r\nHost: ${acme()}\r\nConnection: close\r\n\r\n`);
    expect(absolute).toMatch(/^HTTP\/1\.1 400 /);
    const connect = await raw(gw.port, `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`);
    expect(connect).not.toMatch(/^HTTP\/1\.1 2\d\d/);
    expect(received).toEqual([]);
  });

  it('never tunnels an upgrade that is not a WebSocket (h2c smuggling)', async () => {
    tunnelBytes.length = 0;
    const answer = await raw(
      gw.port,
      `GET /ws/x HTTP/1.1\r\nHost: ${acme()}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n`,
    );
    // Refusing the upgrade or ignoring it (RFC 9110 §7.8) are both fine; passing it on is not.
    expect(answer).not.toContain('101 Switching Protocols');
    expect(tunnelBytes.join('')).not.toMatch(/upgrade|http2-settings/i);
  });
});

describe('headers a client must not control', () => {
  it('cannot make the gateway drop its own forwarding headers by naming them in Connection', async () => {
    const res = await request(gw.port, {
      host: acme(),
      path: '/public/x',
      headers: { connection: 'x-forwarded-for, x-forwarded-host, x-request-id, x-correlationid', 'x-request-id': 'mine' },
    });
    const seen = res.json().headers;
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-host']).toBe(acme());
    expect(seen['x-request-id']).toBe('mine');
  });

  it('never forwards Proxy-Authorization, and strips a client Authorization on protected routes', async () => {
    const res = await request(gw.port, { host: acme(), path: '/public/x', headers: { 'proxy-authorization': 'Basic c2VjcmV0' } });
    expect(res.json().headers['proxy-authorization']).toBeUndefined();
    received.length = 0;
    const admin = await request(gw.port, { host: acme(), path: '/admin/x', headers: { authorization: 'Bearer forged' } });
    expect(admin.status).toBe(401);
    expect(received).toEqual([]);
  });

  it('spoofed X-Forwarded-* from an untrusted client are replaced, not appended to', async () => {
    const res = await request(gw.port, {
      host: acme(),
      path: '/public/x',
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'globex.app.localhost', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443', 'x-forwarded-path': '/admin/x' },
    });
    const seen = res.json().headers;
    expect(seen['x-forwarded-path']).toBe('/public/x');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-host']).toBe(acme());
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-port']).toBe(String(gw.port));
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('from a trusted proxy they decide the tenant and scheme, and the chain is appended to', async () => {
    const res = await request(trusting.port, {
      host: `internal:${trusting.port}`,
      path: '/public/x',
      headers: { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-host': 'acme.app.localhost', 'x-forwarded-proto': 'https', 'x-forwarded-path': '/shop/public/x' },
    });
    expect(res.status).toBe(200);
    const seen = res.json().headers;
    // The path the client used in front of the proxy (SAP's router keeps it too, backend-request/headers.js).
    expect(seen['x-forwarded-path']).toBe('/shop/public/x');
    expect(seen['x-forwarded-for']).toBe('198.51.100.7, 127.0.0.1');
    expect(seen['x-forwarded-host']).toBe('acme.app.localhost');
    expect(seen['x-forwarded-proto']).toBe('https');
    expect(seen['x-forwarded-port']).toBe('443');
    expect(res.headers['strict-transport-security']).toContain('max-age=');
    const other = await request(trusting.port, { host: `internal:${trusting.port}`, path: '/public/x', headers: { 'x-forwarded-host': 'evil.example' } });
    expect(other.status).toBe(404);
    expect(other.headers['x-zonegate-error']).toBe('ZG_ERR_HOST_UNMATCHED');
  });
});

describe('what route patterns run against is bounded', () => {
  it('answers 414 to an overlong request target before any route pattern sees it, HTTP and WebSocket alike', async () => {
    received.length = 0;
    const long = `/public/${'a/'.repeat(4100)}`;
    const res = await request(gw.port, { host: acme(), path: long, headers: { accept: 'application/json' } });
    expect(res.status).toBe(414);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_URI_TOO_LONG');
    expect(res.json().error.code).toBe('ZG_ERR_URI_TOO_LONG');
    const upgrade = await raw(gw.port, `GET /ws${long} HTTP/1.1\r\nHost: ${acme()}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    expect(upgrade).toMatch(/^HTTP\/1\.1 414 /);
    expect(received).toEqual([]);
    // The limit is the limit: a target of exactly 8192 characters is still routed and proxied (what
    // the backend's own header limit makes of it, with X-Forwarded-Path repeating it, is its answer).
    const atLimit = await request(gw.port, { host: acme(), path: `/public/${'b'.repeat(8192 - '/public/'.length)}` });
    expect(atLimit.status).not.toBe(414);
    expect(atLimit.headers['x-zonegate-error']).toBeUndefined();
  });

  it('a Host longer than a DNS name (253 characters) never reaches TENANT_HOST_PATTERN', async () => {
    const res = await request(gw.port, { host: `${'a'.repeat(250)}.app.localhost`, path: '/public/x', headers: { accept: 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_BAD_REQUEST');
  });
});

describe('tenant confusion through the Host', () => {
  it('lower-cases the host before matching, so ACME and acme are one tenant', async () => {
    const before = gw.logs.length;
    const res = await request(gw.port, { host: `ACME.App.Localhost:${gw.port}`, path: '/public/x', headers: { 'x-request-id': 'upper-case-host' } });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 20));
    const line = gw.logs.slice(before).map((l) => JSON.parse(l)).find((l) => l.requestId === 'upper-case-host');
    expect(line?.tenant).toBe('acme');
  });

  it('refuses look-alike, suffixed, trailing-dot and IP-literal hosts instead of guessing a tenant', async () => {
    received.length = 0;
    for (const host of ['acme.app.localhost.evil.example', 'evil.example', 'acme.app.localhost.', '[::1]', '127.0.0.1', 'app.localhost']) {
      const res = await request(gw.port, { host: `${host}:${gw.port}`, path: '/public/x' });
      expect(res.status, host).toBe(404);
      expect(res.headers['x-zonegate-error'], host).toBe('ZG_ERR_HOST_UNMATCHED');
    }
    expect(received).toEqual([]);
  });

  it('refuses a request without a Host, or with a Host that is not a host name', async () => {
    const none = await raw(gw.port, 'GET /public/x HTTP/1.0\r\n\r\n');
    expect(none).toMatch(/^HTTP\/1\.1 400 /);
    for (const host of ['acme.app.localhost@evil.example', 'evil.example/acme.app.localhost', 'acme app']) {
      const res = await request(gw.port, { host, path: '/public/x' });
      expect(res.status, host).toBe(400);
    }
  });
});

describe('answers the gateway makes itself', () => {
  it('escapes what the client sent in error pages (no reflected script)', async () => {
    const res = await request(gw.port, { host: acme(), path: '/<script>alert(1)</script>', headers: { accept: 'text/html' } });
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('<script>');
    expect(res.text).toContain('&#60;script&#62;');
    expect(res.headers['content-security-policy']).toBeDefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('never leaks a stack trace or a file path in an error', async () => {
    for (const path of ['/nothing-here', '/%zz', '/admin/x']) {
      const res = await request(gw.port, { host: acme(), path });
      expect(res.text, path).not.toMatch(/at [\w.<>]+ \(|node_modules|\/src\/|\.ts:\d+/);
      expect(res.headers['x-zonegate-error'], path).toMatch(/^ZG_ERR_/);
    }
  });

  it('the welcome redirect stays on this origin whatever the query says', async () => {
    for (const path of ['/?next=//evil.example', '/?@evil.example', '/?\\evil.example']) {
      const res = await request(gw.port, { host: acme(), path });
      expect(res.status, path).toBe(302);
      expect(res.headers.location, path).toMatch(/^\/index\.html\?/);
    }
  });
});
