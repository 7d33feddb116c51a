import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { brotliDecompressSync, createBrotliDecompress, createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { CompressionOptions } from '../../src/http/compression.js';
import { compressResponse, negotiateEncoding, shouldCompress } from '../../src/http/compression.js';

describe('negotiateEncoding', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['identity', undefined],
    ['gzip', 'gzip'],
    ['x-gzip', 'gzip'],
    ['br', 'br'],
    ['gzip, deflate, br, zstd', 'br'], // what browsers send: equal q, br preferred
    ['br;q=0.5, gzip', 'gzip'],
    ['gzip;q=0.8, br;q=0.9', 'br'],
    ['GZIP;Q=1', 'gzip'],
    ['*', 'br'],
    ['*;q=0', undefined],
    ['gzip;q=0, *', 'br'],
    ['br;q=0, *', 'gzip'],
    ['br;q=0, gzip;q=0', undefined],
    ['deflate', undefined],
    ['identity;q=0', undefined], // refuses identity but accepts nothing we make
    ['identity;q=0, gzip', 'gzip'],
    ['gzip;q=0.5', 'gzip'], // unlisted identity ranks below every listed coding
    ['gzip;q=0.5, identity', undefined], // an explicit identity preferred over gzip wins
    ['gzip;q=2', undefined], // invalid qvalue: the element is ignored
    ['gzip;q=0.1234', undefined],
    ['br;q=abc, gzip', 'gzip'],
    [' gzip ; q=0.7 , br ; q=0.6 ', 'gzip'],
  ])('%j -> %j', (header, expected) => {
    expect(negotiateEncoding(header)).toBe(expected);
  });
});

describe('shouldCompress', () => {
  const get = { method: 'GET', headers: { 'accept-encoding': 'gzip, br' } };
  const json = { 'content-type': 'application/json; charset=utf-8' };

  it('compresses compressible types of unknown or sufficient length', () => {
    for (const type of [
      'text/html',
      'text/css; charset=utf-8',
      'application/json',
      'application/problem+json',
      'text/javascript',
      'application/javascript',
      'application/xml',
      'application/atom+xml',
      'image/svg+xml',
      'application/wasm',
      'font/ttf',
    ]) {
      expect(shouldCompress(get, 200, { 'content-type': type }), type).toBe(true);
    }
    expect(shouldCompress(get, 200, { ...json, 'content-length': '1024' })).toBe(true);
    expect(shouldCompress(get, 404, json)).toBe(true);
  });

  it('leaves already compressed media and unknown types alone', () => {
    for (const type of ['image/png', 'image/jpeg', 'font/woff2', 'video/mp4', 'application/zip', 'application/octet-stream']) {
      expect(shouldCompress(get, 200, { 'content-type': type }), type).toBe(false);
    }
    expect(shouldCompress(get, 200, {})).toBe(false);
  });

  it('never compresses server-sent events', () => {
    expect(shouldCompress(get, 200, { 'content-type': 'text/event-stream' })).toBe(false);
    expect(shouldCompress(get, 200, { 'content-type': 'Text/Event-Stream; charset=utf-8' })).toBe(false);
  });

  it('respects no-transform from the backend and from the client', () => {
    expect(shouldCompress(get, 200, { ...json, 'cache-control': 'public, no-transform' })).toBe(false);
    expect(shouldCompress(get, 200, { ...json, 'Cache-Control': 'No-Transform' })).toBe(false);
    expect(shouldCompress({ ...get, headers: { ...get.headers, 'cache-control': 'no-transform' } }, 200, json)).toBe(false);
    expect(shouldCompress(get, 200, { ...json, 'cache-control': 'no-transformation-please' })).toBe(true);
  });

  it('skips bodies that are absent, partial or already encoded', () => {
    expect(shouldCompress({ ...get, method: 'HEAD' }, 200, json)).toBe(false);
    for (const status of [101, 204, 206, 304]) expect(shouldCompress(get, status, json), String(status)).toBe(false);
    expect(shouldCompress(get, 200, { ...json, 'content-encoding': 'gzip' })).toBe(false);
    expect(shouldCompress(get, 200, { ...json, 'content-encoding': 'identity' })).toBe(true);
    expect(shouldCompress(get, 200, { ...json, 'content-range': 'bytes 0-9/100' })).toBe(false);
  });

  it('honours minSize, enabled and the client', () => {
    expect(shouldCompress(get, 200, { ...json, 'content-length': '1023' })).toBe(false);
    expect(shouldCompress(get, 200, { ...json, 'content-length': 100 }, { minSize: 100 })).toBe(true);
    expect(shouldCompress(get, 200, { ...json, 'content-length': 99 }, { minSize: 100 })).toBe(false);
    expect(shouldCompress(get, 200, json, { enabled: false })).toBe(false);
    expect(shouldCompress({ method: 'GET', headers: {} }, 200, json)).toBe(false);
    expect(shouldCompress({ method: 'GET', headers: { 'accept-encoding': 'deflate' } }, 200, json)).toBe(false);
  });

  it('compresses multipart/mixed only when compressResponseMixedTypeContent is set, as SAP', () => {
    const batch = { 'content-type': 'multipart/mixed; boundary=batch_1' };
    expect(shouldCompress(get, 200, batch)).toBe(false);
    expect(shouldCompress(get, 200, batch, { compressResponseMixedTypeContent: true })).toBe(true);
  });
});

