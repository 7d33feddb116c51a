/**
 * Issue 15 across two gateway instances in the production layout (records in one PostgreSQL, shared
 * state in one Redis), through real HTTP: a platform registered at A works at B; one JWT posted to
 * both at once is accepted by exactly one; a link issued by A is redeemed at B, once; a relay state
 * issued by A is relayed by B, once. (One login assertion at both at once is covered per storage
 * backend in ./shared-storage.test.ts: here each instance's zones have their own port in their URL,
 * so an assertion's audience names one of them.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ENV, ROUTES } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { ADMIN_SECRET, admin, createTestPlatform, postAutologin, register, type TestPlatform } from './support.js';

describe('trusted platforms and the relay across two instances on PostgreSQL and Redis', () => {
  let redis: RedisServerHandle;
  let postgres: PostgresServerHandle;
  let a: TestGateway;
  let b: TestGateway;
  let tix: TestPlatform;

  beforeAll(async () => {
    [redis, postgres] = await Promise.all([startRedisServer(), startPostgresServer()]);
    const databaseUrl = await postgres.createDatabase('platform_instances');
    const options = {
      routes: ROUTES,
      files: { 'xs-security.json': fs.readFileSync(path.resolve(import.meta.dirname, '../../xs-security.json'), 'utf8'), 'public/index.html': '<!doctype html>' },
      destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
      env: { ...BASE_ENV, REDIS_URL: redis.url, DATABASE_URL: databaseUrl, ZONEGATE_SECRET_KEY: 'e'.repeat(64), ZONEGATE_ADMIN_SECRET: ADMIN_SECRET },
    };
    [a, b] = await Promise.all([startTestGateway(options), startTestGateway(options)]);
    tix = await createTestPlatform('tix');
    await register(a, tix, { subdomainPattern: 'tix-*', roleCollections: ['Demo Viewer'] });
  }, 120_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await tix?.close();
    await redis?.stop();
    await postgres?.dispose();
  });

  const orgAt = async (gw: TestGateway, token: string, body: object) =>
    new ScriptedBrowser().request(`http://localhost:${gw.port}/platform/v1/organizations`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });

  it('registered at A, a platform creates its tenant at B; the same JWT at A and B at once: one accepts', async () => {
    const created = await orgAt(b, await tix.sign({ aud: `http://localhost:${b.port}/platform/v1/organizations` }), { organizationId: 'o1', subdomain: 'tix-acme' });
    expect(created.status, created.text).toBe(201);
    // One JWT whose audience both instances answer to (the same public host behind a load balancer).
    const aud = `http://localhost:${a.port}/platform/v1/organizations`;
    const jwt = await tix.sign({ aud });
    const both = await Promise.all([
      orgAt(a, jwt, { organizationId: 'o1', subdomain: 'tix-acme' }),
      new ScriptedBrowser().request(`http://127.0.0.1:${b.port}/platform/v1/organizations`, {
        method: 'POST',
        headers: { host: `localhost:${a.port}`, accept: 'application/json', 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
        body: JSON.stringify({ organizationId: 'o1', subdomain: 'tix-acme' }),
      }),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it('a link issued by A logs the user in at B, once', async () => {
    const assertion = (gw: TestGateway) => tix.sign({ sub: 'jane', aud: `http://tix-acme.auth.localhost:${gw.port}/oauth/token`, email: 'jane@tix.example', role_collections: ['Demo Viewer'], target: '/api/whoami' });
    const issued = await postAutologin(a, await assertion(a));
    expect(issued.status, issued.text).toBe(200);
    const atB = new URL(issued.json().url);
    atB.port = String(b.port);
    const browser = new ScriptedBrowser();
    const first = await browser.get(atB.href);
    expect(first.status).toBe(302);
    expect(String(first.headers.location)).toBe(`http://tix-acme.localhost:${a.port}/api/whoami`);
    // Followed at B (the tenant host's port is A's in the URL: the same deployment behind one address).
    const landed = await browser.follow(await browser.get(`http://tix-acme.localhost:${b.port}/api/whoami`));
    expect(landed.status, landed.text.slice(0, 200)).toBe(200);
    expect(landed.json().jwt.claims).toMatchObject({ user_name: 'jane', origin: 'tix' });
    const again = new URL(issued.json().url);
    expect((await new ScriptedBrowser().get(again.href)).status).toBe(404);
  });

  it('a relay state issued by A is relayed by B, once', async () => {
    const created = await admin(a, 'POST', '/relay-installations', { id: 'shop', callbackUrls: ['https://shop.example.com/cb'] });
    expect(created.status, created.text).toBe(201);
    const asked = await new ScriptedBrowser().request(`http://localhost:${a.port}/platform/v1/relay/states`, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`shop:${created.json().secret}`).toString('base64')}` },
      body: JSON.stringify({ redirect_uri: 'https://shop.example.com/cb', state: 'mine' }),
    });
    expect(asked.status, asked.text).toBe(201);
    const query = new URLSearchParams({ code: 'c', state: asked.json().state });
    const answers = await Promise.all([a, b, a, b].map((gw) => new ScriptedBrowser().get(`http://localhost:${gw.port}/platform/v1/relay/callback?${query}`)));
    expect(answers.map((r) => r.status).sort()).toEqual([302, 400, 400, 400]);
    expect(answers.find((r) => r.status === 302)!.headers.location).toBe('https://shop.example.com/cb?code=c&state=mine');
  });
});
