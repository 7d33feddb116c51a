import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../../src/storage/types.js';

/**
 * The storage contract, run against every backend (oauth2-proxy runs one session-store suite
 * against each store). `open` must return a NEW handle (its own connection) to the SAME store on
 * every call: the race tests spread concurrent callers over several handles, so the store itself,
 * not one client's command queue, has to serialise them.
 */
/**
 * `vouches`: whether the backend can say until when it has heard of every change
 * (changesHeardUntil); a Redis Cluster cannot.
 */
export function describeStorageContract(name: string, open: () => Promise<Storage>, options: { vouches?: boolean } = {}): void {
  const vouches = options.vouches ?? true;
  describe(`Storage contract: ${name}`, () => {
    const handles: Storage[] = [];
    let s: Storage;
    // Every run and every test gets its own keys, so parallel runs against one Redis never collide.
    const run = randomUUID();
    let n = 0;
    const key = (label: string) => `contract:${run}:${++n}:${label}`;

    beforeAll(async () => {
      for (let i = 0; i < 3; i++) handles.push(await open());
      s = handles[0]!;
    });
    afterAll(async () => {
      await Promise.all(handles.map((h) => h.close()));
    });

    /** `count` concurrent calls, spread round-robin over the open handles. */
    const race = <T>(count: number, fn: (h: Storage, i: number) => Promise<T>): Promise<T[]> =>
      Promise.all(Array.from({ length: count }, (_, i) => fn(handles[i % handles.length]!, i)));

    describe('get / set / delete', () => {
      it('round-trips a value, overwrites it, and reports absent keys as undefined', async () => {
        const k = key('rt');
        expect(await s.get(k)).toBeUndefined();
        await s.set(k, 'one');
        expect(await s.get(k)).toBe('one');
        await s.set(k, 'two');
        expect(await s.get(k)).toBe('two');
        // Another connection sees the write: the value lives in the store, not in the client.
        expect(await handles[1]!.get(k)).toBe('two');
      });

      it('keeps the empty string distinct from absence', async () => {
        const k = key('empty');
        await s.set(k, '');
        expect(await s.get(k)).toBe('');
        expect(await s.ttl(k)).toBe(Infinity);
      });

      it('stores unicode keys and values byte for byte', async () => {
        const k = key('ключ-🔑-鍵');
        const v = 'Grüße, 世界! 🧑‍💻 \u0000 nul, \u2028 line sep, "quotes" \\ backslash';
        await s.set(k, v);
        expect(await s.get(k)).toBe(v);
        expect(await s.get(key('ключ-🔑-鍵x'))).toBeUndefined();
      });

      it('stores large values (2 MiB of multi-byte text)', async () => {
        const k = key('large');
        const v = 'ä€😀'.repeat(2 * 1024 * 1024 / 9);
        await s.set(k, v);
        const got = await handles[2]!.get(k);
        expect(got?.length).toBe(v.length);
        expect(got === v).toBe(true);
      });

      it('delete reports whether the key existed', async () => {
        const k = key('del');
        await s.set(k, 'v');
        expect(await s.delete(k)).toBe(true);
        expect(await s.get(k)).toBeUndefined();
        expect(await s.delete(k)).toBe(false);
        expect(await s.delete(key('never'))).toBe(false);
      });
    });

    describe('expiry', () => {
      it('hides a value once its TTL has passed', async () => {
        const k = key('ttl');
        await s.set(k, 'short', { ttlMs: 200 });
        expect(await s.get(k)).toBe('short');
        await sleep(300);
        expect(await s.get(k)).toBeUndefined();
        expect(await s.ttl(k)).toBeUndefined();
        expect(await s.take(k)).toBeUndefined();
        expect(await s.delete(k)).toBe(false);
      });

      it('ttl() is undefined when absent, Infinity without TTL, and counts down otherwise', async () => {
        const k = key('ttlq');
        expect(await s.ttl(k)).toBeUndefined();
        await s.set(k, 'v');
        expect(await s.ttl(k)).toBe(Infinity);
        await s.set(k, 'v', { ttlMs: 10_000 });
        const left = await s.ttl(k);
        expect(left).toBeGreaterThan(9_000);
        expect(left).toBeLessThanOrEqual(10_000);
      });

      it('a plain set replaces the TTL of the value it overwrites', async () => {
        const k = key('persist');
        await s.set(k, 'v', { ttlMs: 150 });
        await s.set(k, 'w');
        await sleep(250);
        expect(await s.get(k)).toBe('w');
        expect(await s.ttl(k)).toBe(Infinity);
      });

      it('rejects TTLs that are not positive finite numbers, storing nothing', async () => {
        const k = key('badttl');
        for (const ttlMs of [0, -1, NaN, Infinity]) {
          await expect(s.set(k, 'v', { ttlMs })).rejects.toThrow(RangeError);
          await expect(s.setIfAbsent(k, 'v', { ttlMs })).rejects.toThrow(RangeError);
          await expect(s.increment(k, { ttlMs })).rejects.toThrow(RangeError);
        }
        expect(await s.get(k)).toBeUndefined();
      });
    });

    describe('setIfAbsent', () => {
      it('stores only when absent, and again once the previous claim expired', async () => {
        const k = key('nx');
        expect(await s.setIfAbsent(k, 'first', { ttlMs: 200 })).toBe(true);
        expect(await s.setIfAbsent(k, 'second')).toBe(false);
        expect(await s.get(k)).toBe('first');
        const left = await s.ttl(k);
        expect(left).toBeGreaterThan(0);
        expect(left).toBeLessThanOrEqual(200);
        await sleep(300);
        expect(await s.setIfAbsent(k, 'third')).toBe(true);
        expect(await s.get(k)).toBe('third');
        expect(await s.ttl(k)).toBe(Infinity);
      });

      it('of many concurrent callers on several connections exactly one wins', async () => {
        for (let round = 0; round < 5; round++) {
          const k = key(`nx-race-${round}`);
          const results = await race(60, (h, i) => h.setIfAbsent(k, `caller-${i}`, { ttlMs: 10_000 }));
          const winners = results.flatMap((won, i) => (won ? [i] : []));
          expect(winners).toHaveLength(1);
          expect(await s.get(k)).toBe(`caller-${winners[0]}`);
        }
      });
    });

    describe('setIfPresent', () => {
      it('stores only over a live value, with the new TTL', async () => {
        const k = key('xx');
        expect(await s.setIfPresent(k, 'nothing-there', { ttlMs: 10_000 })).toBe(false);
        expect(await s.get(k)).toBeUndefined();
        await s.set(k, 'first', { ttlMs: 150 });
        expect(await s.setIfPresent(k, 'second')).toBe(true);
        expect(await s.get(k)).toBe('second');
        expect(await s.ttl(k)).toBe(Infinity);
        expect(await s.setIfPresent(k, 'third', { ttlMs: 150 })).toBe(true);
        await sleep(250);
        // Expired counts as absent: not brought back.
        expect(await s.setIfPresent(k, 'fourth', { ttlMs: 10_000 })).toBe(false);
        expect(await s.get(k)).toBeUndefined();
      });

      it('does not bring back a value deleted on another connection', async () => {
        const k = key('xx-deleted');
        await s.set(k, 'v', { ttlMs: 10_000 });
        const other = handles[1]!;
        expect(await other.delete(k)).toBe(true);
        expect(await s.setIfPresent(k, 'w', { ttlMs: 10_000 })).toBe(false);
        expect(await other.get(k)).toBeUndefined();
      });
    });

    describe('setIfEquals', () => {
      it('stores only over exactly the expected live value, with the new TTL', async () => {
        const k = key('cas');
        expect(await s.setIfEquals(k, 'v1', 'v2', { ttlMs: 10_000 })).toBe(false);
        expect(await s.get(k)).toBeUndefined();
        await s.set(k, 'v1', { ttlMs: 10_000 });
        for (const wrong of ['v', 'v1 ', 'V1', '']) expect(await s.setIfEquals(k, wrong, 'no')).toBe(false);
        expect(await s.get(k)).toBe('v1');
        expect(await s.setIfEquals(k, 'v1', 'v2')).toBe(true);
        expect(await s.get(k)).toBe('v2');
        expect(await s.ttl(k)).toBe(Infinity);
        expect(await s.setIfEquals(k, 'v2', 'v3', { ttlMs: 150 })).toBe(true);
        await sleep(250);
        // Expired counts as absent: not brought back, even with the value it had.
        expect(await s.setIfEquals(k, 'v3', 'v4', { ttlMs: 10_000 })).toBe(false);
        expect(await s.get(k)).toBeUndefined();
      });

      it('does not undo a write made on another connection since the value was read', async () => {
        const k = key('cas-lost-update');
        await s.set(k, 'read', { ttlMs: 10_000 });
        const read = await s.get(k);
        await handles[1]!.set(k, 'written meanwhile', { ttlMs: 10_000 });
        expect(await s.setIfEquals(k, read!, 'stale rewrite', { ttlMs: 10_000 })).toBe(false);
        expect(await handles[2]!.get(k)).toBe('written meanwhile');
        await handles[1]!.delete(k);
        expect(await s.setIfEquals(k, 'written meanwhile', 'revived', { ttlMs: 10_000 })).toBe(false);
        expect(await s.get(k)).toBeUndefined();
      });

      it('of many concurrent callers on several connections expecting the same value exactly one stores', async () => {
        for (let round = 0; round < 5; round++) {
          const k = key(`cas-race-${round}`);
          await s.set(k, 'start', { ttlMs: 10_000 });
          const results = await race(60, (h, i) => h.setIfEquals(k, 'start', `by-${i}`, { ttlMs: 10_000 }));
          const winners = results.flatMap((stored, i) => (stored ? [i] : []));
          expect(winners).toHaveLength(1);
          expect(await s.get(k)).toBe(`by-${winners[0]}`);
        }
      });
    });

    describe('take', () => {
      it('returns the value once and removes it', async () => {
        const k = key('take');
        await s.set(k, 'code', { ttlMs: 10_000 });
        expect(await s.take(k)).toBe('code');
        expect(await s.take(k)).toBeUndefined();
        expect(await s.get(k)).toBeUndefined();
        expect(await s.take(key('never'))).toBeUndefined();
      });

      it('a single-use value replayed by many concurrent callers is handed out exactly once', async () => {
        for (let round = 0; round < 5; round++) {
          const k = key(`take-race-${round}`);
          await s.set(k, `secret-${round}`);
          const results = await race(60, (h) => h.take(k));
          const got = results.filter((r) => r !== undefined);
          expect(got).toEqual([`secret-${round}`]);
        }
      });
    });

    describe('deleteIfEquals', () => {
      it('deletes only a value that matches exactly', async () => {
        const k = key('cad');
        expect(await s.deleteIfEquals(k, 'owner-a')).toBe(false);
        await s.set(k, 'owner-a', { ttlMs: 10_000 });
        expect(await s.deleteIfEquals(k, 'owner-b')).toBe(false);
        expect(await s.deleteIfEquals(k, 'owner-')).toBe(false);
        expect(await s.deleteIfEquals(k, 'owner-a ')).toBe(false);
        expect(await s.get(k)).toBe('owner-a');
        expect(await handles[1]!.deleteIfEquals(k, 'owner-a')).toBe(true);
        expect(await s.get(k)).toBeUndefined();
        expect(await s.deleteIfEquals(k, 'owner-a')).toBe(false);
      });

      it('treats an expired value as absent and leaves an index of the same name alone', async () => {
        const k = key('cad-exp');
        await s.set(k, 'v', { ttlMs: 100 });
        await s.addToIndex(k, 'v');
        await sleep(200);
        expect(await s.deleteIfEquals(k, 'v')).toBe(false);
        expect(await s.setIfAbsent(k, 'w')).toBe(true);
        expect(await s.listIndex(k)).toEqual(['v']);
      });

      it('of many concurrent callers on several connections exactly one deletes', async () => {
        for (let round = 0; round < 5; round++) {
          const k = key(`cad-race-${round}`);
          await s.set(k, 'token', { ttlMs: 10_000 });
          const results = await race(60, (h) => h.deleteIfEquals(k, 'token'));
          expect(results.filter(Boolean)).toHaveLength(1);
        }
      });
    });

    describe('increment', () => {
      it('starts at 1 and counts up', async () => {
        const k = key('ctr');
        expect(await s.increment(k)).toBe(1);
        expect(await s.increment(k)).toBe(2);
        expect(await handles[1]!.increment(k)).toBe(3);
        expect(await s.get(k)).toBe('3');
        expect(await s.ttl(k)).toBe(Infinity);
      });

      it('loses no update under concurrency: every caller gets a distinct number', async () => {
        const k = key('ctr-race');
        const results = await race(150, (h) => h.increment(k, { ttlMs: 10_000 }));
        expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
        expect(await s.get(k)).toBe('150');
      });

      it('sets the TTL when it creates the key, and does not extend it later', async () => {
        const k = key('ctr-ttl');
        expect(await s.increment(k, { ttlMs: 400 })).toBe(1);
        await sleep(150);
        expect(await s.increment(k, { ttlMs: 400 })).toBe(2);
        const left = await s.ttl(k);
        expect(left).toBeGreaterThan(0);
        // Not reset to 400 by the second call.
        expect(left).toBeLessThanOrEqual(260);
        await sleep(left! + 50);
        expect(await s.get(k)).toBeUndefined();
        // A rate-limit window that has run out starts over.
        expect(await s.increment(k, { ttlMs: 400 })).toBe(1);
      });

      it('racing creators agree on one window: the TTL is set once, atomically with the create', async () => {
        const k = key('ctr-ttl-race');
        await race(30, (h) => h.increment(k, { ttlMs: 200 }));
        const left = await s.ttl(k);
        expect(left).toBeGreaterThan(0);
        expect(left).toBeLessThanOrEqual(200);
        await sleep(300);
        expect(await s.get(k)).toBeUndefined();
      });

      it('keeps a TTL that a set gave the key', async () => {
        const k = key('ctr-set');
        await s.set(k, '41', { ttlMs: 5_000 });
        expect(await s.increment(k)).toBe(42);
        expect(await s.ttl(k)).toBeLessThanOrEqual(5_000);
      });

      it('rejects a value that is not an integer and leaves it unchanged', async () => {
        const k = key('ctr-nan');
        await s.set(k, 'not a number');
        const err: unknown = await s.increment(k).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        // A caller's bug must not be disguised as an outage (a 503 that invites retries).
        expect((err as { code?: unknown }).code).not.toBe('ZG_ERR_STORAGE_UNAVAILABLE');
        expect(await s.get(k)).toBe('not a number');
      });
    });

    describe('decrement', () => {
      it('counts down, keeps the TTL, and deletes the counter at zero', async () => {
        const k = key('dec');
        expect(await s.increment(k, { ttlMs: 5_000 })).toBe(1);
        expect(await s.increment(k)).toBe(2);
        expect(await handles[1]!.decrement(k)).toBe(1);
        expect(await s.get(k)).toBe('1');
        const left = await s.ttl(k);
        expect(left).toBeGreaterThan(0);
        expect(left).toBeLessThanOrEqual(5_000);
        expect(await s.decrement(k)).toBe(0);
        expect(await s.get(k)).toBeUndefined();
      });

      it('never creates a key or goes below zero, also for an expired counter', async () => {
        const k = key('dec-absent');
        expect(await s.decrement(k)).toBe(0);
        expect(await s.get(k)).toBeUndefined();
        await s.increment(k, { ttlMs: 100 });
        await sleep(200);
        expect(await s.decrement(k)).toBe(0);
        expect(await s.get(k)).toBeUndefined();
        // A released counter starts a fresh window.
        expect(await s.increment(k, { ttlMs: 10_000 })).toBe(1);
      });

      it('loses no update racing increments on several connections', async () => {
        const k = key('dec-race');
        await s.set(k, '100', { ttlMs: 10_000 });
        await race(120, (h, i) => (i % 2 === 0 ? h.decrement(k) : h.increment(k)));
        expect(await s.get(k)).toBe('100');
      });

      it('rejects a value that is not an integer and leaves it unchanged', async () => {
        const k = key('dec-nan');
        await s.set(k, 'not a number');
        const err: unknown = await s.decrement(k).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        expect((err as { code?: unknown }).code).not.toBe('ZG_ERR_STORAGE_UNAVAILABLE');
        expect(await s.get(k)).toBe('not a number');
      });
    });

    describe('indexes', () => {
      it('adds, de-duplicates, lists, removes and deletes members', async () => {
        const ix = key('idx');
        expect(await s.listIndex(ix)).toEqual([]);
        await s.addToIndex(ix, 'b');
        await s.addToIndex(ix, 'a');
        await s.addToIndex(ix, 'a');
        await handles[1]!.addToIndex(ix, 'ü-🔑');
        expect((await s.listIndex(ix)).sort()).toEqual(['a', 'b', 'ü-🔑']);
        await s.removeFromIndex(ix, 'b');
        await s.removeFromIndex(ix, 'not-a-member');
        expect((await s.listIndex(ix)).sort()).toEqual(['a', 'ü-🔑']);
        await s.deleteIndex(ix);
        expect(await s.listIndex(ix)).toEqual([]);
        await s.deleteIndex(ix);
      });

      it('keeps indexes apart from each other and from plain keys of the same name', async () => {
        const ix = key('shared-name');
        const other = key('other');
        await s.set(ix, 'plain value');
        await s.addToIndex(ix, 'member');
        await s.addToIndex(other, 'x');
        expect(await s.get(ix)).toBe('plain value');
        expect(await s.listIndex(ix)).toEqual(['member']);
        await s.delete(ix);
        expect(await s.listIndex(ix)).toEqual(['member']);
        await s.deleteIndex(ix);
        expect(await s.listIndex(other)).toEqual(['x']);
      });

      it('loses no member when many callers add at once', async () => {
        const ix = key('idx-race');
        await race(90, (h, i) => h.addToIndex(ix, `m${i}`));
        expect(await s.listIndex(ix)).toHaveLength(90);
      });
    });

    describe('change notices', () => {
      /** A fresh handle with a listener that records what it hears, once its notices are tracked. */
      const listening = async () => {
        const h = await open();
        const heard: (string | undefined)[] = [];
        h.onForeignChange((k) => heard.push(k));
        await until(() => h.changesTracked());
        heard.length = 0;
        return { h, heard };
      };
      const until = async (check: () => boolean) => {
        const deadline = Date.now() + 5000;
        while (!check()) {
          if (Date.now() > deadline) throw new Error('not true within 5 s');
          await sleep(10);
        }
      };

      it('tell the writing handle at once and every other handle soon of a changed key, by name', async () => {
        const a = await listening();
        const b = await listening();
        try {
          const k = key('notice');
          await a.h.set(k, 'v2');
          await a.h.announce(k);
          // Another cache on the same handle (another part of this process) must not wait for a round trip.
          expect(a.heard).toEqual([k]);
          // By name, not as forget-everything (Redis publishes it; SQLite logs it in the file).
          await until(() => b.h.changesTracked() && b.heard.length > 0);
          expect(b.heard).toEqual([k]);
          expect(a.h.changesTracked()).toBe(true);
          // ...and only once: not again when the notice comes back from the server.
          await sleep(50);
          expect(a.heard).toEqual([k]);
        } finally {
          await Promise.all([a.h.close(), b.h.close()]);
        }
      });

      it('announce a write with the write itself when asked: setIfPresent, setIfEquals, take and delete', async () => {
        const a = await listening();
        const b = await listening();
        try {
          const heardOf = async (k: string) => {
            expect(a.heard).toEqual([k]);
            await until(() => b.h.changesTracked() && b.heard.length > 0);
            expect(b.heard).toEqual([k]);
            a.heard.length = 0;
            b.heard.length = 0;
          };
          const k = key('announced');
          await a.h.set(k, 'v1');
          expect(await a.h.setIfPresent(k, 'v2', { ttlMs: 60_000, announce: true })).toBe(true);
          await heardOf(k);
          expect(await a.h.setIfEquals(k, 'v2', 'v2b', { ttlMs: 60_000, announce: true })).toBe(true);
          await heardOf(k);
          expect(await a.h.setIfEquals(k, 'v2b', 'v2', { ttlMs: 60_000 })).toBe(true);
          expect(await a.h.take(k, { announce: true })).toBe('v2');
          await heardOf(k);
          await a.h.set(k, 'v3');
          expect(await a.h.delete(k, { announce: true })).toBe(true);
          await heardOf(k);
          // Without the option nothing is announced.
          await a.h.set(k, 'v4');
          await a.h.setIfPresent(k, 'v5');
          await a.h.delete(k);
          await sleep(100);
          expect(a.heard).toEqual([]);
          // ...and nothing reaches the other handle either: writes nobody announced (logins, codes,
          // counters) must not make other processes forget what they keep.
          expect(b.h.changesTracked()).toBe(true);
          expect(b.heard).toEqual([]);
        } finally {
          await Promise.all([a.h.close(), b.h.close()]);
        }
      });

      it(vouches ? 'say until when every change has been heard of: moments ago while tracked, never once closed' : 'cannot say until when every change has been heard of (-Infinity)', async () => {
        const a = await listening();
        const since = performance.now();
        if (vouches) {
          await until(() => a.h.changesTracked() && a.h.changesHeardUntil() >= since);
          // It keeps moving: later, it is recent again (a loaded machine may answer a beat late).
          await sleep(600);
          const later = performance.now() - 300;
          await until(() => a.h.changesTracked() && a.h.changesHeardUntil() >= later);
        } else {
          await sleep(600);
          expect(a.h.changesHeardUntil()).toBe(-Infinity);
        }
        await a.h.close();
        expect(a.h.changesHeardUntil()).toBe(-Infinity);
      });

      it('a closed handle tracks nothing, and announcing on it does not throw', async () => {
        const a = await listening();
        await a.h.close();
        expect(a.h.changesTracked()).toBe(false);
        await expect(a.h.announce(key('closed-notice'))).resolves.toBeUndefined();
      });
    });

    describe('lifecycle', () => {
      it('ping resolves while the store is reachable', async () => {
        await expect(s.ping()).resolves.toBeUndefined();
      });

      it('a closed handle rejects with ZG_ERR_STORAGE_UNAVAILABLE and others keep working', async () => {
        const h = await open();
        const k = key('closed');
        await h.set(k, 'v');
        await h.close();
        await h.close();
        await expect(h.get(k)).rejects.toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE', status: 503 });
        await expect(h.ping()).rejects.toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
        expect(await s.get(k)).toBe('v');
      });
    });
  });
}
