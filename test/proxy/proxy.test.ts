import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

/**
 * The proxy when things go wrong on either side: backends that die, stall or reset, clients that
 * go away. Each failure must reach the other side as a failure (never as a complete answer), and
 * must not leave sockets, timers or listeners behind.
 */

const listen = async (server: net.Server): Promise<number> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
};

/** What the backend saw of each request: its path, and whether it ended before the response. */
const events: string[] = [];
const backend = http.createServer((req, res) => {
  const path = req.url ?? '';
  events.push(`arrived ${path}`);
  req.on('aborted', () => events.push(`aborted ${path}`));
  res.on('close', () => events.push(`${res.writableFinished ? 'finished' : 'cut'} ${path}`));
  if (path === '/truncated-chunked' || path === '/truncated-length') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...(path === '/truncated-length' ? { 'content-length': 1000 } : {}) });
    res.write('hello');
    setTimeout(() => res.socket?.destroy(), 30);
    return;
  }
  if (path === '/stall-after-headers') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write('partial');
    return;
  }
  if (path === '/endless') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024, 0x61)), 5);
    res.on('close', () => clearInterval(timer));
    return;
  }
  if (path === '/never') return; // holds the request open until the gateway gives up or the client goes
  if (path === '/upload') {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => res.end(String(bytes)));
    return;
  }
  if (path === '/close') {
    res.writeHead(200, { connection: 'close', 'keep-alive': 'timeout=1', 'content-length': 2 });
    return void res.end('ok');
  }
  if (path.startsWith('/base/redirect')) {
    res.writeHead(302, { location: `http://127.0.0.1:${backendPort}/base/next?x=1` });
    return void res.end();
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
  res.end('ok');
});
let backendPort = 0;

/** Accepts, then resets every connection. */
const resetting = net.createServer((socket) => socket.resetAndDestroy());

let gw: TestGateway;

beforeAll(async () => {
  backendPort = await listen(backend);
  const resettingPort = await listen(resetting);
  gw = await startTestGateway({
    routes: {
      routes: [
        { source: '^/app/(.*)$', target: '/$1', destination: 'app', authenticationType: 'none' },
        { source: '^/based/(.*)$', target: '/$1', destination: 'based', authenticationType: 'none' },
        { source: '^/reset/(.*)$', target: '/$1', destination: 'reset', authenticationType: 'none' },
        { source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' },
      ],
    },
    destinations: [
      { name: 'echo', url: 'ECHO' },
      { name: 'app', url: `http://127.0.0.1:${backendPort}`, timeout: 400 },
      { name: 'based', url: `http://127.0.0.1:${backendPort}/base` },
      { name: 'reset', url: `http://127.0.0.1:${resettingPort}` },
    ],
  });
});
afterAll(async () => {
  await gw.stop();
  backend.closeAllConnections();
  await Promise.all([backend, resetting].map((s) => new Promise((r) => s.close(r))));
});

/** Resolves with "complete <bytes>" or "error <message>"; "hung" if neither within `ms`. */
function outcome(promise: Promise<{ body: Buffer }>, ms = 4000): Promise<string> {
  return Promise.race([
    promise.then((r) => `complete ${r.body.length}`, (e: Error) => `error ${e.message}`),
    new Promise<string>((r) => setTimeout(() => r('hung'), ms)),
  ]);
}

const until = async (condition: () => boolean, ms = 3000): Promise<boolean> => {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return condition();
};

describe('backend failures reach the client as failures', () => {
  it('a backend that dies mid-body cuts the client response (chunked and with Content-Length), over keep-alive too', async () => {
    const agent = new http.Agent({ keepAlive: true });
    expect(await outcome(request(gw.port, { path: '/app/truncated-chunked' }))).toBe('error aborted');
    expect(await outcome(request(gw.port, { path: '/app/truncated-length', agent }))).toBe('error aborted');
    agent.destroy();
  });

  it('a backend that stalls after its headers is cut after the destination timeout, not held for ever', async () => {
    const started = Date.now();
    expect(await outcome(request(gw.port, { path: '/app/stall-after-headers' }))).toBe('error aborted');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a backend that resets the connection gives 502 without naming its address', async () => {
    const res = await request(gw.port, { path: '/reset/x' });
    expect(res.status).toBe(502);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_BACKEND_UNREACHABLE');
    expect(res.text).not.toContain('127.0.0.1');
    expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
    expect((await request(gw.port, { path: '/app/ok' })).text).toBe('ok');
  });

  it('a backend that never answers gives 504 after its timeout and the backend request is cut', async () => {
    events.length = 0;
    const res = await request(gw.port, { path: '/app/never' });
    expect(res.status).toBe(504);
    expect(await until(() => events.includes('cut /never'))).toBe(true);
  });
});

describe('clients that go away', () => {
  it('a client that leaves mid-download stops the backend stream', async () => {
    events.length = 0;
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: gw.port, path: '/app/endless', headers: { host: 'localhost' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    });
    expect(await until(() => events.includes('cut /endless'))).toBe(true);
  });

  it('a client that leaves mid-upload aborts the backend request', async () => {
    events.length = 0;
    const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'POST', path: '/app/upload', headers: { host: 'localhost', 'content-length': 1_000_000 } });
    req.on('error', () => undefined);
    // More than the 64 KiB received before a backend connection is taken (REQUEST_BUFFER_SIZE).
    req.write(Buffer.alloc(128 * 1024));
    expect(await until(() => events.includes('arrived /upload'))).toBe(true);
    req.destroy();
    expect(await until(() => events.includes('aborted /upload'))).toBe(true);
    expect((await request(gw.port, { path: '/app/ok' })).text).toBe('ok');
  });
});

describe('what the client sees of the backend', () => {
  it('never relays a backend\'s Connection: close or Keep-Alive (SAP leaks them, REFERENCE.md §8)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const res = await request(gw.port, { path: '/app/close', agent });
    expect(res.text).toBe('ok');
    expect(res.headers.connection).toBe('keep-alive');
    expect(res.headers['keep-alive']).not.toBe('timeout=1');
    agent.destroy();
  });

  it('rewrites a redirect to the destination\'s own URL under a base path back onto the gateway route', async () => {
    const res = await request(gw.port, { host: 'gw.example', path: '/based/redirect' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('http://gw.example/based/next?x=1');
  });

  it('adds no listeners per request on keep-alive connections (no MaxListenersExceededWarning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 60; i++) expect((await request(gw.port, { path: '/app/ok', agent })).status).toBe(200);
      for (let i = 0; i < 60; i++) expect((await request(gw.port, { path: '/echo/x', agent })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      agent.destroy();
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });
});
