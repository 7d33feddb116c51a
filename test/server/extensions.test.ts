/**
 * Issue 17, Operate: the library's `start` (src/index.ts) in this process, with extension middleware
 * at SAP's extension points, in front of a real echo backend. The packed package's own import is
 * tested in test/deploy/packed-package.test.ts; here, what the points do when a handler answers,
 * passes an error on, throws or rejects, and `reload()`.
 */
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoBackend, listenEcho } from '../../src/demo/echo-backend.js';
import { requestContext, start, type Gateway } from '../../src/index.js';
import { request } from '../support/http.js';

let echo: http.Server;
let echoUrl: string;
let dir: string;
let gateway: Gateway;
const errorsSeen: string[] = [];
const silent = { write: () => true };

beforeAll(async () => {
  echo = createEchoBackend();
  echoUrl = await listenEcho(echo);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-extensions-'));
  fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify({ routes: [{ source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] }));
  gateway = await start({
    cwd: dir,
    env: {},
    port: 0,
    destinations: [{ name: 'echo', url: echoUrl }],
    log: { sink: silent },
    extensions: [
      {
        insertMiddleware: {
          first: [{ path: '/early', handler: (_req, res) => res.end('answered first') }],
          beforeRequestHandler: [
            { path: '/echo/fail', handler: (_req, _res, next) => next(new Error('the extension failed')) },
            { path: '/echo/throw', handler: () => { throw new Error('thrown'); } },
            { path: '/echo/reject', handler: async () => { throw new Error('rejected'); } },
          ],
        },
      },
      {
        insertMiddleware: {
          beforeRequestHandler: [
            (req, res, next) => {
              res.setHeader('x-tenant', String(requestContext(req)?.tenant));
              next();
            },
          ],
          beforeErrorHandler: [
            (err, req, res, next) => {
              errorsSeen.push(err.code);
              if (req.url === '/custom-error') return void res.writeHead(418).end('my own error page');
              next();
            },
          ],
        },
      },
    ],
  });
});

afterAll(async () => {
  await gateway?.close();
  echo.closeAllConnections();
  await new Promise((r) => echo.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('extension points', () => {
  it('first answers before any route is looked up; other requests go on', async () => {
    const early = await request(gateway.port, { path: '/early/x' });
    expect(early.status).toBe(200);
    expect(early.text).toBe('answered first');
    const routed = await request(gateway.port, { path: '/echo/hi' });
    expect(routed.status).toBe(200);
    expect(routed.headers['x-tenant']).toBe('undefined');
  });

  it("a handler's next(err), throw or rejection is rendered by the gateway as its own 500, after beforeErrorHandler saw it", async () => {
    for (const p of ['/echo/fail', '/echo/throw', '/echo/reject']) {
      errorsSeen.length = 0;
      const res = await request(gateway.port, { path: p, headers: { accept: 'application/json' } });
      expect(res.status, p).toBe(500);
      expect(res.headers['x-zonegate-error'], p).toBe('ZG_ERR_INTERNAL');
      // What the handler said stays in the log: a 500 exposes nothing.
      expect(res.text, p).not.toMatch(/failed|thrown|rejected/);
      expect(errorsSeen, p).toEqual(['ZG_ERR_INTERNAL']);
    }
  });

  it('beforeErrorHandler may answer an error itself', async () => {
    const res = await request(gateway.port, { path: '/custom-error' });
    expect(res.status).toBe(418);
    expect(res.text).toBe('my own error page');
  });

  it('reload() reads routes.json again', async () => {
    fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify({ routes: [{ source: '^/api/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] }));
    const outcome = await gateway.reload();
    expect(outcome).toMatchObject({ applied: true, routes: 1, needsRestart: [] });
    expect((await request(gateway.port, { path: '/api/x' })).status).toBe(200);
    expect((await request(gateway.port, { path: '/echo/x' })).status).toBe(404);
    fs.writeFileSync(path.join(dir, 'routes.json'), '[]');
    expect(await gateway.reload()).toMatchObject({ applied: false, problems: [expect.stringContaining(path.join(dir, 'routes.json'))] });
    expect((await request(gateway.port, { path: '/api/x' })).status).toBe(200);
  });
});
