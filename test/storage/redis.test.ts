import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { openRedisStorage, reconnectDelayMs } from '../../src/storage/redis.js';
import { openStorage } from '../../src/storage/index.js';
import type { Storage } from '../../src/storage/types.js';
import { createMemoryLogger } from '../../src/log.js';
import { startRedisServer } from '../support/redis-server.js';
import type { RedisServerHandle } from '../support/redis-server.js';
import { describeStorageContract } from './contract.js';

const SHARED_URL = 'redis://127.0.0.1:6379';
// One prefix per run: parallel runs against the shared Redis never see each other's keys.
const prefix = `zonegate-test:storage:${randomUUID()}:`;

afterAll(async () => {
  // Remove only what this run wrote (never FLUSHDB on the shared Redis).
  const raw = new Redis(SHARED_URL);
  try {
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
  } finally {
    raw.disconnect();
  }
});

describeStorageContract('redis', () => openRedisStorage({ url: SHARED_URL, keyPrefix: prefix }));

/** Resolves with how long `p` took to settle, and its rejection. */
async function timedRejection(p: Promise<unknown>): Promise<{ ms: number; err: unknown }> {
  const started = Date.now();
  const err = await p.then(
    () => new Error('expected a rejection, got a value'),
    (e: unknown) => e,
  );
  return { ms: Date.now() - started, err };
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await sleep(50);
  }
}

