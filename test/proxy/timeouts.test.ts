import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

/**
 * A destination's `timeout` is the time the gateway waits for its backend, on every request: also
 * on a reused keep-alive socket, where Node's agent would otherwise keep the idle timeout it derived
 * from the backend's `Keep-Alive: timeout=N` hint (N - 1 s).
 */

/** A backend that announces `Keep-Alive: timeout=2` (Node derives the header from keepAliveTimeout). */
const backend = http.createServer((req, res) => {
  const path = req.url ?? '';
  if (path === '/late') {
    // Answers after 3 s: later than the 1 s the agent's keep-alive hint allows, well within 10 s.
    const timer = setTimeout(() => res.end('late'), 3000);
    res.on('close', () => clearTimeout(timer));
    return;
  }
  if (path === '/pause') {
    // A download that stops for 2.5 s halfway.
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 10 });
    res.write('first');
    const timer = setTimeout(() => res.end('-last'), 2500);
    res.on('close', () => clearTimeout(timer));
    return;
  }
  if (path === '/never') return;
  res.end('ok');
});
backend.keepAliveTimeout = 2000;

let gw: TestGateway;

beforeAll(async () => {
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  gw = await startTestGateway({
    routes: {
      routes: [
        { source: '^/patient/(.*)$', target: '/$1', destination: 'patient', authenticationType: 'none' },
        { source: '^/strict/(.*)$', target: '/$1', destination: 'strict', authenticationType: 'none' },
      ],
    },
    destinations: [
      { name: 'patient', url, timeout: 10_000 },
      { name: 'strict', url, timeout: 1000 },
    ],
  });
});
afterAll(async () => {
  await gw.stop();
  backend.closeAllConnections();
  await new Promise((r) => backend.close(r));
});

/** Resolves with the status and body, or "aborted" when the response was cut. */
function outcome(path: string): Promise<string> {
  return request(gw.port, { path }).then((r) => `${r.status} ${r.text}`, (e: Error) => e.message);
}

describe('destination timeout on reused keep-alive sockets', () => {
  it('a 10 s destination answering after 3 s on a reused socket is a 200, not a 504 after the 1 s keep-alive hint', async () => {
    // The first request leaves a keep-alive socket (hint timeout=2) in the destination's pool.
    expect(await outcome('/patient/prime')).toBe('200 ok');
    expect(await outcome('/patient/late')).toBe('200 late');
  });

  it('a download paused for 2.5 s on a reused socket of a 10 s destination completes', async () => {
    expect(await outcome('/patient/prime')).toBe('200 ok');
    expect(await outcome('/patient/pause')).toBe('200 first-last');
  });

  it('a 1 s destination cuts a download paused for 2.5 s (headers were sent: the client sees the cut)', async () => {
    expect(await outcome('/strict/prime')).toBe('200 ok');
    expect(await outcome('/strict/pause')).toBe('aborted');
  });

  it('a 1 s destination that never answers is a 504 naming its real timeout', async () => {
    expect(await outcome('/strict/prime')).toBe('200 ok');
    const res = await request(gw.port, { path: '/strict/never' });
    expect(res.status).toBe(504);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_BACKEND_TIMEOUT');
    expect(res.json().error.message).toBe('The destination "strict" did not answer within 1000 ms');
  });
});
