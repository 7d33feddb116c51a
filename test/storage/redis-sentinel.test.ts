/**
 * The storage contract, the session store suite and the lock suite against a real Sentinel set
 * (master, replica, 3 sentinels) started here on free ports (test/support/redis-server.ts) and
 * stopped afterwards. Then a failover: the master is killed and no session written before it is lost.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/environment.js';
import { createMemoryLogger } from '../../src/log.js';
import { createKeyring } from '../../src/sessions/crypto.js';
import { StorageSessionStore } from '../../src/sessions/store.js';
import { openStorage } from '../../src/storage/index.js';
import { openRedisStorage, type RedisConnection } from '../../src/storage/redis.js';
import { promiseGet, promiseSet, sessionData, sid } from '../sessions/helpers.js';
import { describeLock } from './lock-suite.js';
import { describeSessionStore } from '../sessions/store-suite.js';
import { dumpKeys, redisCli, startRedisSentinels, waitForSync, waitUntil } from '../support/redis-server.js';
import type { RedisSentinelHandle } from '../support/redis-server.js';
import { describeStorageContract } from './contract.js';

const prefix = `zonegate-test:sentinel:${randomUUID()}:`;

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
  describeSessionStore('redis sentinel', { open: () => open(), dump: async () => dumpKeys([await set.masterPort()], prefix) });
  describeLock('redis sentinel', () => open());

  it("connects through a binding's sentinel_nodes with the master name after # in its uri (SAP's shape)", async () => {
    const credentials = {
      uri: `redis://no-user-name-for-redis:@127.0.0.1:${set.sentinelNodes[0]!.port}#${set.masterName}`,
      sentinel_nodes: set.sentinelNodes.map((n) => ({ hostname: n.host, port: n.port })),
    };
    const settings = readSettings(
      { ZONEGATE_SECRET_KEY: 'a'.repeat(64), VCAP_SERVICES: JSON.stringify({ 'redis-cache': [{ label: 'redis-cache', credentials }] }) },
      { cwd: os.tmpdir() },
    );
    expect(settings.storage).toMatchObject({ kind: 'redis', connection: { mode: 'sentinel', sentinelMaster: set.masterName } });
    if (settings.storage.kind !== 'redis') throw new Error('expected Redis storage');
    const s = await openStorage({ ...settings.storage, keyPrefix: prefix });
    try {
      await s.set('via-binding', 'v');
      expect(await redisCli(await set.masterPort(), 'GET', `${prefix}k:via-binding`)).toBe('v\n');
    } finally {
      await s.close();
    }
  });

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

  it('loses no session reported written before the master is killed, even those written while the replica lagged', async () => {
    // The replica must be back in sync and seen healthy by the sentinels, or there is nothing to promote.
    await waitForSync(set.replica.port);
    await waitUntil(
      async () => (await redisCli(set.sentinels[0]!.port, 'SENTINEL', 'REPLICAS', set.masterName)).includes('flags\nslave\n'),
      10_000,
      'replica healthy for the sentinels',
    );
    const [a, b] = [await open(300), await open(300)];
    const stores = [new StorageSessionStore({ storage: a, keyring }), new StorageSessionStore({ storage: b, keyring })];
    const write = async (i: number, accessToken: string) => {
      const id = sid();
      const stored = await promiseSet(stores[i % 2]!, id, sessionData({ tenant: 'acme', tokens: { accessToken } })).then(
        () => true,
        () => false,
      );
      return { id, accessToken, stored };
    };
    try {
      // With the replica in sync: every write is stored.
      const healthy = await Promise.all(Array.from({ length: 200 }, (_, i) => write(i, `at-${i}`)));
      expect(healthy.every((w) => w.stored)).toBe(true);
      // With the replica stalled: ~10 MB of sessions, more than the loopback socket buffers hold,
      // so most of it is still in the master's memory when it is killed. Reported as stored, those
      // sessions would be lost in the failover; they must be reported as failed instead.
      set.replica.pause();
      let lagging: Awaited<ReturnType<typeof write>>[];
      try {
        lagging = await Promise.all(Array.from({ length: 150 }, (_, i) => write(i, `lag-${i}-${'x'.repeat(64 * 1024)}`)));
        // SIGKILL: no shutdown that would let the replica catch up first.
        await set.master.kill();
      } finally {
        set.replica.resume();
      }
      await waitUntil(async () => (await set.masterPort()) === set.replica.port, 30_000, 'Sentinel promoted the replica');
      // The same storage objects follow the new master by themselves.
      await waitUntil(async () => (await a.ping(), await b.ping(), true), 15_000, 'storage on the new master');
      const lost: string[] = [];
      for (const [i, w] of [...healthy, ...lagging].entries()) {
        if (!w.stored) continue;
        const got = await promiseGet(stores[(i + 1) % 2]!, w.id);
        if ((got?.tokens as { accessToken?: string } | undefined)?.accessToken !== w.accessToken) lost.push(w.accessToken.slice(0, 12));
      }
      expect(lost).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('with no replica left after the failover, writes go on (a replica-less master has nothing to fail over to) and say so once', async () => {
    const logger = createMemoryLogger();
    const s = await openRedisStorage({ connection, keyPrefix: prefix, replicaAckTimeoutMs: 300, logger });
    try {
      await s.set('alone-1', 'v');
      const started = Date.now();
      await s.set('alone-2', 'v');
      await s.increment('alone-3');
      // Not the WAIT timeout on every write: the master's replicas are checked again after a second.
      expect(Date.now() - started).toBeLessThan(250);
      expect(await s.get('alone-1')).toBe('v');
      expect(logger.lines.filter((l) => l.includes('no replica in sync'))).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});