describe('Redis storage against a Redis that goes away', () => {
  let server: RedisServerHandle;
  const open: Storage[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('fails fast with ZG_ERR_STORAGE_UNAVAILABLE while down and recovers by itself', async () => {
    const logger = createMemoryLogger();
    const s = await openRedisStorage({ url: server.url, keyPrefix: 'outage:', logger });
    open.push(s);
    await s.set('k', 'v');
    await server.stop();

    const calls: Array<[string, () => Promise<unknown>]> = [
      ['get', () => s.get('k')],
      ['set', () => s.set('k', 'v', { ttlMs: 1000 })],
      ['setIfAbsent', () => s.setIfAbsent('k2', 'v')],
      ['take', () => s.take('k')],
      ['delete', () => s.delete('k')],
      ['deleteIfEquals', () => s.deleteIfEquals('k', 'v')],
      ['increment', () => s.increment('n', { ttlMs: 1000 })],
      ['ttl', () => s.ttl('k')],
      ['addToIndex', () => s.addToIndex('i', 'm')],
      ['removeFromIndex', () => s.removeFromIndex('i', 'm')],
      ['listIndex', () => s.listIndex('i')],
      ['deleteIndex', () => s.deleteIndex('i')],
      ['ping', () => s.ping()],
    ];
    // Many requests at once while down: none may queue up and hang.
    const outcomes = await Promise.all(calls.map(async ([name, fn]) => ({ name, ...(await timedRejection(fn())) })));
    for (const { name, ms, err } of outcomes) {
      expect(err, name).toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE', status: 503 });
      expect(ms, name).toBeLessThan(1000);
    }
    expect(logger.lines.some((l) => l.includes('Redis storage'))).toBe(true);

    await server.start();
    // Same storage object, no reopen: ioredis reconnects in the background.
    await waitUntil(async () => (await s.ping(), true), 5000);
    await s.set('k', 'back');
    expect(await s.get('k')).toBe('back');
    expect(await s.increment('n')).toBe(1);
  });

  it('stops tracking changes while down (caches must not serve) and tracks them again once back', async () => {
    const writer = await openRedisStorage({ url: server.url, keyPrefix: 'notices:' });
    const cache = await openRedisStorage({ url: server.url, keyPrefix: 'notices:' });
    open.push(writer, cache);
    const heard: (string | undefined)[] = [];
    // Resolves on the next "forget everything" after which changes are tracked (or not) as wanted:
    // the test waits for the event itself, however long the machine takes, not for a fixed time.
    let onReset: (() => void) | undefined;
    cache.onForeignChange((k) => {
      heard.push(k);
      if (k === undefined) onReset?.();
    });
    const tracking = (wanted: boolean) =>
      new Promise<void>((resolve) => {
        if (cache.changesTracked() === wanted) return resolve();
        onReset = () => {
          if (cache.changesTracked() === wanted) resolve();
        };
      });
    await tracking(true);

    await server.stop();
    await tracking(false);
    // Notices sent meanwhile are lost: the cache was told to forget everything.
    expect(heard).toContain(undefined);
    await expect(writer.announce('sess:lost')).resolves.toBeUndefined();

    await server.start();
    await tracking(true);
    heard.length = 0;
    // The writer reconnects on its own schedule: a notice it publishes before it is back is dropped
    // (its write would have failed too), so announce until one is heard. The bound is generous; the
    // reconnection itself is at most a second apart (see the next test).
    await waitUntil(async () => {
      await writer.announce('sess:after');
      return heard.includes('sess:after');
    }, 15_000);
    expect(heard).not.toContain('sess:lost');
  });

  it('a write Redis runs after its caller gave up is still heard of: the notice goes in one MULTI with it', async () => {
    // The writer gives up after 200 ms; Redis, frozen for longer, runs the command when it resumes.
    const writer = await openRedisStorage({ url: server.url, keyPrefix: 'late:', commandTimeoutMs: 200 });
    const cache = await openRedisStorage({ url: server.url, keyPrefix: 'late:' });
    open.push(writer, cache);
    const heard: (string | undefined)[] = [];
    cache.onForeignChange((k) => heard.push(k));
    await waitUntil(async () => cache.changesTracked(), 5000);
    const writes: [(k: string) => Promise<unknown>, string | undefined][] = [
      [(k) => writer.take(k, { announce: true }), undefined],
      [(k) => writer.delete(k, { announce: true }), undefined],
      [(k) => writer.setIfPresent(k, 'later', { announce: true }), 'later'],
    ];
    for (const [write, after] of writes) {
      const k = `sess:${randomUUID()}`;
      await writer.set(k, 'v');
      heard.length = 0;
      server.pause();
      let failure: unknown;
      try {
        failure = (await timedRejection(write(k))).err;
      } finally {
        server.resume();
      }
      expect(failure).toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
      // The caller was told it failed; Redis ran it all the same, and the other handle heard of it.
      await waitUntil(async () => heard.includes(k), 5000);
      expect(await cache.get(k)).toBe(after);
    }
  });

  it('stops vouching for its notices while Redis is frozen (no heartbeat answered) and vouches again once it resumes', async () => {
    const cache = await openRedisStorage({ url: server.url, keyPrefix: 'heartbeat:' });
    open.push(cache);
    cache.onForeignChange(() => undefined);
    await waitUntil(async () => cache.changesTracked() && performance.now() - cache.changesHeardUntil() < 500, 5000);
    server.pause();
    try {
      await sleep(1_200);
      // Still connected (a stall is not a disconnection), but nothing heard for over a second.
      expect(cache.changesTracked()).toBe(true);
      expect(performance.now() - cache.changesHeardUntil()).toBeGreaterThan(1_000);
    } finally {
      server.resume();
    }
    const resumed = performance.now();
    await waitUntil(async () => cache.changesHeardUntil() >= resumed, 5000);
  });

  it('hears of data replaced without notices (FLUSHALL): caches are told to forget everything', async () => {
    const logger = createMemoryLogger();
    const cache = await openRedisStorage({ url: server.url, keyPrefix: 'epoch:', logger });
    open.push(cache);
    const heard: (string | undefined)[] = [];
    cache.onForeignChange((k) => heard.push(k));
    await waitUntil(async () => cache.changesTracked() && performance.now() - cache.changesHeardUntil() < 500, 5000);
    heard.length = 0;
    await sleep(500);
    // Heartbeats alone are no change.
    expect(heard).toEqual([]);
    const admin = new Redis(server.url);
    try {
      const flushed = performance.now();
      await admin.flushall();
      await waitUntil(async () => heard.includes(undefined), 5000);
      // Vouched for again only by a beat that began after the flush, and so saw it.
      expect(cache.changesHeardUntil()).toBeGreaterThanOrEqual(flushed);
      expect(logger.lines.filter((l) => l.includes('Redis data was replaced'))).toHaveLength(1);
    } finally {
      admin.disconnect();
    }
  });

  it('reconnects at least once a second however long Redis was down, so recovery follows its return', () => {
    const delays = Array.from({ length: 50 }, (_, i) => reconnectDelayMs(i + 1));
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1000);
    // Still backing off at first: a Redis that is down is not hammered.
    expect(delays.slice(0, 5)).toEqual([...delays.slice(0, 5)].sort((a, b) => a - b));
  });

  it('a Redis that refuses SUBSCRIBE (ACL) leaves change notices off, says so once, and keeps serving', async () => {
    const admin = new Redis(server.url);
    try {
      await admin.call('ACL', 'SETUSER', 'nopubsub', 'on', '>nopubsub-password', '~*', '&*', '+@all', '-@pubsub');
      const logger = createMemoryLogger();
      const url = new URL(server.url);
      url.username = 'nopubsub';
      url.password = 'nopubsub-password';
      const s = await openRedisStorage({ url: url.href, keyPrefix: 'acl:', logger });
      open.push(s);
      s.onForeignChange(() => undefined);
      await waitUntil(async () => logger.lines.some((l) => l.includes('Redis refused SUBSCRIBE')), 5000);
      await sleep(300);
      expect(s.changesTracked()).toBe(false);
      expect(logger.lines.filter((l) => l.includes('Redis refused SUBSCRIBE'))).toHaveLength(1);
      // No reconnect loop: the notices' connection is gone for good.
      expect(String(await admin.call('CLIENT', 'LIST'))).not.toContain('name=acl:changes');
      await s.set('k', 'v');
      expect(await s.get('k')).toBe('v');
    } finally {
      await admin.call('ACL', 'DELUSER', 'nopubsub').catch(() => undefined);
      admin.disconnect();
    }
  });

  it('does not hang on a Redis that accepts connections but never answers', async () => {
    const s = await openRedisStorage({ url: server.url, keyPrefix: 'hung:', commandTimeoutMs: 300 });
    open.push(s);
    server.pause();
    try {
      const { ms, err } = await timedRejection(s.get('k'));
      expect(err).toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(1000);
    } finally {
      server.resume();
    }
    await waitUntil(async () => (await s.ping(), true), 5000);
    await s.set('k', 'v');
    expect(await s.get('k')).toBe('v');
  });

  it('rejects opening within the connect timeout when Redis is down', async () => {
    await server.stop();
    const { ms, err } = await timedRejection(openRedisStorage({ url: server.url, keyPrefix: 'x:', connectTimeoutMs: 500 }));
    expect(err).toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
    expect(ms).toBeLessThan(1500);
  });

  it('writes every key under its prefix, keys and indexes apart', async () => {
    const s = await openStorage({ kind: 'redis', url: server.url, keyPrefix: 'tenant-a:' });
    open.push(s);
    expect(s.kind).toBe('redis');
    await s.set('sess:1', 'v');
    await s.increment('rate:1', { ttlMs: 10_000 });
    await s.setIfAbsent('lock:1', 'v');
    await s.addToIndex('sessions', 'sess:1');
    const raw = new Redis(server.url);
    try {
      expect((await raw.keys('*')).sort()).toEqual([
        'tenant-a:i:sessions',
        'tenant-a:k:lock:1',
        'tenant-a:k:rate:1',
        'tenant-a:k:sess:1',
      ]);
      // Another prefix sees none of it.
      const other = await openRedisStorage({ url: server.url, keyPrefix: 'tenant-b:' });
      open.push(other);
      expect(await other.get('sess:1')).toBeUndefined();
      expect(await other.listIndex('sessions')).toEqual([]);
    } finally {
      raw.disconnect();
    }
  });

  it('uses the default key prefix zonegate: through openStorage', async () => {
    const s = await openStorage({ kind: 'redis', url: server.url });
    open.push(s);
    await s.set('k', 'v');
    const raw = new Redis(server.url);
    try {
      expect(await raw.get('zonegate:k:k')).toBe('v');
    } finally {
      raw.disconnect();
    }
  });
});

