import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, GatewayError, toGatewayError, type ZonegateError } from '../src/errors.js';
import { ERROR_HEADER, sendError, sendRawError, type ErrorRenderOptions } from '../src/http/render-error.js';
import * as oauth from '../src/zones/oauth/errors.js';
import { startDemoGateway, type TestGateway } from './support/gateway.js';
import { request } from './support/http.js';
import { raw } from './support/raw.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REGISTRY_FILE = path.join(ROOT, 'src', 'errors.ts');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The source outside the registry itself: where codes are thrown or mapped to. */
const source = sourceFiles(path.join(ROOT, 'src'))
  .filter((f) => f !== REGISTRY_FILE)
  .map((f) => fs.readFileSync(f, 'utf8'))
  .join('\n');
/** Codes the source uses, as quoted literals (prose in comments does not count). */
const usedCodes = new Set([...source.matchAll(/['"`](ZG_ERR_[A-Z0-9_]+)['"`]/g)].map((m) => m[1]!));
const documented = new Map(
  [...fs.readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8').matchAll(/^\| `(ZG_ERR_\w+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]),
);

describe('error registry', () => {
  it('is documented code for code, with the same statuses (docs/errors.md)', () => {
    const registered = new Map(Object.entries(ERRORS).map(([code, e]) => [code, e.status]));
    expect(documented).toEqual(registered);
  });

  it('has no documented code that nothing throws (issue 11: ZG_ERR_SESSION_TENANT was one)', () => {
    const unused = [...documented.keys()].filter((code) => !usedCodes.has(code));
    expect(unused).toEqual([]);
  });

  it('documents and registers every code the source uses', () => {
    const unknown = [...usedCodes].filter((code) => !documented.has(code) || !(code in ERRORS));
    expect(usedCodes.size).toBeGreaterThan(20);
    expect(unknown).toEqual([]);
  });

  it("throws every zone OAuth error somewhere, so each ZG_ERR_OAUTH_ code is reachable, not only mapped", () => {
    const classes = (Object.entries(oauth) as [string, unknown][]).filter(
      (entry): entry is [string, new (d?: string) => oauth.OAuthError] => typeof entry[1] === 'function' && entry[1].prototype instanceof oauth.OAuthError,
    );
    expect(classes.map(([, C]) => new C('x').code).sort()).toEqual(Object.values(oauth.OAUTH_ERROR_CODES).sort());
    const neverThrown = classes.filter(([name]) => !source.includes(`new ${name}(`)).map(([name]) => name);
    expect(neverThrown).toEqual([]);
  });

  it('exposes 4xx messages and hides 5xx internals by default', () => {
    expect(new GatewayError('ZG_ERR_FORBIDDEN', 'no scope').expose).toBe(true);
    expect(new GatewayError('ZG_ERR_INTERNAL', 'stack trace').expose).toBe(false);
    const wrapped = toGatewayError(new Error('db password wrong'));
    expect(wrapped).toMatchObject({ code: 'ZG_ERR_INTERNAL', status: 500, expose: false });
  });

  it('gives the zones\' OAuth errors their code and the registry\'s status', () => {
    const err = new oauth.InvalidGrant('expired');
    expect(err).toMatchObject({ code: 'ZG_ERR_OAUTH_INVALID_GRANT', error: 'invalid_grant', status: 400, expose: true });
    expect(toGatewayError(err)).toBe(err);
    // Only server_error hides its description: "try again later" is said in words (RFC 6749 §5.2).
    expect(new oauth.TemporarilyUnavailable('The storage is unavailable').toJSON().error_description).toBe('The storage is unavailable');
  });
});

describe('render-error', () => {
  // A real server whose only handler is the renderer, answering the error it is given.
  let server: http.Server;
  let port: number;
  let next: { err: ZonegateError; options: ErrorRenderOptions };
  beforeAll(async () => {
    server = http.createServer((req, res) => sendError(req, res, next.err, next.options));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const answer = (err: ZonegateError, headers: Record<string, string> = {}, options: ErrorRenderOptions = {}) => {
    next = { err, options };
    return request(port, { headers });
  };

  it('answers JSON with the code, the status and the header to API clients', async () => {
    const res = await answer(new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', 'No route matches /x'), { accept: 'application/json' }, { requestId: 'r-1' });
    expect(res.status).toBe(404);
    expect(res.headers[ERROR_HEADER]).toBe('ZG_ERR_ROUTE_NOT_FOUND');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ error: { code: 'ZG_ERR_ROUTE_NOT_FOUND', status: 404, message: 'No route matches /x', requestId: 'r-1' } });
  });

  it('answers a page to browsers, JSON to their XHRs', async () => {
    const err = new GatewayError('ZG_ERR_FORBIDDEN', 'Needs <Admin>');
    const page = await answer(err, { accept: 'text/html,*/*' });
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers[ERROR_HEADER]).toBe('ZG_ERR_FORBIDDEN');
    expect(page.text).toContain('Needs &#60;Admin&#62;');
    expect(page.text).toContain('ZG_ERR_FORBIDDEN');
    const xhr = await answer(err, { accept: 'text/html,*/*', 'x-requested-with': 'XMLHttpRequest' });
    expect(xhr.headers['content-type']).toMatch(/^application\/json/);
  });

  it("answers RFC 6749 §5.2's shape where OAuth is the protocol, with the error's headers", async () => {
    const res = await answer(new oauth.InvalidClient('Bad credentials', { basic: true }), { accept: 'text/html' }, { oauth: true, html: 'never' });
    expect(res.status).toBe(401);
    expect(res.json()).toEqual({ error: 'invalid_client', error_description: 'Bad credentials' });
    expect(res.headers[ERROR_HEADER]).toBe('ZG_ERR_OAUTH_INVALID_CLIENT');
    expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
  });

  it('never shows the message of an error that is not exposed, only its title and code', async () => {
    const gateway = await answer(toGatewayError(new Error('password=hunter2 at db.internal')));
    expect(gateway.status).toBe(500);
    expect(gateway.text).not.toContain('hunter2');
    expect(gateway.json().error).toMatchObject({ code: 'ZG_ERR_INTERNAL', message: ERRORS.ZG_ERR_INTERNAL.title });
    const zone = await answer(oauth.toOAuthError(new Error('SQLITE_CORRUPT /var/lib/zones.db')), { accept: 'text/html' }, { oauth: true });
    expect(zone.headers[ERROR_HEADER]).toBe('ZG_ERR_OAUTH_SERVER_ERROR');
    expect(zone.text).not.toContain('SQLITE');
    expect(zone.text).toContain('ZG_ERR_OAUTH_SERVER_ERROR');
    expect(zone.text).toContain('Something went wrong on our side');
  });

  it('writes the same JSON on a raw socket, for answers made without a response object', async () => {
    const rawServer = http.createServer();
    rawServer.on('connection', (socket) => sendRawError(socket, new GatewayError('ZG_ERR_SHUTTING_DOWN'), 'r-2'));
    await new Promise<void>((resolve) => rawServer.listen(0, '127.0.0.1', resolve));
    try {
      const text = await raw((rawServer.address() as AddressInfo).port, '');
      const [head, body] = text.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
      expect(head).toContain(`${ERROR_HEADER}: ZG_ERR_SHUTTING_DOWN`);
      expect(JSON.parse(body!)).toEqual({ error: { code: 'ZG_ERR_SHUTTING_DOWN', status: 503, message: ERRORS.ZG_ERR_SHUTTING_DOWN.title, requestId: 'r-2' } });
    } finally {
      await new Promise<void>((resolve) => rawServer.close(() => resolve()));
    }
  });
});

describe('x-zonegate-error on every error answer of a running gateway and its zones', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startDemoGateway();
  });
  afterAll(() => gw.stop());

  const registered = (code: unknown) => typeof code === 'string' && code in ERRORS && documented.has(code);

  it('marks a gateway error', async () => {
    const res = await request(gw.port, { path: '/', host: 'unknown.example.com', headers: { accept: 'application/json' } });
    expect(res.status).toBe(404);
    expect(res.headers[ERROR_HEADER]).toBe('ZG_ERR_HOST_UNMATCHED');
    expect(res.json().error.code).toBe('ZG_ERR_HOST_UNMATCHED');
  });

  it("marks a zone's OAuth error with the documented code of its RFC 6749 error", async () => {
    const res = await request(gw.port, {
      method: 'POST',
      path: '/oauth/token',
      host: 'acme.auth.localhost',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=forged&client_id=nobody&client_secret=x',
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const body = res.json();
    expect(res.headers[ERROR_HEADER]).toBe(oauth.OAUTH_ERROR_CODES[body.error as oauth.OAuthErrorCode]);
    expect(registered(res.headers[ERROR_HEADER])).toBe(true);
  });

  it("marks a zone's HTML error page", async () => {
    const res = await request(gw.port, {
      path: '/oauth/authorize?response_type=code&client_id=nobody&state=s',
      host: 'acme.auth.localhost',
      headers: { accept: 'text/html' },
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers[ERROR_HEADER]).toBe('ZG_ERR_OAUTH_INVALID_REQUEST');
  });

  it("marks a zone's 404 and its admin API's refusals", async () => {
    const noZone = await request(gw.port, { path: '/', host: 'nowhere.auth.localhost', headers: { accept: 'text/html' } });
    expect(noZone.status).toBe(404);
    expect(noZone.headers[ERROR_HEADER]).toBe('ZG_ERR_HOST_UNMATCHED');
    const admin = await request(gw.port, { path: '/Users', host: 'acme.auth.localhost', headers: { accept: 'application/json' } });
    expect(admin.status).toBe(401);
    expect(admin.json().error).toBe('unauthorized');
    expect(admin.headers[ERROR_HEADER]).toBe('ZG_ERR_UNAUTHENTICATED');
  });

  it('marks the answer to a request Node cannot parse, with the code of its status', async () => {
    const big = await raw(gw.port, `GET / HTTP/1.1\r\nHost: acme.localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    expect(big.toLowerCase()).toContain(`${ERROR_HEADER}: zg_err_headers_too_large`);
  });
});
