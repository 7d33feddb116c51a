import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryMessage, EventQueue } from '../../src/events/queue.js';
import { openRedisQueue } from '../../src/events/redis-queue.js';
import { openSqliteQueue } from '../../src/events/sqlite-queue.js';

/**
 * The delivery queue's contract, run against both backends. `open(clock)` returns a NEW handle (its
 * own connection) on the SAME queue, with its own clock: leases and due times are tested by moving
 * the clock, not by waiting (Redis's own idle time is real, so its lease in these tests is short).
 */
function describeQueueContract(name: string, open: (now: () => number) => Promise<EventQueue>, cleanup: () => Promise<void>, leaseMs: number, realIdleMs: number) {
  describe(`Event queue contract: ${name}`, () => {
    let clock = Date.now();
    const now = () => clock;
    const handles: EventQueue[] = [];
    let a: EventQueue;
    let b: EventQueue;
    beforeAll(async () => {
      a = await open(now);
      b = await open(now);
      handles.push(a, b);
    });
    afterAll(async () => {
      await Promise.all(handles.map((h) => h.close()));
      await cleanup();
    });

    const message = (label: string): DeliveryMessage => ({
      deliveryId: `${label}-${randomUUID()}`,
      subscriptionId: 'sub-1',
      tenant: 'acme',
      event: { id: randomUUID(), name: 'order.created', occurredAt: clock, data: JSON.stringify({ label }) },
      attempt: 0,
    });
    /** Claims until nothing more comes (another test's leftovers are completed out of the way). */
    const drain = async (q: EventQueue, consumer: string) => {
      const all = [];
      for (let i = 0; i < 10; i++) {
        const got = await q.claim(consumer, 50);
        if (got.length === 0) break;
        all.push(...got);
      }
      return all;
    };

    it('hands each message to exactly one of two consumers, and completion removes it', async () => {
      const sent = Array.from({ length: 20 }, (_, i) => message(`one-${i}`));
      await a.enqueue(sent);
      expect(await a.pending()).toBe(20);
      const [x, y] = await Promise.all([drain(a, 'c1'), drain(b, 'c2')]);
      const ids = [...x, ...y].map((c) => c.message.deliveryId).sort();
      expect(ids).toEqual(sent.map((m) => m.deliveryId).sort());
      expect(x.length + y.length).toBe(20);
      await Promise.all([...x.map((c) => a.complete(c)), ...y.map((c) => b.complete(c))]);
      expect(await a.pending()).toBe(0);
      expect(await drain(a, 'c1')).toEqual([]);
    });

    it('gives a message held by a consumer that went silent to another once its lease ran out, never before', async () => {
      const m = message('lease');
      await a.enqueue([m]);
      const first = await a.claim('dies', 10);
      expect(first.map((c) => c.message.deliveryId)).toEqual([m.deliveryId]);
      expect(await b.claim('lives', 10)).toEqual([]);
      clock += leaseMs + 1;
      // Redis measures idleness by its own clock.
      if (realIdleMs) await new Promise((r) => setTimeout(r, realIdleMs));
      const again = await b.claim('lives', 10);
      expect(again.map((c) => c.message.deliveryId)).toEqual([m.deliveryId]);
      expect(again[0]!.message).toEqual(m);
      await b.complete(again[0]!);
      expect(await a.pending()).toBe(0);
    });

    it('keeps a retry out of reach until it is due, with its attempt counted', async () => {
      const m = message('retry');
      await a.enqueue([m]);
      const [c] = await a.claim('c1', 1);
      await a.retry(c!, { ...m, attempt: 1 }, clock + 60_000);
      expect(await a.pending()).toBe(1);
      expect(await b.claim('c2', 10)).toEqual([]);
      clock += 60_001;
      const [due] = await b.claim('c2', 10);
      expect(due!.message).toEqual({ ...m, attempt: 1 });
      await b.complete(due!);
    });

    it('keeps dead letters with the reason until redriven, and a redriven one starts its attempts again', async () => {
      const m = message('dead');
      await a.enqueue([m]);
      const [c] = await a.claim('c1', 1);
      await a.deadLetter(c!, { ...m, attempt: 8 }, 'the endpoint answered 500 (after 8 attempts)');
      expect(await a.pending()).toBe(0);
      expect(await b.claim('c2', 10)).toEqual([]);
      const letters = await b.deadLetters();
      const letter = letters.find((l) => l.message.deliveryId === m.deliveryId);
      expect(letter).toMatchObject({ reason: 'the endpoint answered 500 (after 8 attempts)', message: { attempt: 8 } });
      expect(await b.redrive('no-such-delivery')).toBe(false);
      expect(await b.redrive(m.deliveryId)).toBe(true);
      expect(await a.redrive(m.deliveryId)).toBe(false);
      expect((await a.deadLetters()).some((l) => l.message.deliveryId === m.deliveryId)).toBe(false);
      const [back] = await a.claim('c1', 10);
      expect(back!.message).toEqual({ ...m, attempt: 0 });
      await a.complete(back!);
    });
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-queue-'));
describeQueueContract(
  'SQLite',
  async (now) => openSqliteQueue(path.join(dir, 'events.db'), { leaseMs: 30_000, now }),
  async () => fs.rmSync(dir, { recursive: true, force: true }),
  30_000,
  0,
);

const prefix = `test:queue:${randomUUID()}:`;
describeQueueContract(
  'Redis Streams',
  async (now) => openRedisQueue('redis://127.0.0.1:6379', { keyPrefix: prefix, leaseMs: 300, now }),
  async () => {
    const redis = new Redis('redis://127.0.0.1:6379');
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  },
  300,
  320,
);
