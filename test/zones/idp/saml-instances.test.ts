/**
 * SAML across instances (issue 13): the AuthnRequest sent by one identity-server instance is answered
 * at another's ACS, and the login completes on the first, because the request ids (node-saml's cache
 * provider), the pending logins, the seen assertion IDs and the hand-off after the ACS are all in the
 * shared Storage. Run against SQLite (two handles on one file) and the shared Redis (own key prefix).
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
import type { RecordsDatabase } from '../../../src/records/types.js';
import { openRedisStorage } from '../../../src/storage/redis.js';
import { openSqliteStorage } from '../../../src/storage/sqlite.js';
import type { Storage } from '../../../src/storage/types.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import { readIdentityProvider } from '../../../src/zones/idp/config.js';
import { createIdentityProviderStore } from '../../../src/zones/idp/store.js';
import { createIdentityServer } from '../../../src/zones/server.js';
import { request, type TestResponse } from '../../support/http.js';
import { openTestRecords } from '../../support/records.js';
import { FAST_HASHING, REDIRECT, authorizePath, security } from '../oauth/harness.js';
import { startTestSamlIdp } from './saml-idp.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const redisPrefix = `zonegate-test:saml-instances:${randomUUID()}:`;
const tmp = mkdtempSync(join(tmpdir(), 'zonegate-saml-instances-'));

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

async function instance(storage: Storage, records: RecordsDatabase, publicPort: { value: number }) {
  const directory = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
  // Both instances announce one public URL, as behind one load balancer.
  const server = await createIdentityServer({ storage, records, directory, uaaDomain: 'localhost', publicUrlFor: (sub) => `http://${sub ? `${sub}.` : ''}localhost:${publicPort.value}`, logger: createMemoryLogger() });
  const httpServer = http.createServer((req, res) => server.handle(req, res));
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
  const port = (httpServer.address() as AddressInfo).port;
  return {
    port,
    call: (sub: string, o: { method?: string; path: string; headers?: Record<string, string>; body?: string }) =>
      request(port, { host: `${sub}.localhost:${publicPort.value}`, method: o.method ?? 'GET', path: o.path, headers: o.headers ?? {}, ...(o.body !== undefined ? { body: o.body } : {}) }),
    close: async () => {
      await new Promise<void>((r) => httpServer.close(() => r()));
      await storage.close();
    },
  };
}

const cookiesOf = (res: TestResponse) => ((res.headers['set-cookie'] ?? []) as string[]).map((c) => c.split(';')[0]!).join('; ');

const backends: [string, () => Promise<Storage>][] = [
  ['SQLite', async () => openSqliteStorage({ file: join(tmp, 'shared.db') })],
  ['Redis', () => openRedisStorage({ url: REDIS_URL, keyPrefix: redisPrefix })],
];

describe.each(backends)('SAML on two instances over %s', (_name, open) => {
  it('a login sent to the IdP by one instance is answered at the other\'s ACS and completes; the replay is refused on both', async () => {
    const publicPort = { value: 0 };
    const records = await openTestRecords();
    const one = await instance(await open(), records, publicPort);
    const two = await instance(await open(), records, publicPort);
    publicPort.value = one.port;
    const idp = await startTestSamlIdp({ accounts: { frank: { email: 'frank@corp.example', groups: [] } } });
    try {
      const setup = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
      const sub = `s${randomUUID().slice(0, 8)}`;
      const provider = await setup.createZone({ subdomain: `${sub}p` });
      const zone = await setup.createZone({ subdomain: sub });
      const { application: app } = await setup.registerApplication(security(`saml${randomUUID().slice(0, 6)}`), provider.id);
      await setup.subscribe(app, zone.id);
      await createIdentityProviderStore(records, setup).create(zone.id, readIdentityProvider({ type: 'saml', originKey: 'corp', config: { metaDataLocation: idp.metadataXml } }));
      idp.trustSp((await two.call(sub, { path: '/saml/metadata/corp' })).text);

      const start = await one.call(sub, { path: authorizePath(app.clientId, { idp: 'corp' }), headers: { accept: 'text/html' } });
      expect(start.status, start.text.slice(0, 300)).toBe(302);
      const binding = cookiesOf(start);
      const response = idp.response(idp.readRequest(start.headers.location!), { user: 'frank' });
      const form = (r: string) => new URLSearchParams({ SAMLResponse: r }).toString();
      const acs = await two.call(sub, { method: 'POST', path: '/login/callback/corp', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: form(response) });
      expect(acs.status, acs.text.slice(0, 300)).toBe(303);
      const done = await one.call(sub, { path: acs.headers.location!, headers: { cookie: binding, accept: 'text/html' } });
      expect(done.status, done.text.slice(0, 300)).toBe(302);
      const back = new URL(done.headers.location!);
      expect(back.origin + back.pathname).toBe(REDIRECT);
      expect(back.searchParams.get('code')).toMatch(/^[\w-]{20,}$/);
      for (const i of [one, two]) {
        const replay = await i.call(sub, { method: 'POST', path: '/login/callback/corp', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, body: form(response) });
        expect(replay.status).toBe(401);
        expect(replay.headers['x-zonegate-error']).toBe('ZG_ERR_LOGIN_FAILED');
      }
      expect((await setup.listUsers(zone.id)).map((u) => [u.userName, u.origin])).toEqual([['frank', 'corp']]);
    } finally {
      await idp.stop();
      await one.close();
      await two.close();
      await records.close();
    }
  }, 60_000);
});
