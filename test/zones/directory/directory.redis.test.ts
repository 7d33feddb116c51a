import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { openRedisStorage } from '../../../src/storage/redis.js';
import { describeDirectory } from './suite.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
// One prefix per run: parallel runs against the shared Redis never see each other's keys.
const prefix = `zonegate-test:directory:${randomUUID()}:`;

async function scanKeys(raw: Redis): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

afterAll(async () => {
  // Remove only what this run wrote (never FLUSHDB on the shared Redis).
  const raw = new Redis(REDIS_URL);
  try {
    const keys = await scanKeys(raw);
    if (keys.length > 0) await raw.del(...keys);
  } finally {
    raw.disconnect();
  }
});

describeDirectory('Redis', {
  open: () => openRedisStorage({ url: REDIS_URL, keyPrefix: prefix }),
  dumpValues: async () => {
    const raw = new Redis(REDIS_URL);
    try {
      const values: string[] = [];
      for (const key of await scanKeys(raw)) {
        // Values are strings; indexes are sets (their members are ids and names, dumped too).
        const type = await raw.type(key);
        if (type === 'string') values.push((await raw.get(key)) ?? '');
        else if (type === 'set') values.push(...(await raw.smembers(key)));
      }
      return values;
    } finally {
      raw.disconnect();
    }
  },
});
