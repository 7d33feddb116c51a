/**
 * Issue 10: a Redis stall (SIGSTOP) holds back commands; on SIGCONT it runs them all. A request that
 * read its session before the stall and rewrites it (a touch, a save) must not bring back a session
 * that another instance's logout deleted in the same moment. Two stores on two connections (two
 * gateway instances) over a redis-server of this test's own.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/sessions/crypto.js';
import { StorageSessionStore } from '../../src/sessions/store.js';
import { openRedisStorage } from '../../src/storage/redis.js';
import type { Storage } from '../../src/storage/types.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { fakeJwt, promiseDestroy, promiseGet, promiseSet, promiseTouch, renewCookie, sessionData, sid } from './helpers.js';

describe('a session rewritten across a Redis stall while another instance ends it', () => {
  let server: RedisServerHandle;
  let storages: Storage[];
  let here: StorageSessionStore;
  let elsewhere: StorageSessionStore;
  const keyring = createKeyring([{ id: 'k1', secret: 'stall-test-session-key-0123456789' }]);

  beforeAll(async () => {
    server = await startRedisServer();
    // A command timeout longer than the stall: the commands wait for Redis instead of failing, so
    // both the rewrite and the delete land when it resumes, in the order Redis takes them.
    storages = await Promise.all([0, 1].map(() => openRedisStorage({ url: server.url, keyPrefix: 'stall:', commandTimeoutMs: 5_000 })));
    // touchAfterMs 0: every touch rewrites the stored copy.
    here = new StorageSessionStore({ storage: storages[0]!, keyring, touchAfterMs: 0, recentReadMs: 0 });
    elsewhere = new StorageSessionStore({ storage: storages[1]!, keyring, touchAfterMs: 0, recentReadMs: 0 });
  });
  afterAll(async () => {
    server.resume();
    await Promise.all(storages.map((s) => s.close()));
    await server.stop();
  });

  /**
   * Freezes Redis, starts `rewrite` (its read is queued first), then the other instance's destroy,
   * and thaws Redis: the rewrite's read is answered before the delete runs, its write after.
   */
  async function raceAcrossStall(rewrite: () => Promise<void>, id: string): Promise<void> {
    server.pause();
    let rewriting: Promise<void>;
    let destroying: Promise<void>;
    try {
      rewriting = rewrite();
      await sleep(50);
      destroying = promiseDestroy(elsewhere, id);
      await sleep(300);
    } finally {
      server.resume();
    }
    await Promise.all([rewriting, destroying]);
  }

  it('a touch does not bring back a session destroyed meanwhile', async () => {
    for (let round = 0; round < 3; round++) {
      const id = sid();
      await promiseSet(here, id, sessionData({ tenant: 'acme', tokens: { accessToken: fakeJwt('touch') } }));
      const loaded = (await promiseGet(here, id))!;
      await raceAcrossStall(() => promiseTouch(here, id, renewCookie({ ...loaded, cookie: sessionData({}, 120_000).cookie })), id);
      expect(await promiseGet(elsewhere, id), `round ${round}`).toBeNull();
    }
  });

  it('a save of a loaded session does not bring back a session destroyed meanwhile', async () => {
    for (let round = 0; round < 3; round++) {
      const id = sid();
      await promiseSet(here, id, sessionData({ tenant: 'acme', tokens: { accessToken: fakeJwt('save') } }));
      const loaded = (await promiseGet(here, id))!;
      await raceAcrossStall(() => promiseSet(here, id, { ...loaded, csrfToken: 'changed' }), id);
      expect(await promiseGet(elsewhere, id), `round ${round}`).toBeNull();
    }
  });

  it('a copy kept in memory is not served once Redis has been frozen for over a second: a logout meanwhile may be unheard of', async () => {
    const cache = new StorageSessionStore({ storage: storages[0]!, keyring });
    const id = sid();
    await promiseSet(elsewhere, id, sessionData({ tenant: 'acme', tokens: { accessToken: fakeJwt('cached') } }, null));
    const deadline = Date.now() + 5_000;
    while (!(storages[0]!.changesTracked() && performance.now() - storages[0]!.changesHeardUntil() < 300)) {
      if (Date.now() > deadline) throw new Error('the notices were never tracked');
      await sleep(20);
    }
    expect(await cache.loadReadOnly(id, 'the-cookie-signature')).toBeDefined();
    server.pause();
    try {
      // Frozen a moment ago: the last heartbeat answered is recent, the copy serves.
      expect(cache.peek(id, 'the-cookie-signature')?.tenant).toBe('acme');
      await sleep(1_300);
      // Connected still, but nothing has been heard for over a second.
      expect(storages[0]!.changesTracked()).toBe(true);
      expect(cache.peek(id, 'the-cookie-signature')).toBeUndefined();
    } finally {
      server.resume();
    }
  });
});
