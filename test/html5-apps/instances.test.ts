/**
 * The production layout (README, "Production layout"): two instances, the applications in one
 * PostgreSQL, change notices through one Redis, each instance with its own data directory. An
 * application deployed through one instance's admin API, or by `zonegate apps deploy` against the
 * same DATABASE_URL, is served by the other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { request } from '../support/http.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { makeZip } from '../support/zip.js';

const SECRET = 'admin-secret-0123456789abcdef';
const basic = `Basic ${Buffer.from(`admin:${SECRET}`).toString('base64')}`;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const zip = (version: string, text: string) =>
  makeZip([{ name: 'manifest.json', content: JSON.stringify({ 'sap.app': { id: 'shared', applicationVersion: { version } } }) }, { name: 'index.html', content: text }]);

/** Asks until the answer is `expected` or `ms` pass; the last text seen. */
async function eventually(get: () => Promise<string>, expected: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  let text = await get();
  while (text !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    text = await get();
  }
  return text;
}

describe('HTML5 applications across two instances on PostgreSQL and Redis', () => {
  let redis: RedisServerHandle;
  let postgres: PostgresServerHandle;
  let databaseUrl: string;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    [redis, postgres] = await Promise.all([startRedisServer(), startPostgresServer()]);
    databaseUrl = await postgres.createDatabase('apps_instances');
    const options = {
      routes: { routes: [{ source: '^(.*)$', target: '$1', service: 'html5-apps-repo-rt', authenticationType: 'none' }] },
      files: { 'xs-security.json': fs.readFileSync(path.join(root, 'xs-security.json'), 'utf8') },
      env: { UAA_DOMAIN: 'auth.localhost', REDIS_URL: redis.url, DATABASE_URL: databaseUrl, ZONEGATE_SECRET_KEY: 'e'.repeat(64), ZONEGATE_ADMIN_SECRET: SECRET },
    };
    [a, b] = await Promise.all([startTestGateway(options), startTestGateway(options)]);
  }, 120_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
    await postgres?.dispose();
  });

  it('deployed through A, served by B; a new version through A, served by B; one deployed by the command, too', async () => {
    const deploy = (body: Buffer) =>
      request(a.port, { method: 'POST', path: '/html5-applications', host: `auth.localhost:${a.port}`, headers: { authorization: basic, 'content-type': 'application/zip' }, body });
    const getB = async (p = '/shared/index.html') => (await request(b.port, { path: p, host: `localhost:${b.port}` })).text;

    expect((await deploy(zip('1.0.0', 'one'))).status).toBe(201);
    expect(await getB()).toBe('one');
    expect((await deploy(zip('1.1.0', 'two'))).status).toBe(201);
    // B looked the version up a moment ago; A's change notice (Redis pub/sub) makes it look again.
    expect(await eventually(getB, 'two', 4000)).toBe('two');
    expect(await getB('/shared-1.0.0/index.html')).toBe('one');

    // `zonegate apps deploy` writes to the same PostgreSQL: served within the 5 s lookup window.
    const file = path.join(a.dir, 'shared-2.zip');
    fs.writeFileSync(file, zip('2.0.0', 'three'));
    const cli = await runCli(['apps', 'deploy', file], { cwd: a.dir, env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, ZONEGATE_SECRET_KEY: 'e'.repeat(64) } });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(await eventually(getB, 'three', 20_000)).toBe('three');
  }, 60_000);
});