// ---- compressResponse against real HTTP servers ------------------------------------------------

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      const closed = new Promise((r) => s.close(r));
      s.closeAllConnections();
      return closed;
    }),
  );
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<number> {
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch(() => res.destroy());
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function fetchRaw(port: number, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const TEXT = Buffer.from('{"greeting":"hello"}\n'.repeat(2000));

/** A server answering `body` through compressResponse with the given head, in several chunks. */
function bodyServer(headers: OutgoingHttpHeaders, options: CompressionOptions = {}, status = 200, body = TEXT) {
  return serve(async (req, res) => {
    const sink = compressResponse(req, res, status, headers, options);
    const parts = [body.subarray(0, 1000), body.subarray(1000, 20000), body.subarray(20000)];
    await pipeline(Readable.from(req.method === 'HEAD' || status === 204 ? [] : parts), sink);
  });
}

describe('compressResponse', () => {
  it('gzip round trip of a streamed (unknown length) body', async () => {
    const port = await bodyServer({ 'content-type': 'application/json' });
    const reply = await fetchRaw(port, { 'accept-encoding': 'gzip' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(reply.headers['vary']).toBe('Accept-Encoding');
    expect(reply.headers['content-length']).toBeUndefined();
    expect(reply.body.length).toBeLessThan(TEXT.length / 10);
    expect(gunzipSync(reply.body).equals(TEXT)).toBe(true);
  });

  it('brotli round trip of a body of known length; length removed, strong ETag weakened', async () => {
    const port = await bodyServer({
      'Content-Type': 'text/plain',
      'Content-Length': String(TEXT.length),
      ETag: '"v1"',
      'Accept-Ranges': 'bytes',
    });
    const reply = await fetchRaw(port, { 'accept-encoding': 'gzip, deflate, br' });
    expect(reply.headers['content-encoding']).toBe('br');
    expect(reply.headers['content-length']).toBeUndefined();
    expect(reply.headers['etag']).toBe('W/"v1"');
    expect(reply.headers['accept-ranges']).toBeUndefined();
    expect(brotliDecompressSync(reply.body).equals(TEXT)).toBe(true);
  });

  it('keeps a weak ETag as it is', async () => {
    const port = await bodyServer({ 'content-type': 'text/plain', etag: 'W/"v2"' });
    const reply = await fetchRaw(port, { 'accept-encoding': 'gzip' });
    expect(reply.headers['etag']).toBe('W/"v2"');
  });

  it('sends identity, with Vary, when the client accepts no coding we make', async () => {
    const port = await bodyServer({ 'content-type': 'application/json', 'content-length': String(TEXT.length), etag: '"v1"' });
    for (const accept of [undefined, 'deflate', 'identity', 'gzip;q=0, br;q=0']) {
      const reply = await fetchRaw(port, accept === undefined ? {} : { 'accept-encoding': accept });
      expect(reply.headers['content-encoding'], accept).toBeUndefined();
      expect(reply.headers['vary'], accept).toBe('Accept-Encoding');
      expect(reply.headers['etag']).toBe('"v1"');
      expect(Number(reply.headers['content-length'])).toBe(TEXT.length);
      expect(reply.body.equals(TEXT)).toBe(true);
    }
  });

  it('merges Vary with values from the headers and from res.setHeader', async () => {
    const port = await serve(async (req, res) => {
      res.setHeader('Vary', 'Origin');
      await pipeline(Readable.from([TEXT]), compressResponse(req, res, 200, { 'content-type': 'text/css' }));
    });
    const reply = await fetchRaw(port, { 'accept-encoding': 'gzip' });
    expect(reply.headers['vary']).toBe('Origin, Accept-Encoding');
    expect(gunzipSync(reply.body).equals(TEXT)).toBe(true);

    const port2 = await bodyServer({ 'content-type': 'text/css', vary: 'accept-encoding, Cookie' });
    expect((await fetchRaw(port2, { 'accept-encoding': 'gzip' })).headers['vary']).toBe('accept-encoding, Cookie');
    const port3 = await bodyServer({ 'content-type': 'text/css', vary: '*' });
    expect((await fetchRaw(port3, { 'accept-encoding': 'gzip' })).headers['vary']).toBe('*');
  });

  it('a content-length set earlier with res.setHeader does not survive compression', async () => {
    const port = await serve(async (req, res) => {
      res.setHeader('Content-Length', TEXT.length);
      await pipeline(Readable.from([TEXT]), compressResponse(req, res, 200, { 'content-type': 'text/plain' }));
    });
    const reply = await fetchRaw(port, { 'accept-encoding': 'gzip' });
    expect(reply.headers['content-length']).toBeUndefined();
    expect(gunzipSync(reply.body).equals(TEXT)).toBe(true);
  });

  it('leaves images, SSE, no-transform, small and already encoded bodies untouched', async () => {
    const cases: OutgoingHttpHeaders[] = [
      { 'content-type': 'image/png' },
      { 'content-type': 'text/event-stream' },
      { 'content-type': 'text/html', 'cache-control': 'no-transform' },
      { 'content-type': 'text/html', 'content-length': '500' },
    ];
    for (const headers of cases) {
      const body = headers['content-length'] ? TEXT.subarray(0, 500) : TEXT;
      const port = await bodyServer(headers, {}, 200, body);
      const reply = await fetchRaw(port, { 'accept-encoding': 'gzip, br' });
      expect(reply.headers['content-encoding'], JSON.stringify(headers)).toBeUndefined();
      expect(reply.body.equals(body)).toBe(true);
    }
    const gz = gzipSync(TEXT);
    const port = await bodyServer({ 'content-type': 'application/json', 'content-encoding': 'gzip' }, {}, 200, gz);
    const reply = await fetchRaw(port, { 'accept-encoding': 'br' });
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(reply.body.equals(gz)).toBe(true);
  });

  it('honours enabled:false and a custom minSize', async () => {
    const off = await bodyServer({ 'content-type': 'text/plain' }, { enabled: false });
    const offReply = await fetchRaw(off, { 'accept-encoding': 'gzip' });
    expect(offReply.headers['content-encoding']).toBeUndefined();
    expect(offReply.headers['vary']).toBeUndefined();

    const body = TEXT.subarray(0, 200);
    const small = await bodyServer({ 'content-type': 'text/plain', 'content-length': '200' }, { minSize: 100 }, 200, body);
    const smallReply = await fetchRaw(small, { 'accept-encoding': 'gzip' });
    expect(smallReply.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(smallReply.body).equals(body)).toBe(true);
  });

  it('HEAD and 204 are never encoded', async () => {
    const port = await bodyServer({ 'content-type': 'text/plain', 'content-length': String(TEXT.length) });
    const head = await fetchRaw(port, { 'accept-encoding': 'gzip' }, 'HEAD');
    expect(head.headers['content-encoding']).toBeUndefined();
    expect(Number(head.headers['content-length'])).toBe(TEXT.length);
    expect(head.body.length).toBe(0);

    const empty = await bodyServer({ 'content-type': 'text/plain' }, {}, 204);
    const reply = await fetchRaw(empty, { 'accept-encoding': 'gzip' });
    expect(reply.status).toBe(204);
    expect(reply.headers['content-encoding']).toBeUndefined();
  });

  it.each(['gzip', 'br'])('%s: a streamed body reaches the client chunk by chunk, not when the compressor fills', async (coding) => {
    // The server writes the second chunk only after the client has decoded the first: without a
    // flush per chunk the first would sit in the compressor and this test would time out.
    let clientGotFirst!: () => void;
    const firstSeen = new Promise<void>((r) => (clientGotFirst = r));
    const port = await serve(async (req, res) => {
      const sink = compressResponse(req, res, 200, { 'content-type': 'application/x-ndjson' });
      sink.write('{"event":1}\n');
      await firstSeen;
      sink.end('{"event":2}\n');
    });
    const decoded = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers: { 'accept-encoding': coding } }, (res) => {
        expect(res.headers['content-encoding']).toBe(coding);
        const decoder = coding === 'br' ? createBrotliDecompress() : createGunzip();
        let text = '';
        decoder.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('"event":1')) clientGotFirst();
        });
        decoder.on('end', () => resolve(text));
        decoder.on('error', reject);
        res.pipe(decoder);
      });
      req.on('error', reject);
      req.end();
    });
    expect(decoded).toBe('{"event":1}\n{"event":2}\n');
  }, 5_000);

  it('a client that goes away stops the source (no endless compression into a dead socket)', async () => {
    let sourceClosed!: () => void;
    const closed = new Promise<void>((r) => (sourceClosed = r));
    const port = await serve(async (req, res) => {
      const endless = new Readable({
        read() {
          this.push(TEXT);
        },
      });
      endless.on('close', () => sourceClosed());
      await pipeline(endless, compressResponse(req, res, 200, { 'content-type': 'text/plain' })).catch(() => {});
    });
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers: { 'accept-encoding': 'gzip' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      req.on('close', () => resolve());
      req.end();
      setTimeout(() => reject(new Error('no data')), 5_000);
    });
    await closed;
  });
});
