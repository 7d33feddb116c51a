/**
 * Issue 10, "Faults": a gateway with the built-in zones and a subscribed tenant, on a redis-server
 * of its own that the tests stop, restart and empty. What must hold:
 *  - while Redis is down, a tenant's public routes and static files keep working; what needs a
 *    session answers 503 ZG_ERR_STORAGE_UNAVAILABLE; the tenants themselves are in the records
 *    database (issue 19), which stays up, so one never subscribed is still 404;
 *  - /readyz stays 200 (an outage every instance shares must not take them all out) and says so;
 *  - a store emptied under the running gateway is reported (readyz 503, an error log line), and a
 *    tenant it does not know answers 503 ZG_ERR_STORAGE_LOST instead of 404 "not subscribed"; the
 *    subscribed ones, kept in the records database, stay served.
 */
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ENV, guid, logIn, PASSWORD, ROUTES, securityWithCallbackAuthority } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const INDEX = '<!doctype html><title>initech</title>';

async function gatewayOn(redis: RedisServerHandle): Promise<TestGateway> {
  const gw = await startTestGateway({
    routes: ROUTES,
    files: { 'xs-security.json': securityWithCallbackAuthority(), 'public/index.html': INDEX },
    destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
    env: { ...BASE_ENV, REDIS_URL: redis.url, ZONEGATE_SECRET_KEY: 'd'.repeat(64) },
  });
  await gw.running.provisioning!.subscribe({ tenantId: guid(1), subdomain: 'initech', userInfo: { userName: 'owner@initech.example' } });
  await gw.running.directory!.createUser(guid(1), { userName: 'peter', email: 'peter@initech.example', password: PASSWORD, roleCollections: ['Demo Administrator'] });
  return gw;
}

const get = (gw: TestGateway, host: string, path: string, headers: Record<string, string> = {}) =>
  request(gw.port, { host: `${host}:${gw.port}`, path, headers: { accept: 'application/json', ...headers } });

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(100);
  }
}

describe('while Redis is down', () => {
  let redis: RedisServerHandle;
  let gw: TestGateway;
  beforeAll(async () => {
    // With an append-only file, so that a restart brings the same data back (a real outage, not a loss).
    redis = await startRedisServer(['--appendonly', 'yes']);
    gw = await gatewayOn(redis);
  });
  afterAll(async () => {
    await gw?.stop();
    await redis?.stop();
  });

  it('public routes and static files of a known tenant stay 200; sessions, logins and unknown tenants 503; readyz stays 200', async () => {
    const browser = new ScriptedBrowser();
    const base = `http://initech.localhost:${gw.port}`;
    await logIn(browser, base, 'peter', PASSWORD);
    expect((await browser.get(`${base}/api/whoami`, { accept: 'application/json' })).status).toBe(200);
    expect((await get(gw, 'initech.localhost', '/echo/before')).status).toBe(200);
    expect((await get(gw, 'localhost', '/readyz')).status).toBe(200);

    await redis.stop();
    // Past the registry's one-second freshness: what follows is answered from its last known answer.
    await sleep(1100);

    const echo = await get(gw, 'initech.localhost', '/echo/during');
    expect(echo.status).toBe(200);
    const page = await get(gw, 'initech.localhost', '/index.html', { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(page.text).toBe(INDEX);

    for (const protectedCall of [
      () => browser.get(`${base}/api/whoami`, { accept: 'application/json' }), // with its session cookie
      () => get(gw, 'initech.localhost', '/api/whoami', { accept: 'text/html' }), // no session: a browser's login would have to start
      () => browser.get(`${base}/logout`), // its session must end in the store
    ]) {
      const res = await protectedCall();
      expect(res.status).toBe(503);
      expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_STORAGE_UNAVAILABLE');
    }
    const stranger = await get(gw, 'globex.localhost', '/echo/x');
    expect(stranger.status).toBe(404);
    expect(stranger.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_UNKNOWN');

    const ready = await get(gw, 'localhost', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', storage: 'unavailable' });
    expect((await get(gw, 'localhost', '/healthz')).status).toBe(200);
    expect(gw.logs.filter((l) => l.includes('"msg":"storage unavailable: this instance stays ready'))).toHaveLength(1);

    await redis.start();
    const back = await until(() => get(gw, 'localhost', '/readyz'), (r) => r.json().storage === 'ok');
    expect(back.status).toBe(200);
    expect(back.json()).toEqual({ status: 'ready', storage: 'ok' });
    expect(gw.logs.some((l) => l.includes('"msg":"storage available again"'))).toBe(true);
    const whoami = await until(() => browser.get(`${base}/api/whoami`, { accept: 'application/json' }), (r) => r.status === 200);
    expect(whoami.status).toBe(200);
    expect((await get(gw, 'initech.localhost', '/echo/after')).status).toBe(200);
    expect((await get(gw, 'globex.localhost', '/echo/x')).status).toBe(404);
  });
});

describe('a store emptied under the running gateway', () => {
  let redis: RedisServerHandle;
  let gw: TestGateway;
  beforeAll(async () => {
    redis = await startRedisServer();
    gw = await gatewayOn(redis);
  });
  afterAll(async () => {
    await gw?.stop();
    await redis?.stop();
  });

  it('FLUSHALL: readyz 503 with an error line that says what to do; tenants 503 ZG_ERR_STORAGE_LOST, not 404', async () => {
    expect((await get(gw, 'initech.localhost', '/echo/x')).status).toBe(200);
    expect((await get(gw, 'localhost', '/readyz')).status).toBe(200);
    // The empty store it started on was named at start-up: after a loss while all instances were
    // down, that line is the trace of it.
    expect(gw.logs.filter((l) => l.includes('"level":"warn"') && l.includes('"msg":"store initialised: it was empty'))).toHaveLength(1);

    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();
    await sleep(1100); // past the registry's freshness

    const ready = await get(gw, 'localhost', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json()).toEqual({ status: 'store-lost', storage: 'lost' });
    const lines = gw.logs.filter((l) => l.includes('"level":"error"') && l.includes('the store lost its data'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Restore the store from a backup/);

    // The tenant lives in the records database, which lost nothing; a "no" is not trusted while the store is lost.
    expect((await get(gw, 'initech.localhost', '/echo/x')).status).toBe(200);
    const res = await get(gw, 'globex.localhost', '/echo/x');
    expect(res.status).toBe(503);
    expect(res.headers['x-zonegate-error']).toBe('ZG_ERR_STORAGE_LOST');
    // Liveness is not readiness: restarting the process would not bring the data back.
    expect((await get(gw, 'localhost', '/healthz')).status).toBe(200);
  });
});
