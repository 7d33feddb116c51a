/**
 * The storage contract, the session store suite and the lock suite against a real Redis Cluster of
 * 3 masters, started here on free ports (test/support/redis-server.ts) and stopped afterwards.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/environment.js';
import { openStorage } from '../../src/storage/index.js';
import { openRedisStorage, type RedisConnection } from '../../src/storage/redis.js';
import { describeLock } from './lock-suite.js';
import { describeSessionStore } from '../sessions/store-suite.js';
import { dumpKeys, redisCli, startRedisCluster, waitUntil } from '../support/redis-server.js';
import type { RedisClusterHandle } from '../support/redis-server.js';
import { describeStorageContract } from './contract.js';

const prefix = `zonegate-test:cluster:${randomUUID()}:`;

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

  describeStorageContract('redis cluster', open, { vouches: false });
  describeSessionStore('redis cluster', { open, dump: () => dumpKeys(cluster.masters.map((m) => m.port), prefix) });
  describeLock('redis cluster', open);

  it('connects from REDIS_CLUSTER=true and REDIS_CLUSTER_NODES', async () => {
    const settings = readSettings(
      { ZONEGATE_SECRET_KEY: 'a'.repeat(64), REDIS_CLUSTER: 'true', REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') },
      { cwd: os.tmpdir() },
    );
    expect(settings.storage).toMatchObject({ kind: 'redis', connection: { mode: 'cluster' } });
    if (settings.storage.kind !== 'redis') throw new Error('expected Redis storage');
    const s = await openStorage({ ...settings.storage, keyPrefix: prefix });
    try {
      await s.set('via-env', 'v');
      expect(await s.get('via-env')).toBe('v');
    } finally {
      await s.close();
    }
  });

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
