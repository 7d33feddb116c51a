import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockTimeoutError, withLock } from '../../src/storage/lock.js';
import type { Storage } from '../../src/storage/types.js';

/** withLock against one backend; `open` returns a new handle (connection) to the same store, as another instance would have. */
export function describeLock(name: string, open: () => Promise<Storage>): void {
  describe(`withLock on ${name}`, () => {
    const handles: Storage[] = [];
    let s: Storage;
    const run = randomUUID();
    let n = 0;
    const key = (label: string) => `lock-test:${run}:${++n}:${label}`;

    beforeAll(async () => {
      for (let i = 0; i < 3; i++) handles.push(await open());
      s = handles[0]!;
    });
    afterAll(async () => {
      await Promise.all(handles.map((h) => h.close()));
    });

    it('20 concurrent callers on three connections run fn one at a time, and none is lost', async () => {
      const k = key('mutex');
      const counter = key('counter');
      let active = 0;
      let maxActive = 0;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          withLock(handles[i % 3]!, k, { ttlMs: 5_000, waitMs: 20_000 }, async () => {
            active++;
            maxActive = Math.max(maxActive, active);
            // A read-modify-write that loses updates unless the callers are serialised.
            const value = Number((await handles[i % 3]!.get(counter)) ?? '0');
            await sleep(5);
            await handles[i % 3]!.set(counter, String(value + 1));
            active--;
            return i;
          }),
        ),
      );
      expect(maxActive).toBe(1);
      expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(await s.get(counter)).toBe('20');
      expect(await s.get(`lock:${k}`)).toBeUndefined();
    });

    it('releases after fn throws, passing the error on', async () => {
      const k = key('throws');
      const boom = new Error('refresh failed');
      await expect(withLock(s, k, { ttlMs: 10_000, waitMs: 0 }, () => Promise.reject(boom))).rejects.toBe(boom);
      await expect(withLock(s, k, { ttlMs: 10_000, waitMs: 0 }, () => 'free again')).resolves.toBe('free again');
    });

    it('a waiter gives up after waitMs with a clear error, and fn is not run', async () => {
      const k = key('busy');
      let release!: () => void;
      const holder = withLock(s, k, { ttlMs: 10_000, waitMs: 0 }, () => new Promise<void>((r) => (release = r)));
      await sleep(20);
      let ran = false;
      const started = Date.now();
      const err = await withLock(handles[1]!, k, { ttlMs: 10_000, waitMs: 300 }, () => (ran = true)).catch((e: unknown) => e);
      const waited = Date.now() - started;
      expect(err).toBeInstanceOf(LockTimeoutError);
      expect((err as LockTimeoutError).message).toMatch(/is held by another request; gave up after waiting 300 ms/);
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(waited).toBeLessThan(1_000);
      expect(ran).toBe(false);
      release();
      await holder;
    });

    it('a crashed owner (never releases) frees the lock when its TTL ends', async () => {
      const k = key('crash');
      // The owner's fn never settles: as if its instance died holding the lock.
      void withLock(handles[2]!, k, { ttlMs: 300, waitMs: 0 }, () => new Promise<never>(() => undefined));
      await sleep(20);
      const started = Date.now();
      const got = await withLock(s, k, { ttlMs: 5_000, waitMs: 3_000 }, () => Date.now() - started);
      expect(got).toBeGreaterThanOrEqual(200);
      expect(got).toBeLessThan(1_500);
    });

    it('an owner whose lock expired cannot release the next owner\'s lock', async () => {
      const k = key('expired-owner');
      const events: string[] = [];
      // A holds for 400 ms with a 200 ms TTL: its lock runs out while it works.
      const a = withLock(s, k, { ttlMs: 200, waitMs: 0 }, async () => {
        events.push('A start');
        await sleep(400);
        events.push('A end');
      });
      await sleep(20);
      // B takes over once A's lock expires and holds for 600 ms.
      const b = withLock(handles[1]!, k, { ttlMs: 5_000, waitMs: 2_000 }, async () => {
        events.push('B start');
        await sleep(600);
        events.push('B end');
      });
      await a;
      expect(events).toEqual(['A start', 'B start', 'A end']);
      // A's release ran; B's lock must still be there, so C cannot get in.
      expect(await s.get(`lock:${k}`)).toBeDefined();
      await expect(withLock(handles[2]!, k, { ttlMs: 5_000, waitMs: 0 }, () => events.push('C'))).rejects.toBeInstanceOf(LockTimeoutError);
      await b;
      await withLock(handles[2]!, k, { ttlMs: 5_000, waitMs: 0 }, () => events.push('C'));
      expect(events).toEqual(['A start', 'B start', 'A end', 'B end', 'C']);
    });

    it('different keys do not wait for each other', async () => {
      const [k1, k2] = [key('one'), key('two')];
      let release!: () => void;
      const holder = withLock(s, k1, { ttlMs: 10_000, waitMs: 0 }, () => new Promise<void>((r) => (release = r)));
      await sleep(20);
      await expect(withLock(handles[1]!, k2, { ttlMs: 10_000, waitMs: 0 }, () => 'ran')).resolves.toBe('ran');
      release();
      await holder;
    });

    it('refuses timings that cannot work', async () => {
      await expect(withLock(s, key('x'), { ttlMs: 0, waitMs: 0 }, () => 1)).rejects.toThrow(RangeError);
      await expect(withLock(s, key('x'), { ttlMs: 1_000, waitMs: -1 }, () => 1)).rejects.toThrow(RangeError);
      await expect(withLock(s, key('x'), { ttlMs: Infinity, waitMs: 0 }, () => 1)).rejects.toThrow(RangeError);
    });
  });
}
