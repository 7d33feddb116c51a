import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

describe('readiness with Redis storage', () => {
  let redis: RedisServerHandle;
  let gw: TestGateway;
  beforeAll(async () => {
    redis = await startRedisServer();
    gw = await startTestGateway({
      routes: { routes: [{ source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] },
      env: { REDIS_URL: redis.url, ZONEGATE_SECRET_KEY: 'c'.repeat(64) },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await redis.stop();
  });

  it('is ready while Redis answers, unready (503) while it is down, and recovers by itself', async () => {
    expect(gw.running.storage.kind).toBe('redis');
    expect((await request(gw.port, { path: '/readyz' })).status).toBe(200);
    await redis.stop();
    const down = await request(gw.port, { path: '/readyz' });
    expect(down.status).toBe(503);
    expect(down.json()).toMatchObject({ status: 'unavailable', storage: 'unreachable' });
    // Liveness and public routes do not depend on storage.
    expect((await request(gw.port, { path: '/healthz' })).status).toBe(200);
    expect((await request(gw.port, { path: '/echo/x' })).status).toBe(200);
    await redis.start();
    let ready = 0;
    for (let i = 0; i < 50 && ready !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = (await request(gw.port, { path: '/readyz' })).status;
    }
    expect(ready).toBe(200);
  });
});
