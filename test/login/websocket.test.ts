import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { ScriptedBrowser } from '../support/browser.js';
import { startLoginStack, type LoginStack } from '../support/login-stack.js';

function connect(url: string, headers: Record<string, string>): Promise<{ ws?: WebSocket; status?: number }> {
  const target = new URL(url);
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${target.port}${target.pathname}`, { headers: { host: target.host, ...headers } });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    ws.once('error', () => resolve({}));
  });
}

describe('WebSockets on authenticated routes', () => {
  let backend: http.Server;
  let stack: LoginStack;
  let seen: http.IncomingHttpHeaders | undefined;

  beforeAll(async () => {
    backend = http.createServer();
    new WebSocketServer({ server: backend }).on('connection', (socket, req) => {
      seen = req.headers;
      socket.on('message', (d) => socket.send(`echo:${d.toString()}`));
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    stack = await startLoginStack({
      destinations: [{ name: 'live', url }],
      routes: {
        websockets: { enabled: true },
        routes: [
          { source: '^/live/(.*)$', target: '/$1', destination: 'live', scope: '$XSAPPNAME.Viewer' },
          { source: '^/admin-live/(.*)$', target: '/$1', destination: 'live', scope: '$XSAPPNAME.Admin' },
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

  it('needs a valid session and this application as Origin; forwards the token, never the session cookie', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice', '/api/x');
    const host = new URL(stack.base('acme')).host;
    const cookie = `zonegate.sid=${browser.cookies(host).get('zonegate.sid')}`;

    const ok = await connect(`${stack.base('acme')}/live/feed`, { cookie, origin: stack.base('acme') });
    expect(ok.ws).toBeDefined();
    const reply = new Promise<string>((r) => ok.ws!.once('message', (d) => r(d.toString())));
    ok.ws!.send('ping');
    expect(await reply).toBe('echo:ping');
    ok.ws!.close();
    expect(seen?.cookie).toBeUndefined();
    expect(String(seen?.authorization)).toMatch(/^Bearer ey/);

    // Cross-site WebSocket hijacking: another site's page riding the cookie.
    expect((await connect(`${stack.base('acme')}/live/feed`, { cookie, origin: 'https://evil.example' })).status).toBe(403);
    // No session at all.
    expect((await connect(`${stack.base('acme')}/live/feed`, { origin: stack.base('acme') })).status).toBe(401);
    // The session on another tenant's host.
    expect((await connect(`${stack.base('globex')}/live/feed`, { cookie, origin: stack.base('globex') })).status).toBe(401);
  });

  it("strips the client's x-csrf-token, authorization and method overrides from upgrades, as from plain requests", async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'alice', '/api/x');
    const host = new URL(stack.base('acme')).host;
    const csrf = String((await browser.get(`${stack.base('acme')}/api/x`, { 'x-csrf-token': 'fetch', accept: 'application/json' })).headers['x-csrf-token']);
    expect(csrf).toMatch(/^[\w-]{20,}$/);
    const ok = await connect(`${stack.base('acme')}/live/feed`, {
      cookie: `zonegate.sid=${browser.cookies(host).get('zonegate.sid')}`,
      origin: stack.base('acme'),
      'x-csrf-token': csrf,
      authorization: 'Basic Y2xpZW50OnNlY3JldA==',
      'x-http-method-override': 'DELETE',
      'x-http-method': 'DELETE',
      'x-method-override': 'DELETE',
    });
    expect(ok.ws).toBeDefined();
    ok.ws!.close();
    expect(seen?.['x-csrf-token']).toBeUndefined();
    expect(seen?.['x-http-method-override']).toBeUndefined();
    expect(seen?.['x-http-method']).toBeUndefined();
    expect(seen?.['x-method-override']).toBeUndefined();
    // The gateway's token, not one the client sent.
    expect(String(seen?.authorization)).toMatch(/^Bearer ey/);
  });

  it('enforces the route scope on upgrades (SAP does not)', async () => {
    const browser = new ScriptedBrowser();
    await stack.login(browser, 'acme', 'bob', '/api/x');
    const cookie = `zonegate.sid=${browser.cookies(new URL(stack.base('acme')).host).get('zonegate.sid')}`;
    expect((await connect(`${stack.base('acme')}/admin-live/feed`, { cookie, origin: stack.base('acme') })).status).toBe(403);
    const ok = await connect(`${stack.base('acme')}/live/feed`, { cookie, origin: stack.base('acme') });
    expect(ok.ws).toBeDefined();
    ok.ws!.close();
  });
});
