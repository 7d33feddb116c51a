/**
 * The storage contract, the session store suite and the lock suite against Redis as it is run in
 * production: a real 3-master Cluster and a real master + replica + 3 sentinels, started here on
 * free ports (test/support/redis-server.ts) and stopped afterwards. Then a failover: the
 * Sentinel-managed master is killed and no session written before it is lost.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createKeyring } from '../../src/sessions/crypto.js';
import { StorageSessionStore } from '../../src/sessions/store.js';
import { openRedisStorage, type RedisConnection } from '../../src/storage/redis.js';
import { promiseGet, promiseSet, sessionData, sid } from '../sessions/helpers.js';
import { describeLock } from '../sessions/lock-suite.js';
import { describeSessionStore } from '../sessions/store-suite.js';
import { redisCli, startRedisCluster, startRedisSentinels, waitForSync } from '../support/redis-server.js';
import type { RedisClusterHandle, RedisSentinelHandle } from '../support/redis-server.js';
import { describeStorageContract } from './contract.js';

const prefix = `zonegate-test:topologies:${randomUUID()}:`;

/** Every key of `prefix` on the servers at `ports`, with its value or members: what a dump of them sees. */
async function dumpOf(ports: readonly number[]): Promise<string> {
  const lines: string[] = [];
  for (const port of ports) {
    const raw = new Redis({ host: '127.0.0.1', port });
    try {
      for (const key of await raw.keys(`${prefix}*`)) {
        const type = await raw.type(key);
        if (type === 'string') lines.push(`${key} ${await raw.get(key)}`);
        if (type === 'set') lines.push(`${key} ${(await raw.smembers(key)).join(' ')}`);
      }
    } finally {
      raw.disconnect();
    }
  }
  return lines.join('\n');
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

describe('Redis Cluster (3 masters)', () => {
  let cluster: RedisClusterHandle;
  let connection: RedisConnection;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    // One seed node is enough: the others are discovered.
    connection = { mode: 'cluster', nodes: [cluster.nodes[0]!] };
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const open = () => openRedisStorage({ connection, keyPrefix: prefix });

  describeStorageContract('redis cluster', open);
  describeSessionStore('redis cluster', { open, dump: () => dumpOf(cluster.masters.map((m) => m.port)) });
  describeLock('redis cluster', open);

  it('spreads keys over every master (no hash tag puts them in one slot)', async () => {
    const s = await open();
    try {
      await Promise.all(Array.from({ length: 60 }, (_, i) => s.set(`sess:spread-${i}`, 'v', { ttlMs: 60_000 })));
      const perMaster = await Promise.all(cluster.masters.map(async (m) => (await redisCli(m.port, 'KEYS', `${prefix}k:sess:spread-*`)).trim().split('\n').filter(Boolean).length));
      expect(perMaster.reduce((a, b) => a + b, 0)).toBe(60);
      for (const n of perMaster) expect(n).toBeGreaterThan(5);
    } finally {
      await s.close();
    }
  });

  it('delivers change notices between handles whatever node each one subscribed on, and tracks again after losing its node', async () => {
    const handles = await Promise.all(Array.from({ length: 4 }, open));
    try {
      const heard = handles.map(() => [] as (string | undefined)[]);
      handles.forEach((h, i) => h.onForeignChange((k) => heard[i]!.push(k)));
      await waitUntil(async () => handles.every((h) => h.changesTracked()), 10_000, 'subscribed');
      await handles[0]!.announce('sess:notice');
      await waitUntil(async () => heard.slice(1).every((h) => h.includes('sess:notice')), 5_000, 'notice heard');

      // Drop every notices connection (CLIENT KILL by name): each handle must say it lost track and
      // subscribe again on a node that is up.
      for (const m of cluster.masters) await redisCli(m.port, 'CLIENT', 'KILL', 'SKIPME', 'yes', 'TYPE', 'pubsub');
      await waitUntil(async () => heard.every((h) => h.includes(undefined)), 5_000, 'told to forget');
      await waitUntil(async () => handles.every((h) => h.changesTracked()), 10_000, 'subscribed again');
      await handles[1]!.announce('sess:again');
      await waitUntil(async () => heard[0]!.includes('sess:again'), 5_000, 'notice heard again');
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });
});

describe('Redis Sentinel (master, replica, 3 sentinels)', () => {
  let set: RedisSentinelHandle;
  let connection: RedisConnection;
  beforeAll(async () => {
    set = await startRedisSentinels();
    connection = { mode: 'sentinel', nodes: set.sentinelNodes, sentinelMaster: set.masterName };
  });
  afterAll(async () => {
    await set?.stop();
  });
  const open = (replicaAckTimeoutMs?: number) => openRedisStorage({ connection, keyPrefix: prefix, replicaAckTimeoutMs });

  describeStorageContract('redis sentinel', () => open());
  describeSessionStore('redis sentinel', { open: () => open(), dump: async () => dumpOf([await set.masterPort()]) });
  describeLock('redis sentinel', () => open());

  const keyring = createKeyring([{ id: 'k1', secret: 'failover-test-session-key-0123456789' }]);

  it('fails a write no replica acknowledges instead of reporting it stored (a failover would lose it)', async () => {
    const storage = await open(300);
    const store = new StorageSessionStore({ storage, keyring });
    try {
      await promiseSet(store, sid(), sessionData({ tenant: 'acme' }));
      set.replica.pause();
      try {
        const started = Date.now();
        await expect(promiseSet(store, sid(), sessionData({ tenant: 'acme' }))).rejects.toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
        expect(Date.now() - started).toBeLessThan(2_000);
      } finally {
        set.replica.resume();
      }
    } finally {
      await storage.close();
    }
  });

  it('loses no session written before the master is killed: the replica Sentinel promotes has them all', async () => {
    // The replica must be back in sync and seen healthy by the sentinels, or there is nothing to promote.
    await waitForSync(set.replica.port);
    await waitUntil(
      async () => (await redisCli(set.sentinels[0]!.port, 'SENTINEL', 'REPLICAS', set.masterName)).includes('flags\nslave\n'),
      10_000,
      'replica healthy for the sentinels',
    );
    const [a, b] = [await open(), await open()];
    const stores = [new StorageSessionStore({ storage: a, keyring }), new StorageSessionStore({ storage: b, keyring })];
    try {
      const written = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const id = sid();
          await promiseSet(stores[i % 2]!, id, sessionData({ tenant: 'acme', tokens: { accessToken: `at-${i}` } }));
          return { id, i };
        }),
      );
      // SIGKILL: no shutdown that would let the replica catch up first.
      await set.master.kill();
      await waitUntil(async () => (await set.masterPort()) === set.replica.port, 30_000, 'Sentinel promoted the replica');
      // The same storage objects follow the new master by themselves.
      await waitUntil(async () => (await a.set('probe', 'v'), await b.ping(), true), 15_000, 'storage on the new master');
      const missing: number[] = [];
      for (const { id, i } of written) {
        const got = await promiseGet(stores[(i + 1) % 2]!, id);
        if ((got?.tokens as { accessToken?: string } | undefined)?.accessToken !== `at-${i}`) missing.push(i);
      }
      expect(missing).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