describe('Redis storage start-up checks', () => {
  it('rejects opening within twice the connect timeout when no sentinel or cluster node answers, instead of retrying forever', async () => {
    // Port 1 on loopback: nothing listens, every attempt is refused at once and retried.
    const nowhere = [{ host: '127.0.0.1', port: 1 }];
    for (const connection of [
      { mode: 'sentinel' as const, nodes: nowhere, sentinelMaster: 'm' },
      { mode: 'cluster' as const, nodes: nowhere },
    ]) {
      const { ms, err } = await timedRejection(openRedisStorage({ connection, keyPrefix: 'x:', connectTimeoutMs: 300 }));
      expect(err, connection.mode).toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
      expect(ms, connection.mode).toBeLessThan(1500);
    }
  });

  it('refuses a Redis without GETDEL (older than 6.2) with a clear message', async () => {
    const server = await startRedisServer(['--rename-command', 'GETDEL', '']);
    try {
      await expect(openRedisStorage({ url: server.url, keyPrefix: 'old:' })).rejects.toThrow(/Redis 6\.2 or newer/);
    } finally {
      await server.stop();
    }
  });

  it('authenticates with the password in the URL, and a wrong one is a storage outage, not a crash', async () => {
    const server = await startRedisServer(['--requirepass', 's3cr:t/@']);
    try {
      const url = `redis://:${encodeURIComponent('s3cr:t/@')}@127.0.0.1:${server.port}`;
      const s = await openRedisStorage({ url, keyPrefix: 'auth:' });
      await s.set('k', 'v');
      expect(await s.get('k')).toBe('v');
      await s.close();
      await expect(
        openRedisStorage({ url: `redis://:wrong@127.0.0.1:${server.port}`, keyPrefix: 'auth:', connectTimeoutMs: 500 }),
      ).rejects.toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
    } finally {
      await server.stop();
    }
  });
});
