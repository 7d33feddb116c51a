import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody, signatureOf } from '../../src/webhooks/signature.js';
import { startDemoGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';
import { startCapture } from '../events/support.js';

/**
 * Inbound webhooks through the real gateway (port 0, the built-in zones with the demo tenants acme
 * and globex): configured with the events admin API, called by HMAC signature or basic credentials,
 * forwarded to a real destination with the tenant in headers, or published as an event. Each attack
 * gets its answer.
 */
const ADMIN = 'admin-token-0123456789abcdef';
let gw: TestGateway;
let hooks: Awaited<ReturnType<typeof startCapture>>;
let hmacSecret: string;
let basicPassword: string;

const admin = (method: string, path: string, body?: unknown) =>
  request(gw.port, {
    method,
    path,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

const post = (path: string, body: string, headers: Record<string, string> = {}, host?: string) =>
  request(gw.port, { method: 'POST', path, body, headers: { 'content-type': 'application/json', ...headers }, ...(host ? { host } : {}) });

beforeAll(async () => {
  hooks = await startCapture();
  gw = await startDemoGateway({
    EVENTS_ADMIN_TOKEN: ADMIN,
    destinations: JSON.stringify([{ name: 'echo', url: 'http://127.0.0.1:1' }, { name: 'hooks', url: `${hooks.url}/in` }]),
  });
  const made = await admin('PUT', '/_zonegate/webhooks/acme/orders', { auth: 'hmac', destination: 'hooks', path: '/orders', maxBytes: 1024 });
  expect(made.status).toBe(201);
  hmacSecret = made.json().secret;
  const basic = await admin('PUT', '/_zonegate/webhooks/acme/legacy', { auth: 'basic', username: 'crm', destination: 'hooks' });
  expect(basic.status).toBe(201);
  basicPassword = basic.json().secret;
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await hooks?.close();
});

describe('inbound webhooks', () => {
  it('forwards a correctly signed call to the destination with the tenant and its zone in headers, and answers what the destination answered', async () => {
    const body = JSON.stringify({ order: 42 });
    const res = await post('/webhooks/acme/orders', body, { 'x-zonegate-signature': signBody(hmacSecret, body) });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    const got = hooks.received.at(-1)!;
    expect(got.url).toBe('/in/orders');
    expect(got.body).toBe(body);
    expect(got.headers['x-zonegate-tenant']).toBe('acme');
    const zone = await gw.running.records.one<{ id: string }>('SELECT id FROM zones WHERE subdomain = $1', ['acme']);
    expect(got.headers['x-zonegate-zone']).toBe(zone!.id);
    expect(got.headers['x-zonegate-webhook']).toBe('orders');
    // The caller's proof stays at the gateway.
    expect(got.headers['x-zonegate-signature']).toBeUndefined();
  });

  it('takes the tenant from the host for /webhooks/<name> on the tenant\'s host', async () => {
    const before = hooks.received.length;
    const body = '{"host":true}';
    const res = await post('/webhooks/orders', body, { 'x-zonegate-signature': signBody(hmacSecret, body) }, `acme.localhost:${gw.port}`);
    expect(res.status).toBe(200);
    expect(hooks.received.length).toBe(before + 1);
    expect(hooks.received.at(-1)!.headers['x-zonegate-tenant']).toBe('acme');
  });

  it('refuses a wrong, missing or malformed signature with 401, forwarding nothing', async () => {
    const before = hooks.received.length;
    const body = '{"order":43}';
    const wrong = await post('/webhooks/acme/orders', body, { 'x-zonegate-signature': signBody('not-the-secret', body) });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['x-zonegate-error']).toBe('ZG_ERR_SIGNATURE_INVALID');
    // A signature of another body (the body was changed on the way).
    const tampered = await post('/webhooks/acme/orders', '{"order":44}', { 'x-zonegate-signature': signBody(hmacSecret, body) });
    expect(tampered.status).toBe(401);
    expect((await post('/webhooks/acme/orders', body)).status).toBe(401);
    expect((await post('/webhooks/acme/orders', body, { 'x-zonegate-signature': 'sha256=abc' })).status).toBe(401);
    expect(hooks.received.length).toBe(before);
  });

  it('refuses a replayed call whose timestamp is older than 5 minutes, and one from the future', async () => {
    const before = hooks.received.length;
    const body = '{"order":45}';
    const old = Math.floor(Date.now() / 1000) - 301;
    const stale = await post('/webhooks/acme/orders', body, { 'x-zonegate-signature': `t=${old},v1=${signatureOf(hmacSecret, old, body)}` });
    expect(stale.status).toBe(401);
    expect(stale.json().error.message).toMatch(/too old/);
    const future = Math.floor(Date.now() / 1000) + 301;
    expect((await post('/webhooks/acme/orders', body, { 'x-zonegate-signature': `t=${future},v1=${signatureOf(hmacSecret, future, body)}` })).status).toBe(401);
    // A fresh timestamp with the old MAC: the timestamp is inside the MAC.
    const now = Math.floor(Date.now() / 1000);
    expect((await post('/webhooks/acme/orders', body, { 'x-zonegate-signature': `t=${now},v1=${signatureOf(hmacSecret, old, body)}` })).status).toBe(401);
    expect(hooks.received.length).toBe(before);
  });

  it('answers 404 for a tenant that is not subscribed, and for a webhook the tenant does not have', async () => {
    const body = '{}';
    const unknown = await post('/webhooks/nosuchtenant/orders', body, { 'x-zonegate-signature': signBody(hmacSecret, body) });
    expect(unknown.status).toBe(404);
    expect(unknown.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_UNKNOWN');
    // globex is subscribed but has no webhook "orders": acme's secret opens nothing there.
    const other = await post('/webhooks/globex/orders', body, { 'x-zonegate-signature': signBody(hmacSecret, body) });
    expect(other.status).toBe(404);
    expect(other.headers['x-zonegate-error']).toBe('ZG_ERR_WEBHOOK_UNKNOWN');
  });

  it('answers 413 for a body over the webhook\'s maxBytes, declared or streamed, before checking its signature', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(2000) });
    const declared = await post('/webhooks/acme/orders', big, { 'x-zonegate-signature': signBody(hmacSecret, big) });
    expect(declared.status).toBe(413);
    expect(declared.headers['x-zonegate-error']).toBe('ZG_ERR_PAYLOAD_TOO_LARGE');
    const chunked = await post('/webhooks/acme/orders', big, { 'transfer-encoding': 'chunked', 'x-zonegate-signature': signBody(hmacSecret, big) });
    expect(chunked.status).toBe(413);
  });

  it('checks basic credentials (user and password), with a Basic challenge, and forwards none of them', async () => {
    const body = '{"lead":1}';
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    const ok = await post('/webhooks/acme/legacy', body, basic('crm', basicPassword));
    expect(ok.status).toBe(200);
    expect(hooks.received.at(-1)!.headers.authorization).toBeUndefined();
    const wrongPassword = await post('/webhooks/acme/legacy', body, basic('crm', 'guess'));
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.headers['www-authenticate']).toMatch(/^Basic /);
    expect((await post('/webhooks/acme/legacy', body, basic('someone', basicPassword))).status).toBe(401);
    expect((await post('/webhooks/acme/legacy', body)).status).toBe(401);
  });

  it('answers 502 when the destination cannot be reached', async () => {
    const made = await admin('PUT', '/_zonegate/webhooks/acme/down', { auth: 'hmac', destination: 'echo' });
    const body = '{}';
    const res = await post('/webhooks/acme/down', body, { 'x-zonegate-signature': signBody(made.json().secret, body) });
    expect(res.status).toBe(502);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_BACKEND_UNREACHABLE');
  });

  it('allows only POST', async () => {
    const res = await request(gw.port, { path: '/webhooks/acme/orders' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
  });

  it('keeps the webhook secrets sealed at rest and out of listings', async () => {
    const rows = await gw.running.records.all<{ sealed_secret: string }>('SELECT sealed_secret FROM webhooks');
    for (const r of rows) {
      expect(r.sealed_secret).not.toContain(hmacSecret);
      expect(r.sealed_secret).not.toContain(basicPassword);
      expect(JSON.parse(r.sealed_secret).alg).toBe('A256GCM');
    }
    const list = await admin('GET', '/_zonegate/webhooks?tenant=acme');
    expect(list.status).toBe(200);
    expect(list.json().map((w: { name: string }) => w.name)).toEqual(['down', 'legacy', 'orders']);
    expect(list.text).not.toContain(hmacSecret);
  });

  it('refuses the admin API without its token, and reports every problem of a definition at once', async () => {
    const anonymous = await request(gw.port, { method: 'PUT', path: '/_zonegate/webhooks/acme/x', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
    const wrong = await request(gw.port, { path: '/_zonegate/webhooks', headers: { authorization: 'Bearer admin-token-0123456789abcdeX' } });
    expect(wrong.status).toBe(401);
    const bad = await admin('PUT', '/_zonegate/webhooks/acme/x', { auth: 'token', destination: 'nowhere', maxBytes: 0 });
    expect(bad.status).toBe(400);
    const message = bad.json().error.message as string;
    expect(message).toMatch(/3 problems/);
    expect(message).toMatch(/auth:/);
    expect(message).toMatch(/destination: no destination "nowhere"/);
    expect(message).toMatch(/maxBytes:/);
  });
});
