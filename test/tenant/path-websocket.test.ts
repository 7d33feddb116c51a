/** WebSocket upgrades of path tenants (TENANT_PATH_PATTERN): the prefix is the tenant's for upgrades too. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';
import { PASSWORD } from '../zones/oauth/harness.js';

function connect(port: number, host: string, path: string, headers: Record<string, string>): Promise<{ ws?: WebSocket; status?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { host, ...headers } });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    ws.once('error', () => resolve({}));
  });
}

describe('WebSockets under a tenant prefix', () => {
  let backend: http.Server;
  let stack: LoginStack;
  let seenUrl: string | undefined;

  beforeAll(async () => {
    backend = http.createServer();
    new WebSocketServer({ server: backend }).on('connection', (socket, req) => {
      seenUrl = req.url;
      socket.on('message', (d) => socket.send(`echo:${d.toString()}`));
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    stack = await startLoginStack({
      env: { TENANT_HOST_PATTERN: '', TENANT_PATH_PATTERN: '^/t/([^/]+)/' },
      redirectUris: ['http://gw.localhost:*/t/*/login/callback'],
      destinations: [{ name: 'live', url: `http://127.0.0.1:${(backend.address() as AddressInfo).port}` }],
      routes: {
        websockets: { enabled: true },
        routes: [
          { source: '^/live/(.*)$', target: '/$1', destination: 'live', scope: '$XSAPPNAME.Viewer' },
          { source: '^/api/(.*)$', target: '/$1', destination: 'echo' },
        ],
      },
    });
  });
  afterAll(async () => {
    await stack.close();
    backend.closeAllConnections();
    await new Promise((r) => backend.close(r));
  });

  it("opens with the prefix's session, to the path without the prefix; the same session under another prefix is refused", async () => {
    const port = stack.gateways[0]!.port;
    const host = `gw.localhost:${port}`;
    const origin = `http://${host}`;
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${origin}/t/acme/api/x`);
    const page = await browser.get(String(start.headers.location));
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'alice', password: PASSWORD });
    expect((await browser.get(String(form.headers.location))).status).toBe(302);
    const cookie = `zonegate.sid=${browser.cookies(host).get('zonegate.sid')}`;

    const ok = await connect(port, host, '/t/acme/live/feed', { cookie, origin });
    expect(ok.ws).toBeDefined();
    const reply = new Promise<string>((r) => ok.ws!.once('message', (d) => r(d.toString())));
    ok.ws!.send('ping');
    expect(await reply).toBe('echo:ping');
    ok.ws!.close();
    expect(seenUrl).toBe('/feed');

    expect((await connect(port, host, '/t/globex/live/feed', { cookie, origin })).status).toBe(401);
    expect((await connect(port, host, '/t/%61cme/live/feed', { cookie, origin })).status).toBe(404);
    expect((await connect(port, host, '/live/feed', { cookie, origin })).status).toBe(404);
  });
});
