import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGatewayError } from '../../src/errors.js';
import { sendError } from '../../src/http/render-error.js';
import type { ServeStaticOptions } from '../../src/static/serve.js';
import { serveStatic } from '../../src/static/serve.js';

let base: string;
let root: string;
const servers: Server[] = [];

const APP_JS = Buffer.from('sap.ui.define([], function () { "use strict"; return { hello: "world" }; });\n'.repeat(100));
const RANGE = Buffer.from('0123456789abcdefghij');
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(4000)]);
const OLD = new Date('2024-01-02T03:04:05Z');

function write(rel: string, content: string | Buffer): void {
  writeFileSync(join(root, rel), content);
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'zg-static-'));
  root = join(base, 'root');
  mkdirSync(root);
  writeFileSync(join(base, 'secret.txt'), 'TOP SECRET outside the root');
  mkdirSync(join(base, 'outside'));
  writeFileSync(join(base, 'outside', 'index.html'), 'TOP SECRET directory');
  // A sibling whose name starts with the root's: a naive prefix check would let it through.
  mkdirSync(join(base, 'root-evil'));
  writeFileSync(join(base, 'root-evil', 'x.txt'), 'TOP SECRET sibling');

  write('index.html', '<!doctype html><title>home</title>');
  write('app.js', APP_JS);
  write('small.css', 'body{margin:0}');
  write('logo.png', PNG);
  write('data.json', '{"a":1}');
  write('i18n.properties', 'title=Grüße');
  write('font.woff2', randomBytes(100));
  write('module.mjs', 'export {}');
  write('app.js.map', '{}');
  write('icon.svg', '<svg/>');
  write('doc.pdf', '%PDF-1.4');
  write('bin.wasm', Buffer.from([0, 0x61, 0x73, 0x6d]));
  write('UPPER.HTML', '<p>upper</p>');
  write('file.unknownext', 'x');
  write('noext', 'x');
  write('file.constructor', 'x');
  write('hello world.txt', 'spaced');
  write('range.txt', RANGE);
  write('empty.txt', '');
  mkdirSync(join(root, 'sub'));
  write('sub/index.html', '<p>sub</p>');
  mkdirSync(join(root, 'empty-dir'));
  mkdirSync(join(root, 'evil.com'));
  write('evil.com/index.html', '<p>evil.com dir</p>');
  write('.env', 'SECRET=1');
  mkdirSync(join(root, '.git'));
  write('.git/config', '[core]');
  mkdirSync(join(root, '.well-known'));
  write('.well-known/security.txt', 'Contact: mailto:security@example.com');
  symlinkSync(join(base, 'secret.txt'), join(root, 'link-out.txt'));
  symlinkSync('../secret.txt', join(root, 'relative-link-out.txt'));
  symlinkSync(join(base, 'outside'), join(root, 'link-dir-out'));
  symlinkSync(join(base, 'root-evil', 'x.txt'), join(root, 'link-sibling.txt'));
  symlinkSync('app.js', join(root, 'link-in.js'));
  symlinkSync(join(root, 'sub'), join(root, 'link-sub'));
  symlinkSync('loop.txt', join(root, 'loop.txt'));
  // A FIFO opened for reading blocks until a writer appears; it must be refused, not hang the request.
  execFileSync('mkfifo', [join(root, 'pipe.txt')]);
  for (const name of ['index.html', 'app.js', 'range.txt', 'small.css', 'logo.png']) utimesSync(join(root, name), OLD, OLD);
});

afterAll(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      const closed = new Promise((r) => s.close(r));
      s.closeAllConnections();
      return closed;
    }),
  );
  rmSync(base, { recursive: true, force: true });
});

/**
 * A gateway-shaped server: route `^/(.*)$` -> localDir, the raw URL as the rewritten path, and the
 * gateway's renderer of errors.
 */
