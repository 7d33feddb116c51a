/**
 * Issue 9, zone signing keys at rest, and issue 19, keys as records: the keys live in the records
 * database, sealed there (test/zones/keys/keystore-contract.ts), and the shared key/TTL store (here a
 * real Redis) holds nothing of them: no key set, nothing that signs a token. What the store still
 * carries for the keys is the change notice that makes every instance forget a rotated or removed
 * zone's keys at once.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../src/log.js';
import { openRedisStorage } from '../../../src/storage/redis.js';
import { createKeyStore } from '../../../src/zones/keys/keystore.js';
import { openTestRecords } from '../../support/records.js';
import { pemBody } from './keystore-contract.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const redisPrefix = `zonegate-test:keys-at-rest:${randomUUID()}:`;
const secretKey = new Uint8Array(randomBytes(32));

afterAll(async () => {
  const raw = new Redis(REDIS_URL);
  try {
    const keys = await raw.keys(`${redisPrefix}*`);
    if (keys.length > 0) await raw.del(...keys);
  } finally {
    raw.disconnect();
  }
});

/** Every string and set value under this file's prefix, by key. */
async function redisContents(prefix: string): Promise<Map<string, string[]>> {
  const raw = new Redis(REDIS_URL);
  try {
    const contents = new Map<string, string[]>();
    for (const name of await raw.keys(`${prefix}*`)) {
      const type = await raw.type(name);
      contents.set(name, type === 'string' ? [(await raw.get(name))!] : type === 'set' ? await raw.smembers(name) : []);
    }
    return contents;
  } finally {
    raw.disconnect();
  }
}

describe('zone signing keys and the shared store', () => {
  it('Redis holds no key set and no private key: the keys are in the records database', async () => {
    const prefix = `${redisPrefix}${randomUUID()}:`;
    const storage = await openRedisStorage({ url: REDIS_URL, keyPrefix: prefix });
    const records = await openTestRecords();
    try {
      const keys = createKeyStore({ records, notices: storage, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, secretKey });
      const signing = await keys.signingKey('zone-r');
      await keys.rotateKeys('zone-r');
      await keys.signingKey('zone-s');
      await keys.deleteKeys('zone-s');
      const pem = signing.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
      for (const [name, values] of await redisContents(prefix)) {
        expect(name).not.toContain('zkeys:');
        for (const value of values) {
          expect(value, name).not.toContain('PRIVATE KEY');
          expect(value, name).not.toContain(pemBody(pem));
        }
      }
      expect(await records.one('SELECT count(*) AS n FROM signing_keys WHERE zone_id = $1', ['zone-r'])).toEqual({ n: 2 });
    } finally {
      await storage.close();
      await records.close();
    }
  });

  it("another instance forgets a removed zone's keys at once, through the store's change notices", async () => {
    const prefix = `${redisPrefix}${randomUUID()}:`;
    const [storageA, storageB] = [await openRedisStorage({ url: REDIS_URL, keyPrefix: prefix }), await openRedisStorage({ url: REDIS_URL, keyPrefix: prefix })];
    const records = await openTestRecords();
    try {
      const options = { records, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, secretKey };
      const a = createKeyStore({ ...options, notices: storageA });
      // A long cache: without the notice B would keep verifying with the removed key for a minute.
      const b = createKeyStore({ ...options, notices: storageB, cacheMs: 60_000 });
      const old = await b.signingKey('zone-gone');
      await a.deleteKeys('zone-gone');
      await expect.poll(() => b.verificationKey('zone-gone', old.kid), { timeout: 5000 }).toBeUndefined();
      expect((await b.signingKey('zone-gone')).kid).not.toBe(old.kid);
    } finally {
      await storageA.close();
      await storageB.close();
      await records.close();
    }
  });
});
