import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isLocalhostName, localhostAwareFetch, lookupLocalhost } from '../../../src/net/localhost.js';

const lookup = (name: string, options: object) =>
  new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) =>
    lookupLocalhost(name, options as never, (err, address, family) => resolve({ err, address, family })),
  );

describe('RFC 6761 localhost resolution', () => {
  it('answers loopback for localhost and any name under .localhost', async () => {
    expect(await lookup('acme.localhost', {})).toMatchObject({ err: null, address: '127.0.0.1', family: 4 });
    expect(await lookup('a.b.LOCALHOST.', {})).toMatchObject({ address: '127.0.0.1' });
    expect(await lookup('acme.localhost', { all: true })).toMatchObject({ address: [{ address: '127.0.0.1', family: 4 }] });
  });

  it('defers every other name to the system resolver', async () => {
    expect(isLocalhostName('localhost.evil.example')).toBe(false);
    expect(isLocalhostName('evillocalhost')).toBe(false);
    const res = await lookup('localhost.evil.example', {});
    expect(res.err?.code).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });

  it('lets fetch reach a server by a *.localhost name', async () => {
    const server = http.createServer((req, res) => res.end(req.headers.host));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const res = await localhostAwareFetch(`http://tenant-1.localhost:${port}/`);
      expect(await res.text()).toBe(`tenant-1.localhost:${port}`);
    } finally {
      server.close();
    }
  });
});
