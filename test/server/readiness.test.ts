import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const ROUTES = { routes: [{ source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] };

async function storageWithin(gw: TestGateway, expected: string): Promise<{ status: number; body: { status: string; storage: string } }> {
  let res = await request(gw.port, { path: '/readyz' });
  for (let i = 0; i < 50 && res.json().storage !== expected; i++) {
    await new Promise((r) => setTimeout(r, 100));
    res = await request(gw.port, { path: '/readyz' });
  }
  return { status: res.status, body: res.json() };
}

describe('readiness with Redis storage', () => {
  let redis: RedisServerHandle;
  let gw: TestGateway;
  beforeAll(async () => {
    // An append-only file: the restart below is an outage, not a loss of data.
    redis = await startRedisServer(['--appendonly', 'yes']);
    gw = await startTestGateway({ routes: ROUTES, env: { REDIS_URL: redis.url, ZONEGATE_SECRET_KEY: 'c'.repeat(64) } });
  });
  afterAll(async () => {
    await gw.stop();
    await redis.stop();
  });

  // Issue 10: every instance shares the Redis; were they all unready during its outage, the load
  // balancer would have nowhere to send even the public routes they can still serve.
  it('stays ready while Redis is down, saying so in the body, and reports it back by itself', async () => {
    expect(gw.running.storage.kind).toBe('redis');
    expect((await request(gw.port, { path: '/readyz' })).json()).toEqual({ status: 'ready', storage: 'ok' });
    await redis.stop();
    const down = await request(gw.port, { path: '/readyz' });
    expect(down.status).toBe(200);
    expect(down.json()).toEqual({ status: 'ready', storage: 'unavailable' });
    // Liveness and public routes do not depend on storage.
    expect((await request(gw.port, { path: '/healthz' })).status).toBe(200);
    expect((await request(gw.port, { path: '/echo/x' })).status).toBe(200);
    await redis.start();
    expect(await storageWithin(gw, 'ok')).toEqual({ status: 200, body: { status: 'ready', storage: 'ok' } });
  });

  it('a hung Redis (SIGSTOP) is "unavailable" within the probes\' one-second timeout, not a probe that times out', async () => {
    redis.pause();
    try {
      const started = Date.now();
      const res = await request(gw.port, { path: '/readyz' });
      expect(Date.now() - started).toBeLessThan(900);
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ status: 'ready', storage: 'unavailable' });
    } finally {
      redis.resume();
    }
    expect(await storageWithin(gw, 'ok')).toEqual({ status: 200, body: { status: 'ready', storage: 'ok' } });
  });
});

describe('readiness with a Redis that restarts without persistence', () => {
  let redis: RedisServerHandle;
  let gw: TestGateway;
  beforeAll(async () => {
    redis = await startRedisServer();
    gw = await startTestGateway({ routes: ROUTES, env: { REDIS_URL: redis.url, ZONEGATE_SECRET_KEY: 'c'.repeat(64) } });
  });
  afterAll(async () => {
    await gw.stop();
    await redis.stop();
  });

  it('comes back empty: not ready (503), the store is reported lost', async () => {
    await redis.stop();
    await redis.start();
    expect(await storageWithin(gw, 'lost')).toEqual({ status: 503, body: { status: 'store-lost', storage: 'lost' } });
    expect(gw.logs.some((l) => l.includes('the store lost its data'))).toBe(true);
  });
});
