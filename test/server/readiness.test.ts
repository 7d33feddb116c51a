import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const ROUTES = { routes: [{ source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] };

async function within(gw: TestGateway, part: 'storage' | 'records', expected: string): Promise<{ status: number; body: { status: string; storage: string; records: string } }> {
  let res = await request(gw.port, { path: '/readyz' });
  for (let i = 0; i < 50 && res.json()[part] !== expected; i++) {
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
    expect((await request(gw.port, { path: '/readyz' })).json()).toEqual({ status: 'ready', storage: 'ok', records: 'ok' });
    await redis.stop();
    const down = await request(gw.port, { path: '/readyz' });
    expect(down.status).toBe(200);
    expect(down.json()).toEqual({ status: 'ready', storage: 'unavailable', records: 'ok' });
    // Liveness and public routes do not depend on storage.
    expect((await request(gw.port, { path: '/healthz' })).status).toBe(200);
    expect((await request(gw.port, { path: '/echo/x' })).status).toBe(200);
    await redis.start();
    expect(await within(gw, 'storage', 'ok')).toEqual({ status: 200, body: { status: 'ready', storage: 'ok', records: 'ok' } });
  });

  it('a hung Redis (SIGSTOP) is "unavailable" within the probes\' one-second timeout, not a probe that times out', async () => {
    redis.pause();
    try {
      const started = Date.now();
      const res = await request(gw.port, { path: '/readyz' });
      expect(Date.now() - started).toBeLessThan(900);
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ status: 'ready', storage: 'unavailable', records: 'ok' });
    } finally {
      redis.resume();
    }
    expect(await within(gw, 'storage', 'ok')).toEqual({ status: 200, body: { status: 'ready', storage: 'ok', records: 'ok' } });
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

  // Issue 19: Redis holds sessions and other short-lived state only; the records are in the records
  // database. Coming back empty costs the users their sessions, and is no reason to take an instance out.
  it('comes back empty: still ready, nothing reported lost', async () => {
    await redis.stop();
    await redis.start();
    expect(await within(gw, 'storage', 'ok')).toEqual({ status: 200, body: { status: 'ready', storage: 'ok', records: 'ok' } });
    expect(gw.logs.some((l) => l.includes('"level":"error"'))).toBe(false);
  });
});

describe('readiness when the records database loses its installation', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ routes: ROUTES });
  });
  afterAll(() => gw.stop());

  it('a wiped installation row: 503 records-lost with one error line saying what to do; restored: ready again', async () => {
    const { records } = gw.running;
    expect((await request(gw.port, { path: '/readyz' })).json()).toEqual({ status: 'ready', storage: 'ok', records: 'ok' });
    const row = await records.one('SELECT * FROM installation');
    await records.run('DELETE FROM installation');
    const lost = await request(gw.port, { path: '/readyz' });
    expect(lost.status).toBe(503);
    expect(lost.json()).toEqual({ status: 'records-lost', storage: 'ok', records: 'lost' });
    await request(gw.port, { path: '/readyz' });
    const lines = gw.logs.filter((l) => l.includes('"level":"error"') && l.includes('the records database lost the installation'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Restore the database from a backup/);
    // Liveness is not readiness: restarting the process would not bring the records back.
    expect((await request(gw.port, { path: '/healthz' })).status).toBe(200);

    await records.run('INSERT INTO installation (id, installation_id, created_at, secret_key_check) VALUES ($1, $2, $3, $4)', [
      row!.id as string,
      row!.installation_id as string,
      row!.created_at as string,
      row!.secret_key_check as string | null,
    ]);
    expect(await within(gw, 'records', 'ok')).toEqual({ status: 200, body: { status: 'ready', storage: 'ok', records: 'ok' } });
    expect(gw.logs.some((l) => l.includes('"msg":"the records database has its installation again (restored): ready"'))).toBe(true);
  });

  it('a dropped schema is lost too, not an outage', async () => {
    const { records } = gw.running;
    await records.run('ALTER TABLE installation RENAME TO installation_gone');
    try {
      const lost = await request(gw.port, { path: '/readyz' });
      expect(lost.status).toBe(503);
      expect(lost.json()).toMatchObject({ status: 'records-lost', records: 'lost' });
    } finally {
      await records.run('ALTER TABLE installation_gone RENAME TO installation');
    }
    expect(await within(gw, 'records', 'ok')).toMatchObject({ status: 200 });
  });
});
