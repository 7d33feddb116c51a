import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { bindServer } from '../../src/server/bind.js';

/** Sends a raw request and resolves with everything answered until the server closes the connection. */
function rawRequest(port: number, path: string): { answer: Promise<string>; answered: () => boolean } {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  let text = '';
  let any = false;
  socket.on('data', (d: Buffer) => {
    any = true;
    text += d.toString();
  });
  const answer = new Promise<string>((resolve) => socket.on('close', () => resolve(text)));
  socket.on('error', () => undefined);
  return { answer, answered: () => any };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 150));

// Issue 11, item 3: the start binds first (the zones' URLs need the port), but answers nothing
// before the gateway is assembled.
describe('bindServer', () => {
  it('knows the port at once; a request sent before serve() waits, unanswered, and is answered after', async () => {
    const bound = await bindServer({}, 0, '127.0.0.1');
    expect(bound.port).toBeGreaterThan(0);
    const early = rawRequest(bound.port, '/early');
    await settle();
    expect(early.answered()).toBe(false);

    bound.server.on('request', (req, res) => res.end(`served ${req.url}`));
    bound.serve();
    expect(await early.answer).toMatch(/^HTTP\/1\.1 200[\s\S]*served \/early$/);
    expect(await rawRequest(bound.port, '/late').answer).toMatch(/served \/late$/);
    await new Promise((resolve) => bound.server.close(resolve));
  });

  it('close() after a failed start-up frees the port and ends the waiting connections unanswered', async () => {
    const bound = await bindServer({}, 0, '127.0.0.1');
    const early = rawRequest(bound.port, '/early');
    await settle();
    await bound.close();
    expect(await early.answer).toBe('');
    const refused = await new Promise<string>((resolve) => net.connect(bound.port, '127.0.0.1').on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')).on('connect', () => resolve('connected')));
    expect(refused).toBe('ECONNREFUSED');
  });
});
