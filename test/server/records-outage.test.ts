/**
 * Issue 19, "Failure behaviour": "PostgreSQL down means logins and admin calls answer a coded 503
 * while sessions already established keep working from Redis; /readyz reports it (shared outages
 * must not take every instance out of routing); recovery without restart." A gateway with the
 * built-in zones on a real redis-server and a real PostgreSQL of its own, which the test stops and
 * starts again. And the installation row: a database that lost it is reported (records-lost), and
 * an instance with another ZONEGATE_SECRET_KEY refuses to start against the same database.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ENV, callback, clientToken, guid, logIn, PASSWORD, ROOT, ROUTES, securityWithCallbackAuthority, subscription } from '../provisioning/gateway-support.js';
import { ScriptedBrowser } from '../support/browser.js';
import { CLI, runCli, startCli } from '../support/cli.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const ADMIN_SECRET = 'an-admin-secret-of-32-characters';
const SECRET_KEY = 'd'.repeat(64);

let redis: RedisServerHandle;
let postgres: PostgresServerHandle;
let gw: TestGateway;

beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedisServer(), startPostgresServer()]);
  gw = await startTestGateway({
    routes: ROUTES,
    files: { 'xs-security.json': securityWithCallbackAuthority(), 'public/index.html': '<!doctype html><title>initech</title>' },
    destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
    env: { ...BASE_ENV, REDIS_URL: redis.url, DATABASE_URL: postgres.url, ZONEGATE_SECRET_KEY: SECRET_KEY, ZONEGATE_ADMIN_SECRET: ADMIN_SECRET },
  });
  await gw.running.provisioning!.subscribe({ tenantId: guid(1), subdomain: 'initech', userInfo: { userName: 'owner@initech.example' } });
  await gw.running.directory!.createUser(guid(1), { userName: 'peter', email: 'peter@initech.example', password: PASSWORD, roleCollections: ['Demo Administrator'] });
}, 120_000);
afterAll(async () => {
  await gw?.stop();
  await redis?.dispose();
  await postgres?.dispose();
});

const get = (host: string, path: string, headers: Record<string, string> = {}) =>
  request(gw.port, { host: `${host}:${gw.port}`, path, headers: { accept: 'application/json', ...headers } });

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(100);
  }
}

describe('while PostgreSQL is down', () => {
  it('established sessions keep their scoped routes; logins, tokens, the admin API and subscriptions 503 ZG_ERR_DATABASE_UNAVAILABLE; readyz 200; recovery without restart', async () => {
    const base = `http://initech.localhost:${gw.port}`;
    const zone = `http://initech.auth.localhost:${gw.port}`;
    const browser = new ScriptedBrowser();
    await logIn(browser, base, 'peter', PASSWORD);
    expect((await browser.get(`${base}/api/whoami`, { accept: 'application/json' })).status).toBe(200);
    const registryToken = await clientToken(gw, 'provider');
    // The registry has called before: the gateway knows the provider zone's keys (a first call during
    // the outage, whose keys cannot be fetched, is 503 ZG_ERR_IDP_UNAVAILABLE).
    expect((await callback(gw, 'PUT', guid(3), { token: registryToken, body: subscription(guid(3), 'hooli') })).status).toBe(200);
    const credentials = gw.running.credentials!;
    const stranger = new ScriptedBrowser();
    expect((await get('localhost', '/readyz')).json()).toEqual({ status: 'ready', storage: 'ok', records: 'ok' });

    await postgres.stop();
    try {
      // Past the registry's one-second freshness: what follows is answered from its last answer.
      await sleep(1100);

      // The logged-in user keeps reaching the scoped route, through the backend, with the token.
      const whoami = await browser.get(`${base}/api/whoami`, { accept: 'application/json' });
      expect(whoami.status).toBe(200);
      expect(whoami.json()).toMatchObject({ url: '/whoami', headers: { authorization: expect.stringMatching(/^Bearer /) } });
      expect((await get('initech.localhost', '/echo/x')).status).toBe(200);

      // A new login: the gateway sends the browser to the zone, which cannot read the client or users.
      const start = await stranger.get(`${base}/api/whoami`);
      expect(start.status).toBe(302);
      const page = await stranger.get(String(start.headers.location));
      expect(page.status).toBe(503);
      expect(page.headers['x-zonegate-error']).toBe('ZG_ERR_DATABASE_UNAVAILABLE');
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      // An API client's login (the token endpoint): JSON, RFC 6749's shape.
      const token = await stranger.post(`${zone}/oauth/token`, { grant_type: 'client_credentials', client_id: credentials.clientid, client_secret: credentials.clientsecret }, { accept: 'application/json' });
      expect(token.status).toBe(503);
      expect(token.headers['x-zonegate-error']).toBe('ZG_ERR_DATABASE_UNAVAILABLE');
      expect(token.json()).toMatchObject({ error: 'temporarily_unavailable' });

      const admin = await get('auth.localhost', '/identity-zones', { authorization: `Basic ${Buffer.from(`admin:${ADMIN_SECRET}`).toString('base64')}` });
      expect(admin.status).toBe(503);
      expect(admin.headers['x-zonegate-error']).toBe('ZG_ERR_DATABASE_UNAVAILABLE');
      const subscribe = await callback(gw, 'PUT', guid(2), { token: registryToken, body: subscription(guid(2), 'globex') });
      expect(subscribe.status).toBe(503);
      expect(subscribe.headers['x-zonegate-error']).toBe('ZG_ERR_DATABASE_UNAVAILABLE');
      // A tenant not seen before: no answer is invented.
      const unknown = await get('globex.localhost', '/echo/x');
      expect(unknown.status).toBe(503);
      expect(unknown.headers['x-zonegate-error']).toBe('ZG_ERR_DATABASE_UNAVAILABLE');

      const ready = await get('localhost', '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.json()).toEqual({ status: 'ready', storage: 'ok', records: 'unavailable' });
      expect(gw.logs.filter((l) => l.includes('"msg":"records database unavailable: this instance stays ready'))).toHaveLength(1);
    } finally {
      await postgres.start();
    }

    const back = await until(() => get('localhost', '/readyz'), (r) => r.json().records === 'ok');
    expect(back.status).toBe(200);
    expect(back.json()).toEqual({ status: 'ready', storage: 'ok', records: 'ok' });
    expect(gw.logs.some((l) => l.includes('"msg":"records database available again"'))).toBe(true);
    // The pool reconnects by itself: the user who could not log in now can; the old session still works.
    await logIn(stranger, base, 'peter', PASSWORD);
    expect((await stranger.get(`${base}/api/whoami`, { accept: 'application/json' })).status).toBe(200);
    expect((await browser.get(`${base}/api/whoami`, { accept: 'application/json' })).status).toBe(200);
    // Tenants it does not remember: known again once one lookup (at most one a second) finds the database back.
    expect((await until(() => get('globex.localhost', '/echo/x'), (r) => r.status !== 503)).status).toBe(404);
  });
});

describe('a records database that lost its installation row (wiped or replaced)', () => {
  it('readyz 503 records-lost; a tenant it cannot find is 503 ZG_ERR_RECORDS_LOST, not 404; the row restored, all is as before', async () => {
    const { records } = gw.running;
    const row = await records.one<{ id: string; installation_id: string; created_at: string; secret_key_check: string | null }>('SELECT * FROM installation');
    await records.run('DELETE FROM installation');
    try {
      const ready = await get('localhost', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json()).toEqual({ status: 'records-lost', storage: 'ok', records: 'lost' });
      const unknown = await get('globex.localhost', '/echo/x');
      expect(unknown.status).toBe(503);
      expect(unknown.headers['x-zonegate-error']).toBe('ZG_ERR_RECORDS_LOST');
      // What the database still holds is served.
      expect((await get('initech.localhost', '/echo/x')).status).toBe(200);
    } finally {
      await records.run('INSERT INTO installation (id, installation_id, created_at, secret_key_check) VALUES ($1, $2, $3, $4)', [
        row!.id,
        row!.installation_id,
        row!.created_at,
        row!.secret_key_check,
      ]);
    }
    expect((await get('localhost', '/readyz')).json()).toEqual({ status: 'ready', storage: 'ok', records: 'ok' });
    expect((await get('globex.localhost', '/echo/x')).status).toBe(404);
  });
});

/** How many zones and how many installation rows the database holds: what a refused command must leave as it was. */
async function zonesAndInstallations(): Promise<{ zones: number; installations: number }> {
  const records = gw.running.records;
  const zones = await records.one<{ n: number }>('SELECT COUNT(*) AS n FROM zones');
  const installations = await records.one<{ n: number }>('SELECT COUNT(*) AS n FROM installation');
  return { zones: Number(zones!.n), installations: Number(installations!.n) };
}

