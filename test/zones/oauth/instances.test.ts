/**
 * Two identity-server instances over one storage backend: a login may start on one and finish on the
 * other, because every piece of security state (pending login, CSRF, SSO, codes, refresh families,
 * keys, throttles) is in storage (STYLE.md "All security state in storage"). Run against SQLite (two
 * handles on one file) and against the shared Redis (unique key prefix, cleaned up afterwards).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../src/log.js';
import { openRedisStorage } from '../../../src/storage/redis.js';
import { openSqliteStorage } from '../../../src/storage/sqlite.js';
import type { Storage } from '../../../src/storage/types.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { openTestRecords } from '../../support/records.js';
import { createIdentityServer } from '../../../src/zones/server.js';
import { request } from '../../support/http.js';
import { Browser, FAST_HASHING, PASSWORD, REDIRECT, authorizePath, formFields, pkce, security, type Harness } from './harness.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const redisPrefix = `zonegate-test:zones-instances:${randomUUID()}:`;
const tmp = mkdtempSync(join(tmpdir(), 'zonegate-instances-'));

afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  const raw = new Redis(REDIS_URL);
  try {
    const keys = await raw.keys(`${redisPrefix}*`);
    if (keys.length > 0) await raw.del(...keys);
  } finally {
    raw.disconnect();
  }
});

interface Instance {
  call: Harness['call'];
  close(): Promise<void>;
}

async function instance(storage: Storage, records: RecordsDatabase, uaaPort: { value: number }): Promise<Instance & { port: number }> {
  const directory = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
  // Both instances announce the same public URL (as behind one load balancer).
  const server = await createIdentityServer({ storage, records, directory, uaaDomain: 'localhost', publicUrlFor: (sub) => `http://${sub ? `${sub}.` : ''}localhost:${uaaPort.value}`, logger: createMemoryLogger() });
  const httpServer = http.createServer((req, res) => server.handle(req, res));
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
  const port = (httpServer.address() as AddressInfo).port;
  return {
    port,
    call: (sub, o = {}) => request(port, { host: `${sub ? `${sub}.` : ''}localhost:${uaaPort.value}`, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers ?? {}, ...(o.body !== undefined ? { body: o.body } : {}) }),
    close: async () => {
      await new Promise<void>((r) => httpServer.close(() => r()));
      await storage.close();
    },
  };
}

const backends: [string, () => Promise<Storage>][] = [
  ['SQLite', async () => openSqliteStorage({ file: join(tmp, 'shared.db') })],
  ['Redis', () => openRedisStorage({ url: REDIS_URL, keyPrefix: redisPrefix })],
];

describe.each(backends)('two instances on %s', (_name, open) => {
  it('a login started on one instance finishes on the other; refresh reuse is detected across them', async () => {
    const publicPort = { value: 0 };
    // The directory's records are one database for both; what this test is about is the shared storage.
    const records = await openTestRecords();
    const one = await instance(await open(), records, publicPort);
    const two = await instance(await open(), records, publicPort);
    publicPort.value = one.port;
    try {
      const setup = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
      const sub = `z${randomUUID().slice(0, 8)}`;
      const provider = await setup.createZone({ subdomain: `${sub}p` });
      const zone = await setup.createZone({ subdomain: sub });
      const { application: app, clientSecret } = await setup.registerApplication(security(`inst${randomUUID().slice(0, 6)}`), provider.id);
      await setup.subscribe(app, zone.id);
      await setup.createUser(zone.id, { userName: 'erin', email: 'erin@example.com', password: PASSWORD, roleCollections: [`${app.xsappname}_Administrator`] });

      // The browser's requests alternate between instances; its cookie jar is per host, as a browser's.
      const browserOn = (i: Instance) => new Browser(i);
      const jarOwner = browserOn(one);
      const { challenge, verifier } = pkce();
      const page = await jarOwner.get(sub, authorizePath(app.clientId, { code_challenge: challenge, code_challenge_method: 'S256' }));
      expect(page.status).toBe(200);
      const cookie = jarOwner.cookieHeader(sub);
      const login = await two.call(sub, {
        method: 'POST',
        path: '/login.do',
        headers: { cookie, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...formFields(page.text), username: 'erin', password: PASSWORD }).toString(),
      });
      expect(login.status).toBe(302);
      const code = new URL(login.headers.location!).searchParams.get('code')!;

      const basic = `Basic ${Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
      const token = (i: Instance, form: Record<string, string>) =>
        i.call(sub, { method: 'POST', path: '/oauth/token', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });

      const first = await token(one, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
      expect(first.status).toBe(200);
      expect((await token(two, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier })).json().error).toBe('invalid_grant');

      // Both instances publish the same keys and accept each other's tokens.
      expect((await one.call(sub, { path: '/token_keys' })).json()).toEqual((await two.call(sub, { path: '/token_keys' })).json());
      const { access_token, refresh_token } = first.json();
      // The code replay on instance two revoked what instance one issued.
      expect((await two.call(sub, { path: '/userinfo', headers: { authorization: `Bearer ${access_token}` } })).status).toBe(401);
      expect((await token(two, { grant_type: 'refresh_token', refresh_token })).json().error).toBe('invalid_grant');

      // A fresh login through SSO on instance two (session created on instance two's storage view).
      const again = await two.call(sub, { path: authorizePath(app.clientId), headers: { cookie: `${cookie}; ${login.headers['set-cookie']![0]!.split(';')[0]}` } });
      expect(again.status).toBe(302);
      const code2 = new URL(again.headers.location!).searchParams.get('code')!;
      const second = (await token(one, { grant_type: 'authorization_code', code: code2, redirect_uri: REDIRECT })).json();
      const rotated = await token(two, { grant_type: 'refresh_token', refresh_token: second.refresh_token });
      expect(rotated.status).toBe(200);
      // A client's retry of that refresh on the other instance, within the grace window, gets the same current token.
      const retried = await token(one, { grant_type: 'refresh_token', refresh_token: second.refresh_token });
      expect(retried.status).toBe(200);
      expect(retried.json().refresh_token).toBe(rotated.json().refresh_token);
      // The same token refreshed on both instances at once: one rotation, both answers carry its result.
      const parallel = await Promise.all([one, two].map((i) => token(i, { grant_type: 'refresh_token', refresh_token: rotated.json().refresh_token })));
      expect(parallel.map((r) => r.status)).toEqual([200, 200]);
      const latest = parallel[0]!.json().refresh_token as string;
      expect(parallel[1]!.json().refresh_token).toBe(latest);
      // Now two generations old: a reuse, detected on the other instance; the family's newest token dies with it.
      expect((await token(two, { grant_type: 'refresh_token', refresh_token: second.refresh_token })).json().error).toBe('invalid_grant');
      expect((await token(one, { grant_type: 'refresh_token', refresh_token: latest })).json().error).toBe('invalid_grant');
    } finally {
      await one.close();
      await two.close();
      await records.close();
    }
  });
});
