import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/webhooks/signature.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';
import { startCapture, type Captured } from './support.js';

/**
 * The event relay end to end through the real gateway (port 0), on the embedded store and on Redis:
 * a platform publishes with the admin API, subscribers receive signed deliveries with idempotency
 * keys, failures are retried with back-off and then dead-lettered, and a dead letter is redriven.
 */
const ADMIN = 'relay-admin-token-0123456789';
const REDIS_DB = 'redis://127.0.0.1:6379/11';

describe.each([
  ['embedded SQLite', {}],
  ['Redis Streams', { REDIS_URL: REDIS_DB, ZONEGATE_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') }],
] as const)('event relay on %s', (_name, env) => {
  let gw: TestGateway;
  let failing = true;
  const subscriber = startCapture((c) => (c.url === '/flaky' && failing ? 500 : 200));
  let sub: Awaited<typeof subscriber>;
  const secrets: Record<string, string> = {};
  const ids: Record<string, string> = {};

  const admin = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    request(gw.port, {
      method,
      path,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const deliveriesTo = (path: string) => sub.received.filter((c) => c.url === path);

  beforeAll(async () => {
    sub = await subscriber;
    gw = await startTestGateway({
      routes: { routes: [{ source: '^/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] },
      env: { TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$', EVENTS_ADMIN_TOKEN: ADMIN, EVENTS_MAX_ATTEMPTS: '3', ...env },
    });
    for (const [name, tenant, events] of [['all', 'acme', undefined], ['orders', 'acme', ['order.created']], ['flaky', 'acme', ['flaky']], ['globex', 'globex', undefined]] as const) {
      const res = await admin('POST', '/_zonegate/events/subscriptions', { tenant, url: `${sub.url}/${name}`, ...(events ? { events } : {}) });
      expect(res.status).toBe(201);
      secrets[name] = res.json().secret;
      ids[name] = res.json().id;
    }
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await sub?.close();
    if ('REDIS_URL' in env) {
      const redis = new Redis(REDIS_DB);
      const keys = await redis.keys('zonegate:*');
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
  });

  const expectSigned = (c: Captured, secret: string) => {
    expect(verifySignature(c.headers['x-zonegate-signature'], secret, Buffer.from(c.body))).toBe('valid');
    expect(verifySignature(c.headers['x-zonegate-signature'], 'another-secret', Buffer.from(c.body))).toBe('mismatch');
  };

  it('delivers a published event, signed, with a delivery id as idempotency key, to each of the tenant\'s subscribers that want it, and to no other tenant\'s', async () => {
    const id = `order-${randomUUID()}`;
    const res = await admin('POST', '/_zonegate/events', { tenant: 'acme', name: 'order.created', data: { order: 7 }, id });
    expect(res.status).toBe(202);
    expect(res.json()).toMatchObject({ id, deliveries: 2, duplicate: false });
    await sub.until(2);
    for (const [path, name] of [['/all', 'all'], ['/orders', 'orders']] as const) {
      const [got] = deliveriesTo(path);
      expect(got, path).toBeDefined();
      expectSigned(got!, secrets[name]!);
      expect(JSON.parse(got!.body)).toMatchObject({ id, name: 'order.created', tenant: 'acme', data: { order: 7 } });
      expect(got!.headers['idempotency-key']).toBe(got!.headers['x-zonegate-delivery']);
      expect(got!.headers['x-zonegate-tenant']).toBe('acme');
      expect(got!.headers['x-zonegate-attempt']).toBe('1');
    }
    expect(deliveriesTo('/all')[0]!.headers['idempotency-key']).not.toBe(deliveriesTo('/orders')[0]!.headers['idempotency-key']);
    expect(deliveriesTo('/globex')).toEqual([]);
    expect(deliveriesTo('/flaky')).toEqual([]);
  });

  it('recognises a publisher\'s retry by its id (body or Idempotency-Key header) and delivers it once', async () => {
    const id = `once-${randomUUID()}`;
    const first = await admin('POST', '/_zonegate/events', { tenant: 'globex', name: 'invoice.paid', data: {} }, { 'idempotency-key': id });
    expect(first.status).toBe(202);
    const again = await admin('POST', '/_zonegate/events', { tenant: 'globex', name: 'invoice.paid', data: {}, id });
    expect(again.status).toBe(200);
    expect(again.json()).toMatchObject({ id, deliveries: 0, duplicate: true });
    // A later event to the same subscriber marks the point by which a repeat would have arrived.
    const marker = `marker-${randomUUID()}`;
    await admin('POST', '/_zonegate/events', { tenant: 'globex', name: 'marker', data: {}, id: marker });
    await waitFor(() => deliveriesTo('/globex').some((c) => JSON.parse(c.body).id === marker));
    expect(deliveriesTo('/globex').filter((c) => JSON.parse(c.body).id === id)).toHaveLength(1);
  });

  it('retries a failing subscriber with back-off and the same idempotency key, dead-letters it after EVENTS_MAX_ATTEMPTS, and redrives it on request', async () => {
    const id = `flaky-${randomUUID()}`;
    expect((await admin('POST', '/_zonegate/events', { tenant: 'acme', name: 'flaky', data: { n: 1 }, id })).status).toBe(202);
    let letter: { deliveryId: string; reason: string; attempts: number } | undefined;
    await waitFor(async () => {
      const letters = (await admin('GET', '/_zonegate/events/dead-letters')).json() as { deliveryId: string; event: { id: string }; reason: string; attempts: number }[];
      letter = letters.find((l) => l.event.id === id);
      return letter !== undefined;
    }, 30_000);
    const tries = deliveriesTo('/flaky').filter((c) => JSON.parse(c.body).id === id);
    expect(tries.map((c) => c.headers['x-zonegate-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(tries.map((c) => c.headers['idempotency-key']))).toEqual(new Set([letter!.deliveryId]));
    expect(letter).toMatchObject({ attempts: 3, reason: 'the endpoint answered 500 (after 3 attempts)' });

    failing = false;
    expect((await admin('POST', `/_zonegate/events/dead-letters/${letter!.deliveryId}/redrive`)).status).toBe(202);
    await waitFor(() => deliveriesTo('/flaky').filter((c) => JSON.parse(c.body).id === id).length === 4);
    const redriven = deliveriesTo('/flaky').filter((c) => JSON.parse(c.body).id === id).at(-1)!;
    expect(redriven.headers['idempotency-key']).toBe(letter!.deliveryId);
    expectSigned(redriven, secrets.flaky!);
    const after = (await admin('GET', '/_zonegate/events/dead-letters')).json() as { deliveryId: string }[];
    expect(after.some((l) => l.deliveryId === letter!.deliveryId)).toBe(false);
    expect((await admin('POST', `/_zonegate/events/dead-letters/${letter!.deliveryId}/redrive`)).status).toBe(404);
  }, 60_000);

  it('publishes what an event webhook receives, verified, as the tenant\'s event', async () => {
    const made = await admin('PUT', '/_zonegate/webhooks/acme/crm', { auth: 'basic', username: 'crm', event: 'crm.lead' });
    expect(made.status).toBe(201);
    const res = await request(gw.port, {
      method: 'POST',
      path: '/webhooks/acme/crm',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`crm:${made.json().secret}`).toString('base64')}`, 'idempotency-key': 'lead-1' },
      body: '{"lead":"ada"}',
    });
    expect(res.status).toBe(202);
    expect(res.json()).toEqual({ id: 'lead-1', event: 'crm.lead' });
    await waitFor(() => deliveriesTo('/all').some((c) => JSON.parse(c.body).id === 'lead-1'));
    expect(JSON.parse(deliveriesTo('/all').find((c) => JSON.parse(c.body).id === 'lead-1')!.body)).toMatchObject({ name: 'crm.lead', data: { lead: 'ada' } });
  });

  it('drops the queued deliveries of a removed subscription, and refuses bad publications with every problem named', async () => {
    expect((await admin('DELETE', `/_zonegate/events/subscriptions/${ids.globex}`)).status).toBe(204);
    expect((await admin('DELETE', `/_zonegate/events/subscriptions/${ids.globex}`)).status).toBe(404);
    const bad = await admin('POST', '/_zonegate/events', { tenant: 'Not A Tenant', name: '' });
    expect(bad.status).toBe(400);
    expect(bad.json().error.message).toMatch(/3 problems/);
    expect((await request(gw.port, { method: 'POST', path: '/_zonegate/events', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
