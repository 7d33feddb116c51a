import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLimitedBody } from '../../src/http/read-body.js';

describe('readLimitedBody', () => {
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    server = http.createServer(async (req, res) => {
      const body = await readLimitedBody(req, 16);
      // The socket must still carry the answer after a refusal.
      if (body === 'too-large') res.writeHead(413, { connection: 'close' }).end('too large');
      else res.writeHead(200).end(`got ${body.length}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  const send = (body: string, headers: Record<string, string> = {}, chunked = false) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', headers }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      if (chunked) {
        for (const c of body.match(/.{1,4}/g) ?? []) req.write(c);
        req.end();
      } else req.end(body);
    });

  it('reads a body within the limit', async () => {
    expect(await send('0123456789abcdef')).toEqual({ status: 200, text: 'got 16' });
  });

  it('refuses a declared length over the limit before reading, and a streamed one as it arrives', async () => {
    expect((await send('x'.repeat(17))).status).toBe(413);
    expect((await send('y'.repeat(100), {}, true)).status).toBe(413);
  });
});
