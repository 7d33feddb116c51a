/**
 * Two gateway instances in the production layout (issue 19): records in one PostgreSQL, shared
 * short-lived state in one Redis, each instance with its own data directory (nothing shared through
 * the file system). A subscription made through one is served by the other at once, a user created
 * through one logs in at the other, and an unsubscription through one leaves nothing usable on the
 * other: its host 404 within a second, the session gone from the shared store.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ENV, callback, clientToken, guid, logIn, PASSWORD, ROUTES, securityWithCallbackAuthority, subscription } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

describe('provisioning across two instances on PostgreSQL and Redis', () => {
  let redis: RedisServerHandle;
  let postgres: PostgresServerHandle;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    // Private servers: nothing else's keys or tables, and nothing of ours left behind.
    [redis, postgres] = await Promise.all([startRedisServer(), startPostgresServer()]);
    const databaseUrl = await postgres.createDatabase('instances');
    const options = {
      routes: ROUTES,
      files: { 'xs-security.json': securityWithCallbackAuthority() },
      destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
      // No ZONEGATE_DATA_DIR: each instance has its own (startTestGateway's temporary directory).
      env: { ...BASE_ENV, REDIS_URL: redis.url, DATABASE_URL: databaseUrl, ZONEGATE_SECRET_KEY: 'd'.repeat(64) },
    };
    // Started together, as a scaled-out deployment does: the migrations and the application's
    // registration must not race into two registrations or a failed start.
    [a, b] = await Promise.all([startTestGateway(options), startTestGateway(options)]);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
    await postgres?.dispose();
  });

  it('subscribed through A, logged in at B at once; unsubscribed through A, B refuses host and session within a second', async () => {
    expect(b.running.credentials!.clientid).toBe(a.running.credentials!.clientid);
    const token = await clientToken(a, 'provider');
    const tenantId = guid(50);
    const baseB = `http://wonka.localhost:${b.port}`;
    expect((await new ScriptedBrowser().get(`${baseB}/api/whoami`, { accept: 'application/json' })).status).toBe(404);

    const put = await callback(a, 'PUT', tenantId, { token, body: subscription(tenantId, 'wonka') });
    expect(put.status).toBe(200);
    // B never cached the "no" it answered a moment ago.
    expect((await new ScriptedBrowser().get(`${baseB}/api/whoami`)).status).toBe(302);

    // Created through A, signed in at B: the user and its password hash are records, not B's files.
    await a.running.directory!.createUser(tenantId, { userName: 'charlie', email: 'charlie@wonka.example', password: PASSWORD, roleCollections: ['Demo Viewer'] });
    const browser = new ScriptedBrowser();
    await logIn(browser, baseB, 'charlie', PASSWORD);
    expect((await browser.get(`${baseB}/api/whoami`, { accept: 'application/json' })).status).toBe(200);

    expect((await callback(a, 'DELETE', tenantId, { token })).status).toBe(200);
    await sleep(1100);
    const gone = await browser.get(`${baseB}/api/whoami`, { accept: 'application/json' });
    expect(gone.status).toBe(404);
    expect(gone.headers['x-zonegate-error']).toBe('ZG_ERR_TENANT_UNKNOWN');

    // Subscribed again (through B this time): the session A's unsubscription ended stays ended on B.
    expect((await callback(b, 'PUT', tenantId, { token, body: subscription(tenantId, 'wonka') })).status).toBe(200);
    expect((await browser.get(`${baseB}/api/whoami`, { accept: 'application/json' })).status).toBe(401);
  });
});
