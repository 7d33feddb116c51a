/**
 * Issue 10, "Faults": a gateway with the built-in zones and a subscribed tenant, on a redis-server
 * of its own that the tests stop, restart and empty. What must hold:
 *  - while Redis is down, a tenant's public routes and static files keep working; what needs a
 *    session answers 503 ZG_ERR_STORAGE_UNAVAILABLE; the tenants themselves are in the records
 *    database (issue 19), which stays up, so one never subscribed is still 404;
 *  - /readyz stays 200 (an outage every instance shares must not take them all out) and says so;
 *  - a store emptied under the running gateway (FLUSHALL) costs the users their sessions and nothing
 *    else (issue 19): readyz stays 200, users log in again with the same password, zones, tenants and
 *    signing keys are intact.
 */
import { Redis } from 'ioredis';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ENV, guid, logIn, PASSWORD, ROUTES, securityWithCallbackAuthority } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const INDEX = '<!doctype html><title>initech</title>';

async function gatewayOn(redis: RedisServerHandle, env: Record<string, string> = {}, subscribe = true): Promise<TestGateway> {
  const gw = await startTestGateway({
    routes: ROUTES,
    files: { 'xs-security.json': securityWithCallbackAuthority(), 'public/index.html': INDEX },
    destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
    env: { ...BASE_ENV, REDIS_URL: redis.url, ZONEGATE_SECRET_KEY: 'd'.repeat(64), ...env },
  });
  if (!subscribe) return gw;
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

  it('public routes and static files stay 200; sessions and logins 503; tenants still known (records); readyz stays 200', async () => {
    const browser = new ScriptedBrowser();
    const base = `http://initech.localhost:${gw.port}`;
    await logIn(browser, base, 'peter', PASSWORD);
    expect((await browser.get(`${base}/api/whoami`, { accept: 'application/json' })).status).toBe(200);
    expect((await get(gw, 'initech.localhost', '/echo/before')).status).toBe(200);
    expect((await get(gw, 'localhost', '/readyz')).status).toBe(200);

    await redis.stop();
    // Past the registry's one-second freshness: what follows asks the records database again.
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
    expect(ready.json()).toEqual({ status: 'ready', storage: 'unavailable', records: 'ok' });
    expect((await get(gw, 'localhost', '/healthz')).status).toBe(200);
    expect(gw.logs.filter((l) => l.includes('"msg":"storage unavailable: this instance stays ready'))).toHaveLength(1);

    await redis.start();
    const back = await until(() => get(gw, 'localhost', '/readyz'), (r) => r.json().storage === 'ok');
    expect(back.status).toBe(200);
    expect(back.json()).toEqual({ status: 'ready', storage: 'ok', records: 'ok' });
    expect(gw.logs.some((l) => l.includes('"msg":"storage available again"'))).toBe(true);
    const whoami = await until(() => browser.get(`${base}/api/whoami`, { accept: 'application/json' }), (r) => r.status === 200);
    expect(whoami.status).toBe(200);
    expect((await get(gw, 'initech.localhost', '/echo/after')).status).toBe(200);
    expect((await get(gw, 'globex.localhost', '/echo/x')).status).toBe(404);
  });
});

describe('Redis flushed under the running gateway (FLUSHALL)', () => {
  let redis: RedisServerHandle;
  let gw: TestGateway;
  let second: TestGateway | undefined;
  beforeAll(async () => {
    redis = await startRedisServer();
    gw = await gatewayOn(redis);
  });
  afterAll(async () => {
    await second?.stop();
    await gw?.stop();
    await redis?.stop();
  });

  // Issue 19, "Done when": "Redis flushed entirely costs the users their sessions and nothing else
  // (they log in again, zones, users and keys intact)".
  it('costs the users their sessions only: readyz stays 200, the user logs in again, zone, tenant and signing key intact', async () => {
    const base = `http://initech.localhost:${gw.port}`;
    const browser = new ScriptedBrowser();
    await logIn(browser, base, 'peter', PASSWORD);
    const before = await browser.get(`${base}/api/whoami`, { accept: 'application/json' });
    expect(before.status).toBe(200);
    const kidBefore = kidOf(before.json().headers.authorization);

    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();
    // The session is gone: a browser is sent to log in, an API client told 401. The copy the gateway
    // keeps in memory goes at its next heartbeat (every 200 ms), which finds the data replaced.
    const page = await until(
      () => browser.get(`${base}/api/whoami`),
      (res) => res.status !== 200,
      2_000,
    );
    expect(page.status).toBe(302);
    expect(String(page.headers.location)).toContain('/oauth/authorize');
    expect((await browser.get(`${base}/api/whoami`, { accept: 'application/json' })).status).toBe(401);

    const ready = await get(gw, 'localhost', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', storage: 'ok', records: 'ok' });
    expect(gw.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);

    // Zone and tenant intact: the tenant is served, the user logs in again with the same password.
    expect((await get(gw, 'initech.localhost', '/echo/x')).status).toBe(200);
    expect(await gw.running.directory!.getZoneBySubdomain('initech')).toMatchObject({ id: guid(1) });
    expect(await gw.running.provisioning!.findTenant('initech')).toMatchObject({ tenantId: guid(1), subdomain: 'initech' });
    await logIn(browser, base, 'peter', PASSWORD);
    expect((await browser.get(`${base}/api/whoami`, { accept: 'application/json' })).status).toBe(200);

    // Keys intact: an instance started after the flush (nothing cached in its memory) signs with the
    // key that signed before it, and publishes it.
    second = await gatewayOn(redis, { ZONEGATE_DATA_DIR: path.join(gw.dir, 'data') }, false);
    const again = new ScriptedBrowser();
    const secondBase = `http://initech.localhost:${second.port}`;
    await logIn(again, secondBase, 'peter', PASSWORD);
    const after = await again.get(`${secondBase}/api/whoami`, { accept: 'application/json' });
    expect(after.status).toBe(200);
    expect(kidOf(after.json().headers.authorization)).toBe(kidBefore);
    const keys = await get(second, `initech.auth.localhost`, '/token_keys');
    expect(keys.json().keys.map((k: { kid: string }) => k.kid)).toContain(kidBefore);
  });
});

/** The `kid` of a `Bearer <JWT>` header's token. */
function kidOf(authorization: string): string {
  const [header] = authorization.replace(/^Bearer /, '').split('.');
  return JSON.parse(Buffer.from(header!, 'base64url').toString()).kid as string;
}
