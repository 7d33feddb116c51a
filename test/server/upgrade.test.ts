/**
 * Issue 19, "Moving existing data", as an operator meets it: a deployment of an earlier release kept
 * every record in Redis; the new release starts against the same Redis and a new, empty PostgreSQL.
 * Without a manual step the tenant stays served, its user signs in with the old password, the
 * application keeps its client id and secret, and the zone signs with its old key (tokens issued
 * before the upgrade keep verifying). The earlier release's keyspace is written by its own code
 * (test/records/legacy/).
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateXsSecurityDocument } from '../../src/config/security.js';
import { DEFAULT_REDIS_KEY_PREFIX } from '../../src/storage/index.js';
import { openRedisStorage } from '../../src/storage/redis.js';
import { sealSecret } from '../../src/zones/directory/client-secret.js';
import { BASE_ENV, logIn, ROUTES, securityWithCallbackAuthority } from '../provisioning/gateway-support.js';
import { createZoneDirectory } from '../records/legacy/directory-on-storage.js';
import { ScriptedBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { FAST_SCRYPT } from '../zones/directory/fixtures.js';

const SECRET_KEY_HEX = 'e'.repeat(64);
const PASSWORD = 'upgrade-test-pass-1';
const ACME_ID = '0b7e3c52-1f0a-4d67-9a61-3a2c5f4e8d01';

interface Earlier {
  clientId: string;
  clientSecret: string;
  kid: string;
}

/** What the earlier release left in Redis: provider and acme zones, the application subscribed in acme, a user, acme's key. */
async function writeEarlierRelease(redisUrl: string): Promise<Earlier> {
  const storage = await openRedisStorage({ url: redisUrl, keyPrefix: DEFAULT_REDIS_KEY_PREFIX });
  try {
    const secretKey = Buffer.from(SECRET_KEY_HEX, 'hex');
    const directory = createZoneDirectory(storage, { secretKey, passwordHashing: FAST_SCRYPT });
    const provider = await directory.createZone({ subdomain: 'provider' });
    const acme = await directory.createZone({ id: ACME_ID, subdomain: 'acme' });
    const security = validateXsSecurityDocument(JSON.parse(securityWithCallbackAuthority()), 'xs-security.json');
    const { application, clientSecret } = await directory.registerApplication(security, provider.id);
    await directory.subscribe(application, acme.id);
    await directory.createUser(acme.id, { userName: 'alice', email: 'alice@acme.example', password: PASSWORD, roleCollections: ['Demo Viewer'] });
    // The keystore of that release: `zkeys:<zone>`, the private key sealed for `<zone>/<kid>`.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('base64url').slice(0, 22);
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    await storage.set(
      `zkeys:${acme.id}`,
      JSON.stringify({ activeKid: kid, keys: [{ kid, sealedPem: sealSecret(pem, secretKey, `zkeys:${acme.id}:${kid}`), createdAt: Date.now() }] }),
    );
    return { clientId: application.clientId, clientSecret, kid };
  } finally {
    await storage.close();
  }
}

describe('upgrade from a release that kept its records in Redis', () => {
  let redis: RedisServerHandle;
  let postgres: PostgresServerHandle;
  let earlier: Earlier;
  let databaseUrl: string;
  const started: TestGateway[] = [];
  const start = async () => {
    const gw = await startTestGateway({
      routes: ROUTES,
      files: { 'xs-security.json': securityWithCallbackAuthority() },
      destinations: [{ name: 'echo', url: 'ECHO', forwardAuthToken: true }],
      env: { ...BASE_ENV, REDIS_URL: redis.url, DATABASE_URL: databaseUrl, ZONEGATE_SECRET_KEY: SECRET_KEY_HEX },
    });
    started.push(gw);
    return gw;
  };

  beforeAll(async () => {
    [redis, postgres] = await Promise.all([startRedisServer(), startPostgresServer()]);
    databaseUrl = await postgres.createDatabase('upgrade');
    earlier = await writeEarlierRelease(redis.url);
  });
  afterAll(async () => {
    for (const gw of started) await gw.stop();
    await redis?.stop();
    await postgres?.dispose();
  });

  it('the first start copies the records over: same client, tenant served, old password and old signing key', async () => {
    // Two instances starting at once: one copies, the other waits for it instead of registering anew.
    const [a, b] = await Promise.all([start(), start()]);
    for (const gw of [a, b]) {
      expect(gw.running.credentials!.clientid).toBe(earlier.clientId);
      expect(gw.running.credentials!.clientsecret).toBe(earlier.clientSecret);
    }
    const copies = [...a.logs, ...b.logs].filter((l) => l.includes('records copied from the store into the records database'));
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatch(/"zones":2,"users":1,.*"applications":1,"subscriptions":1,"signingKeys":1/);

    const browser = new ScriptedBrowser();
    await logIn(browser, `http://acme.localhost:${b.port}`, 'alice', PASSWORD);
    const whoami = await browser.get(`http://acme.localhost:${b.port}/api/whoami`, { accept: 'application/json' });
    expect(whoami.status).toBe(200);
    const { jwt } = JSON.parse(whoami.text) as { jwt: { header: { kid: string }; claims: { zid: string } } };
    expect(jwt.header.kid).toBe(earlier.kid);
    expect(jwt.claims.zid).toBe(ACME_ID);
  });

  it('a later start finds the records there and copies nothing', async () => {
    const c = await start();
    expect(c.running.credentials!.clientid).toBe(earlier.clientId);
    expect(c.logs.some((l) => l.includes('records of an earlier release'))).toBe(false);
  });
});
