import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { GatewayError } from '../../src/errors.js';
import { createKeyring } from '../../src/sessions/crypto.js';
import { LockTimeoutError, withLock } from '../../src/storage/lock.js';
import { StorageSessionStore } from '../../src/sessions/store.js';
import { openRedisStorage } from '../../src/storage/redis.js';
import type { Storage } from '../../src/storage/types.js';
import { request } from '../support/http.js';
import { startRedisServer } from '../support/redis-server.js';
import type { RedisServerHandle } from '../support/redis-server.js';
import {
  callbackError,
  fakeJwt,
  promiseGet,
  promiseSet,
  sessionCookie,
  sessionData,
  sid,
  startSessionApp,
} from './helpers.js';
import { describeLock } from '../storage/lock-suite.js';
import { describeSessionStore } from './store-suite.js';

const SHARED_URL = 'redis://127.0.0.1:6379';
// One prefix per run on the shared Redis; only these keys are read by the dump and removed after.
const prefix = `zonegate-test:sessions:${randomUUID()}:`;

async function withRawClient<T>(fn: (raw: Redis) => Promise<T>): Promise<T> {
  const raw = new Redis(SHARED_URL);
  try {
    return await fn(raw);
  } finally {
    raw.disconnect();
  }
}

afterAll(async () => {
  await withRawClient(async (raw) => {
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
  });
});

describeSessionStore('redis', {
  open: () => openRedisStorage({ url: SHARED_URL, keyPrefix: prefix }),
  // Every key of this run with its value or members, read past the storage layer.
  dump: () =>
    withRawClient(async (raw) => {
      const lines: string[] = [];
      for (const key of await raw.keys(`${prefix}*`)) {
        const type = await raw.type(key);
        if (type === 'string') lines.push(`${key} ${await raw.get(key)}`);
        if (type === 'set') lines.push(`${key} ${(await raw.smembers(key)).join(' ')}`);
      }
      return lines.join('\n');
    }),
});

describeLock('redis', () => openRedisStorage({ url: SHARED_URL, keyPrefix: prefix }));

describe('sessions while Redis is unreachable', () => {
  let server: RedisServerHandle;
  let storage: Storage;
  let store: StorageSessionStore;
  const keyring = createKeyring([{ id: 'k1', secret: 'outage-test-session-key-0123456789' }]);

  beforeAll(async () => {
    server = await startRedisServer();
    storage = await openRedisStorage({ url: server.url, keyPrefix: 'outage:', commandTimeoutMs: 500 });
    store = new StorageSessionStore({ storage, keyring, touchAfterMs: 0 });
  });
  afterAll(async () => {
    await storage.close();
    await server.stop();
  });

  async function waitForRedis(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await storage.ping().then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error('Redis did not come back');
      await sleep(50);
    }
  }

  it('every store call hands the ZG_ERR_STORAGE_UNAVAILABLE error to its callback, then recovers by itself', async () => {
    const id = sid();
    const tokens = { accessToken: fakeJwt('outage') };
    await promiseSet(store, id, sessionData({ tenant: 'acme', tokens }));
    const loaded = (await promiseGet(store, id))!;
    await server.stop();
    try {
      const errors = await Promise.all([
        callbackError((cb) => store.get(id, cb)),
        callbackError((cb) => store.set(sid(), sessionData({ tenant: 'acme', tokens }), cb)),
        callbackError((cb) => store.destroy(id, cb)),
        callbackError((cb) => store.touch(id, { ...loaded, cookie: sessionData({}, 120_000).cookie }, cb)),
      ]);
      for (const err of errors) {
        expect(err).toBeInstanceOf(GatewayError);
        expect(err).toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE', status: 503, expose: true });
      }
      await expect(store.sessionsOfTenant('acme')).rejects.toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
      let ran = false;
      await expect(withLock(storage, `refresh:${id}`, { ttlMs: 1_000, waitMs: 1_000 }, () => (ran = true))).rejects.toMatchObject({
        code: 'ZG_ERR_STORAGE_UNAVAILABLE',
      });
      expect(ran).toBe(false);
    } finally {
      await server.start();
    }
    // redis-server runs without persistence here: the session did not survive, but the same store
    // object works again without being reopened.
    await waitForRedis();
    expect(await promiseGet(store, id)).toBeNull();
    await promiseSet(store, id, sessionData({ tenant: 'acme', tokens }));
    expect((await promiseGet(store, id))?.tokens).toEqual(tokens);
    await expect(withLock(storage, `refresh:${id}`, { ttlMs: 1_000, waitMs: 0 }, () => 'once')).resolves.toBe('once');
  });

  it('over HTTP: a request with a session gets 503 while Redis is down; one without still works; then logins work again', async () => {
    const tokens = { accessToken: fakeJwt('http-outage') };
    const app = await startSessionApp(store, () => tokens);
    try {
      const login = await request(app.port, { path: '/login' });
      const cookie = sessionCookie(login.headers['set-cookie'] as string[] | undefined)!;
      expect((await request(app.port, { path: '/me', headers: { cookie } })).json()).toMatchObject({ tenant: 'acme' });

      await server.stop();
      try {
        const down = await request(app.port, { path: '/me', headers: { cookie } });
        expect(down.status).toBe(503);
        expect(down.json()).toEqual({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
        // No session cookie, nothing to load or save: public pages stay up.
        const pub = await request(app.port, { path: '/public' });
        expect(pub.status).toBe(200);
        expect(pub.text).toBe('public');
        expect((await request(app.port, { path: '/login' })).status).toBe(503);
      } finally {
        await server.start();
      }
      await waitForRedis();
      const again = await request(app.port, { path: '/login' });
      const fresh = sessionCookie(again.headers['set-cookie'] as string[] | undefined)!;
      expect((await request(app.port, { path: '/me', headers: { cookie: fresh } })).json()).toEqual({ tenant: 'acme', tokens });
    } finally {
      await app.close();
    }
  });

  it('a hung Redis (accepts, never answers) fails the lock within the command timeout instead of hanging', async () => {
    server.pause();
    const started = Date.now();
    try {
      const err = await withLock(storage, 'refresh:hung', { ttlMs: 1_000, waitMs: 5_000 }, () => 'ran').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
      expect(err).not.toBeInstanceOf(LockTimeoutError);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      server.resume();
    }
    await waitForRedis();
  });
});