describe('the installation row and ZONEGATE_SECRET_KEY', () => {
  let dir: string;
  beforeAll(() => {
    expect(fs.existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-installation-'));
    fs.copyFileSync(path.join(ROOT, 'routes.json'), path.join(dir, 'routes.json'));
    fs.writeFileSync(path.join(dir, 'xs-security.json'), securityWithCallbackAuthority());
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const env = (secretKey: string, dataDir: string) => ({
    PATH: process.env.PATH ?? '',
    PORT: '0',
    ...BASE_ENV,
    DATABASE_URL: postgres.url,
    ZONEGATE_SECRET_KEY: secretKey,
    ZONEGATE_DATA_DIR: path.join(dir, dataDir),
    destinations: JSON.stringify([{ name: 'echo', url: 'http://127.0.0.1:1' }]),
  });

  it('an instance with another secret key refuses to start, naming the variable, never the key', async () => {
    const other = 'e'.repeat(64);
    const result = await runCli(['start'], { cwd: dir, env: env(other, 'other') });
    const output = result.stdout + result.stderr;
    expect(result.code).toBe(1);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(/^zonegate: refusing to start: the records database at postgres:\/\/\*\*\*@127\.0\.0\.1:\d+\/postgres was set up on \S+ with another secret key than ZONEGATE_SECRET_KEY/);
    expect(output).toContain('Start every instance with the ZONEGATE_SECRET_KEY the database was set up with');
    expect(output).not.toContain(other);
    expect(output).not.toContain(SECRET_KEY);
    expect(output).not.toContain('"msg":"listening"');
  });

  it('so do the one-shot commands that seal or open keys (keys rotate), before they write anything', async () => {
    const before = await zonesAndInstallations();
    const result = await runCli(['keys', 'rotate'], { cwd: dir, env: env('e'.repeat(64), 'rotate') });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^zonegate: refusing to start: .* with another secret key than ZONEGATE_SECRET_KEY/);
    expect(result.stdout).not.toContain('Rotated');
    expect(await zonesAndInstallations()).toEqual(before);
  });

  it('an instance with the same key starts (a second process against the same database)', async () => {
    const started = await startCli(['start'], { cwd: dir, env: env(SECRET_KEY, 'same') });
    try {
      expect((await request(started.port, { path: '/readyz' })).json()).toEqual({ status: 'ready', storage: 'ok', records: 'ok' });
    } finally {
      started.child.kill('SIGTERM');
      await new Promise((resolve) => started.child.once('exit', resolve));
    }
  });
});