async function start(options: Partial<ServeStaticOptions> = {}): Promise<number> {
  const server = createServer((req, res) => {
    serveStatic(req, res, { root, path: req.url ?? '/', ...options }).catch((err: unknown) => sendError(req, res, toGatewayError(err), { requestId: 'test' }));
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Raw HTTP so the path reaches the server exactly as written (fetch would normalise `..`). */
function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

let port: number;
beforeAll(async () => {
  port = await start();
});

describe('path traversal and hidden files (attacks)', () => {
  it.each([
    '/../secret.txt',
    '/sub/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/.%2e/secret.txt',
    '/sub/%2e%2e/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/sub%2f..%2f..%2fsecret.txt',
    '/..%5csecret.txt',
    '/..\\secret.txt',
    '/%2e%2e%5csecret.txt',
    '/%252e%252e/secret.txt', // double encoding: decoded once it is a literal "%2e%2e" segment
    '/index.html%00.png',
    '/app.js%00',
    '/%00',
    '/%E0%A4%A', // malformed escape
    '/link-out.txt',
    '/relative-link-out.txt',
    '/link-dir-out/',
    '/link-dir-out/index.html',
    '/link-sibling.txt',
    '/../root-evil/x.txt',
    '/.env',
    '/.git/config',
    '/sub/.env',
    '/.%65nv',
    '/secret.txt',
    '//etc/passwd',
    '/loop.txt',
    '/pipe.txt',
    '/../../../../../../etc/passwd',
  ])('%s is a plain 404 that reveals nothing', async (path) => {
    const reply = await get(port, path);
    expect(reply.status).toBe(404);
    expect(JSON.parse(reply.body.toString())).toEqual({ error: { code: 'ZG_ERR_FILE_NOT_FOUND', status: 404, message: 'File not found', requestId: 'test' } });
    expect(reply.body.toString()).not.toContain('SECRET');
  });

  it('symlinks that stay inside the root are followed', async () => {
    const reply = await get(port, '/link-in.js');
    expect(reply.status).toBe(200);
    expect(reply.body.equals(APP_JS)).toBe(true);
    expect(reply.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await get(port, '/link-sub/')).body.toString()).toBe('<p>sub</p>');
  });

  it('.well-known is served (RFC 8615); encoded ordinary characters are decoded once', async () => {
    expect((await get(port, '/.well-known/security.txt')).status).toBe(200);
    expect((await get(port, '/hello%20world.txt')).body.toString()).toBe('spaced');
    expect((await get(port, '/%61pp.js')).body.equals(APP_JS)).toBe(true);
  });

  it('a query left by the target rewrite is not part of the file name', async () => {
    expect((await get(port, '/small.css?v=3')).body.toString()).toBe('body{margin:0}');
  });

  it('a directory redirect never becomes a protocol-relative (open) redirect', async () => {
    const reply = await get(port, '//evil.com');
    expect(reply.status).toBe(301);
    expect(reply.headers['location']).toBe('./evil.com/');
    expect(new URL(reply.headers['location'] ?? '', 'http://gw.example//evil.com').host).toBe('gw.example');
  });
});

describe('files, directories and methods', () => {
  it.each([
    ['/index.html', 'text/html; charset=utf-8'],
    ['/app.js', 'text/javascript; charset=utf-8'],
    ['/module.mjs', 'text/javascript; charset=utf-8'],
    ['/small.css', 'text/css; charset=utf-8'],
    ['/data.json', 'application/json; charset=utf-8'],
    ['/app.js.map', 'application/json; charset=utf-8'],
    ['/i18n.properties', 'text/plain; charset=utf-8'],
    ['/icon.svg', 'image/svg+xml'],
    ['/logo.png', 'image/png'],
    ['/font.woff2', 'font/woff2'],
    ['/doc.pdf', 'application/pdf'],
    ['/bin.wasm', 'application/wasm'],
    ['/UPPER.HTML', 'text/html; charset=utf-8'],
    ['/file.unknownext', 'application/octet-stream'],
    ['/noext', 'application/octet-stream'],
    ['/file.constructor', 'application/octet-stream'],
  ])('%s is %s', async (path, type) => {
    const reply = await get(port, path);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe(type);
  });

  it('serves bytes unchanged with length, validators and Accept-Ranges', async () => {
    const reply = await get(port, '/logo.png', { 'accept-encoding': 'gzip, br' });
    expect(reply.body.equals(PNG)).toBe(true);
    expect(Number(reply.headers['content-length'])).toBe(PNG.length);
    expect(reply.headers['etag']).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    expect(reply.headers['last-modified']).toBe(OLD.toUTCString());
    expect(reply.headers['accept-ranges']).toBe('bytes');
    expect(reply.headers['content-encoding']).toBeUndefined();
  });

  it('an empty file is a 200 with length 0', async () => {
    const reply = await get(port, '/empty.txt');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-length']).toBe('0');
    expect(reply.body.length).toBe(0);
  });

  it('a directory redirects to its slash form (keeping the query), then serves index.html', async () => {
    const redirect = await get(port, '/sub?x=1');
    expect(redirect.status).toBe(301);
    expect(redirect.headers['location']).toBe('./sub/?x=1');
    const index = await get(port, '/sub/');
    expect(index.status).toBe(200);
    expect(index.body.toString()).toBe('<p>sub</p>');
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect((await get(port, '/')).body.toString()).toContain('<title>home</title>');
  });

  it('a directory without index.html, and a file used as a directory, are 404', async () => {
    expect((await get(port, '/empty-dir/')).status).toBe(404);
    expect((await get(port, '/app.js/x')).status).toBe(404);
    expect((await get(port, '/missing.js')).status).toBe(404);
  });

  it('HEAD answers the headers of GET without a body', async () => {
    const reply = await get(port, '/app.js', { 'accept-encoding': 'gzip' }, 'HEAD');
    expect(reply.status).toBe(200);
    expect(Number(reply.headers['content-length'])).toBe(APP_JS.length);
    expect(reply.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(reply.body.length).toBe(0);
  });

  it('other methods are refused with 405 and Allow', async () => {
    const reply = await get(port, '/app.js', {}, 'POST');
    expect(reply.status).toBe(405);
    expect(reply.headers['allow']).toBe('GET, HEAD');
  });

  it('a localDir that does not exist is a 500 that does not say why', async () => {
    const broken = await start({ root: join(base, 'no-such-dir') });
    const reply = await get(broken, '/index.html');
    expect(reply.status).toBe(500);
    expect(reply.body.toString()).not.toContain('no-such-dir');
  });
});

describe('Cache-Control', () => {
  it('none by default (as SAP), except no-cache for HTML', async () => {
    expect((await get(port, '/app.js')).headers['cache-control']).toBeUndefined();
    expect((await get(port, '/index.html')).headers['cache-control']).toBe('no-cache');
  });

  it("the route's cacheControl applies to every file", async () => {
    const cached = await start({ cacheControl: 'public, max-age=31536000, immutable' });
    expect((await get(cached, '/app.js')).headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await get(cached, '/index.html')).headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });
});

describe('conditional requests', () => {
  it('If-None-Match with the ETag gives a bodiless 304 that keeps the validators and Vary', async () => {
    const first = await get(port, '/app.js');
    const etag = first.headers['etag'] ?? '';
    for (const value of [etag, `"other", ${etag}`, etag.replace(/^W\//, ''), '*']) {
      const reply = await get(port, '/app.js', { 'if-none-match': value });
      expect(reply.status, value).toBe(304);
      expect(reply.body.length).toBe(0);
      expect(reply.headers['etag']).toBe(etag);
      expect(reply.headers['vary']).toBe('Accept-Encoding');
    }
  });

  it('a different ETag gives 200, and then If-Modified-Since is ignored (RFC 9110 §13.1.3)', async () => {
    const reply = await get(port, '/app.js', { 'if-none-match': '"stale"', 'if-modified-since': new Date().toUTCString() });
    expect(reply.status).toBe(200);
    expect(reply.body.equals(APP_JS)).toBe(true);
  });

  it('If-Modified-Since: 304 when not newer, 200 when newer, ignored when invalid or in the future', async () => {
    expect((await get(port, '/app.js', { 'if-modified-since': OLD.toUTCString() })).status).toBe(304);
    expect((await get(port, '/app.js', { 'if-modified-since': new Date(OLD.getTime() - 1000).toUTCString() })).status).toBe(200);
    expect((await get(port, '/app.js', { 'if-modified-since': 'yesterday' })).status).toBe(200);
    expect((await get(port, '/app.js', { 'if-modified-since': new Date(Date.now() + 86_400_000).toUTCString() })).status).toBe(200);
  });

  it('changing the file changes the ETag', async () => {
    write('changing.txt', 'one');
    const before = (await get(port, '/changing.txt')).headers['etag'];
    write('changing.txt', 'three');
    const after = await get(port, '/changing.txt', { 'if-none-match': before ?? '' });
    expect(after.status).toBe(200);
    expect(after.body.toString()).toBe('three');
  });
});

describe('byte ranges', () => {
  it.each([
    ['bytes=0-4', '01234', 'bytes 0-4/20'],
    ['bytes=15-', 'fghij', 'bytes 15-19/20'],
    ['bytes=-3', 'hij', 'bytes 17-19/20'],
    ['bytes=18-100', 'ij', 'bytes 18-19/20'],
    ['bytes=-100', RANGE.toString(), 'bytes 0-19/20'],
  ])('%s -> 206 %s', async (range, body, contentRange) => {
    const reply = await get(port, '/range.txt', { range, 'accept-encoding': 'gzip' });
    expect(reply.status).toBe(206);
    expect(reply.body.toString()).toBe(body);
    expect(reply.headers['content-range']).toBe(contentRange);
    expect(Number(reply.headers['content-length'])).toBe(body.length);
    expect(reply.headers['content-encoding']).toBeUndefined();
  });

  it.each(['bytes=20-', 'bytes=100-200', 'bytes=-0'])('%s -> 416 with the size', async (range) => {
    const reply = await get(port, '/range.txt', { range });
    expect(reply.status).toBe(416);
    expect(reply.headers['content-range']).toBe('bytes */20');
    expect(reply.headers['x-zonegate-error']).toBe('ZG_ERR_RANGE_NOT_SATISFIABLE');
  });

  it.each(['bytes=0-1,5-6', 'items=0-4', 'bytes=5-2', 'bytes=x-y', 'bytes=-'])('%s is ignored: 200 with the whole file', async (range) => {
    const reply = await get(port, '/range.txt', { range });
    expect(reply.status).toBe(200);
    expect(reply.body.equals(RANGE)).toBe(true);
  });

  it('If-Range: a weak ETag never matches (RFC 9110 §13.1.5); the Last-Modified date does', async () => {
    const etag = (await get(port, '/range.txt')).headers['etag'] ?? '';
    expect((await get(port, '/range.txt', { range: 'bytes=0-4', 'if-range': etag })).status).toBe(200);
    const byDate = await get(port, '/range.txt', { range: 'bytes=0-4', 'if-range': OLD.toUTCString() });
    expect(byDate.status).toBe(206);
    expect(byDate.body.toString()).toBe('01234');
    expect((await get(port, '/range.txt', { range: 'bytes=0-4', 'if-range': new Date().toUTCString() })).status).toBe(200);
  });

  it('HEAD with a range gives the partial headers only', async () => {
    const reply = await get(port, '/range.txt', { range: 'bytes=0-4' }, 'HEAD');
    expect(reply.status).toBe(206);
    expect(reply.headers['content-length']).toBe('5');
    expect(reply.body.length).toBe(0);
  });
});

describe('compression of static files', () => {
  it('gzip round trip: compressed, Vary, no length, no Accept-Ranges', async () => {
    const reply = await get(port, '/app.js', { 'accept-encoding': 'gzip' });
    expect(reply.headers['content-encoding']).toBe('gzip');
    expect(reply.headers['vary']).toBe('Accept-Encoding');
    expect(reply.headers['content-length']).toBeUndefined();
    expect(reply.headers['accept-ranges']).toBeUndefined();
    expect(reply.headers['etag']).toMatch(/^W\//);
    expect(reply.body.length).toBeLessThan(APP_JS.length / 5);
    expect(gunzipSync(reply.body).equals(APP_JS)).toBe(true);
  });

  it('br round trip, preferred by browsers', async () => {
    const reply = await get(port, '/app.js', { 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(reply.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(reply.body).equals(APP_JS)).toBe(true);
  });

  it('not below minSize, not for images, not when not accepted, not when disabled', async () => {
    const small = await get(port, '/small.css', { 'accept-encoding': 'gzip, br' });
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(small.body.toString()).toBe('body{margin:0}');
    const png = await get(port, '/logo.png', { 'accept-encoding': 'gzip, br' });
    expect(png.headers['content-encoding']).toBeUndefined();
    expect(png.headers['vary']).toBeUndefined();
    const plain = await get(port, '/app.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['vary']).toBe('Accept-Encoding');
    expect(plain.body.equals(APP_JS)).toBe(true);

    const off = await start({ compression: { enabled: false } });
    expect((await get(off, '/app.js', { 'accept-encoding': 'gzip' })).headers['content-encoding']).toBeUndefined();
    const tiny = await start({ compression: { minSize: 10 } });
    const css = await get(tiny, '/small.css', { 'accept-encoding': 'gzip' });
    expect(css.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(css.body).toString()).toBe('body{margin:0}');
  });
});

describe('large files', () => {
  const SIZE = 50 * 1024 * 1024;

  it('streams 50 MB to a slow client without memory growing with the file', async () => {
    const hash = createHash('sha256');
    const file = await open(join(root, 'big.bin'), 'w');
    const block = randomBytes(1024 * 1024);
    for (let i = 0; i < SIZE / block.length; i++) {
      block[0] = i; // every MiB differs, so a mix-up of blocks would change the hash
      hash.update(block);
      await file.write(block);
    }
    await file.close();
    const expected = hash.digest('hex');

    // Collect garbage before each sample, so the figure is what is live, not what GC has yet to free.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    let peak = process.memoryUsage().rss;
    const baseline = peak;
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      const { received, digest, headers } = await new Promise<{ received: number; digest: string; headers: IncomingHttpHeaders }>(
        (resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/big.bin' }, (res) => {
            const h = createHash('sha256');
            let received = 0;
            let nextPause = 5 * 1024 * 1024;
            res.on('data', (c: Buffer) => {
              h.update(c);
              received += c.length;
              // Pause now and then: a server that ignored backpressure would pile the file up in memory.
              if (received >= nextPause) {
                nextPause += 5 * 1024 * 1024;
                res.pause();
                setTimeout(() => res.resume(), 30);
              }
            });
            res.on('end', () => resolve({ received, digest: h.digest('hex'), headers: res.headers }));
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end();
        },
      );
      expect(headers['content-type']).toBe('application/octet-stream');
      expect(Number(headers['content-length'])).toBe(SIZE);
      expect(received).toBe(SIZE);
      expect(digest).toBe(expected);
    } finally {
      clearInterval(sampler);
    }
    // Buffering the file whole would add at least its 50 MB; streaming stays within a few chunks.
    expect(peak - baseline).toBeLessThan(20 * 1024 * 1024);
  }, 60_000);
});
