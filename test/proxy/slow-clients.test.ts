import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

/**
 * Slow clients must not starve a destination (issue 10): a backend connection is taken only once a
 * request body has arrived (or its first REQUEST_BUFFER_SIZE bytes have), receiving a request is
 * bounded in time, and a request waits a bounded time for one of the destination's connections.
 * The faults are real: raw sockets that trickle bodies, a backend that holds its connections.
 */

/** What the backend saw: the paths that reached it. */
const arrived: string[] = [];
const backend = http.createServer((req, res) => {
  const path = req.url ?? '';
  arrived.push(path);
  let bytes = 0;
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    if (path.startsWith('/hold')) {
      const timer = setTimeout(() => res.end('held'), 3000);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    res.end(`${req.headers['content-length'] ?? '-'} ${bytes}`);
  });
});

/** The default REQUEST_TIMEOUT_MS (minutes): slow clients are not simply cut early. */
let gw: TestGateway;
/** A short REQUEST_TIMEOUT_MS, for the test of that bound. */
let strict: TestGateway;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  const routes = {
    routes: [
      { source: '^/app/(.*)$', target: '/$1', destination: 'app', authenticationType: 'none' },
      { source: '^/narrow/(.*)$', target: '/$1', destination: 'narrow', authenticationType: 'none' },
    ],
  };
  const destinations = [
    { name: 'app', url: backendUrl, maxSockets: 16 },
    { name: 'narrow', url: backendUrl, maxSockets: 2 },
  ];
  gw = await startTestGateway({ routes, destinations, env: { REQUEST_BUFFER_SIZE: '4096', REQUEST_BODY_TIMEOUT_MS: '5000', BACKEND_QUEUE_TIMEOUT_MS: '500' } });
  strict = await startTestGateway({ routes, destinations, env: { REQUEST_TIMEOUT_MS: '3000' } });
});
afterEach(() => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
});
afterAll(async () => {
  await Promise.all([gw.stop(), strict.stop()]);
  backend.closeAllConnections();
  await new Promise((r) => backend.close(r));
});

/** A raw connection that has sent `head`; collects what the gateway answers, `closed` when it ends. */
function rawClient(head: string, port = gw.port): { socket: net.Socket; answer: () => string; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  sockets.add(socket);
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.write(head);
  return { socket, answer: () => answer, closed };
}

const post = (path: string, length: number) => `POST ${path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: ${length}\r\n\r\n`;

/** Rejects when `promise` has not settled within `ms`: a generous bound, not a speed assertion. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

describe('slow clients cannot starve a destination', () => {
  it('300 clients trickling bodies at 1 byte/s leave a 16-connection destination serving everyone else', async () => {
    arrived.length = 0;
    const tricklers = Array.from({ length: 300 }, (_, i) => rawClient(post(`/app/trickle/${i}`, 1000)));
    // One byte a second: never idle for REQUEST_BODY_TIMEOUT_MS (5 s), even on a loaded machine.
    const drip = setInterval(() => {
      for (const t of tricklers) if (t.socket.writable) t.socket.write('a');
    }, 1000);
    try {
      // Long enough for every trickler to have reached the gateway and, without buffering, the backend.
      await new Promise((r) => setTimeout(r, 1000));
      for (let i = 0; i < 10; i++) {
        const get = await within(request(gw.port, { path: `/app/normal/${i}` }), 5000);
        expect(get.status).toBe(200);
        const upload = await within(request(gw.port, { method: 'POST', path: `/app/normal-post/${i}`, body: 'x'.repeat(2000) }), 5000);
        expect(upload.text).toBe('2000 2000');
      }
      // Their bodies are incomplete and under the buffer size: none of them took a backend connection,
      // and they were not simply cut (they are still connected, still sending).
      expect(arrived.filter((p) => p.startsWith('/trickle/'))).toEqual([]);
      expect(tricklers.flatMap((t, i) => (t.socket.destroyed || t.answer() !== '' ? [i] : []))).toEqual([]);
    } finally {
      clearInterval(drip);
    }
  });

  it('a chunked body under the buffer size reaches the backend whole, with a Content-Length', async () => {
    const res = await within(
      new Promise<string>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'POST', path: '/app/chunked', headers: { host: 'localhost' }, agent: false }, (r) => {
          let text = '';
          r.on('data', (d: Buffer) => (text += d));
          r.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.write('a'.repeat(1000));
        req.end('b'.repeat(1000));
      }),
      5000,
    );
    expect(res).toBe('2000 2000');
  });

  it('a body larger than the buffer streams to the backend complete', async () => {
    const res = await within(request(gw.port, { method: 'POST', path: '/app/large', body: Buffer.alloc(1_000_000, 0x61) }), 10_000);
    expect(res.text).toBe('1000000 1000000');
  });
});

describe('receiving a request is bounded in time', () => {
  it('a client trickling its body is answered 408 and disconnected after REQUEST_TIMEOUT_MS', async () => {
    const client = rawClient(post('/app/forever', 1000), strict.port);
    const drip = setInterval(() => client.socket.writable && client.socket.write('a'), 200);
    try {
      await within(client.closed, 15_000);
    } finally {
      clearInterval(drip);
    }
    expect(client.answer()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a client that stops sending a body larger than the buffer, once streaming, is cut after REQUEST_BODY_TIMEOUT_MS', async () => {
    arrived.length = 0;
    const client = rawClient(post('/app/stalled', 100_000) + 'a'.repeat(8192));
    // It reached the backend (beyond the buffer, bodies stream), then stopped sending.
    await within(
      (async () => {
        while (!arrived.includes('/stalled')) await new Promise((r) => setTimeout(r, 20));
      })(),
      5000,
    );
    await within(client.closed, 10_000);
  });
});

describe('waiting for a destination connection is bounded', () => {
  it('with both connections of a destination busy, a request is answered 503 after BACKEND_QUEUE_TIMEOUT_MS and never sent', async () => {
    arrived.length = 0;
    const holders = [request(gw.port, { path: '/narrow/hold/1' }), request(gw.port, { path: '/narrow/hold/2' })];
    await within(
      (async () => {
        while (arrived.length < 2) await new Promise((r) => setTimeout(r, 20));
      })(),
      5000,
    );
    const queued = await within(request(gw.port, { method: 'POST', path: '/narrow/queued', body: 'delete everything' }), 2500);
    expect(queued.status).toBe(503);
    expect(queued.headers['x-zonegate-error']).toBe('ZG_ERR_BACKEND_BUSY');
    for (const held of await Promise.all(holders)) expect(held.text).toBe('held');
    // The connections are free again: the refused request was dropped from the queue, not sent late.
    expect((await within(request(gw.port, { path: '/narrow/after' }), 5000)).status).toBe(200);
    expect(arrived).not.toContain('/queued');
  });
});
