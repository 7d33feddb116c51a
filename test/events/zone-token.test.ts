import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';

/**
 * `GET /events` with the tenant's own bearer token: an access token of the tenant's zone for this
 * application (here the built-in zones, asked over HTTP as the gateway's login asks them), checked
 * by the rule every bearer token of the gateway passes. One tenant's token never reads another's events.
 */
const ADMIN = 'zone-token-admin-0123456789';
let gw: TestGateway;

const zoneToken = async (tenant: string) => {
  const c = gw.running.credentials!;
  const res = await request(gw.port, {
    method: 'POST',
    path: '/oauth/token',
    host: `${tenant}.auth.localhost:${gw.port}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: c.clientid, client_secret: c.clientsecret }).toString(),
  });
  expect(res.status, res.text).toBe(200);
  return res.json().access_token as string;
};
const poll = (tenant: string, token: string) =>
  request(gw.port, { path: '/events', host: `${tenant}.localhost:${gw.port}`, headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  gw = await startDemoGateway({ EVENTS_ADMIN_TOKEN: ADMIN });
  for (const tenant of ['acme', 'globex']) {
    const res = await request(gw.port, {
      method: 'POST',
      path: '/_zonegate/events',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant, name: 'order.created', data: { owner: tenant }, id: `${tenant}-1` }),
    });
    expect(res.status).toBe(202);
  }
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

describe('polling with a zone access token', () => {
  it('returns the tenant\'s events for a token of its zone', async () => {
    const res = await poll('acme', await zoneToken('acme'));
    expect(res.status, res.text).toBe(200);
    expect(res.json().data).toEqual([expect.objectContaining({ id: 'acme-1', data: { owner: 'acme' } })]);
  });

  it('refuses a token of another tenant\'s zone, and a forged one', async () => {
    const globex = await zoneToken('globex');
    const crossed = await poll('acme', globex);
    expect(crossed.status).toBe(401);
    expect(crossed.text).not.toContain('globex-1');
    expect(crossed.text).not.toContain('acme-1');
    const acme = await zoneToken('acme');
    const [h, p] = acme.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, ext_attr: { zdn: 'globex' } })).toString('base64url')}.${acme.split('.')[2]}`;
    expect((await poll('globex', forged)).status).toBe(401);
  });
});

describe('a tenant that goes', () => {
  it('takes its webhooks, subscriptions, polling tokens and events along', async () => {
    const admin = (method: string, path: string, body?: unknown) =>
      request(gw.port, { method, path, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    expect((await admin('PUT', '/_zonegate/webhooks/globex/orders', { auth: 'hmac', event: 'order.created' })).status).toBe(201);
    expect((await admin('POST', '/_zonegate/events/subscriptions', { tenant: 'globex', url: 'http://127.0.0.1:1/hook' })).status).toBe(201);
    const { token } = (await admin('POST', '/_zonegate/events/tokens', { tenant: 'globex' })).json();
    expect((await poll('globex', token)).status).toBe(200);

    const zone = await gw.running.records.one<{ id: string }>('SELECT id FROM zones WHERE subdomain = $1', ['globex']);
    expect(await gw.running.provisioning!.unsubscribe(zone!.id)).toMatchObject({ removed: true });
    for (const table of ['webhooks', 'event_subscriptions', 'event_tokens', 'events']) {
      expect(await gw.running.records.all(`SELECT * FROM ${table} WHERE tenant = $1`, ['globex']), table).toEqual([]);
    }
    // acme keeps its own.
    expect((await gw.running.records.all('SELECT * FROM events WHERE tenant = $1', ['acme'])).length).toBe(1);
    expect((await admin('GET', '/_zonegate/events/subscriptions?tenant=globex')).json()).toEqual([]);
  });
});
