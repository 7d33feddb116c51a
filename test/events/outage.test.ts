import { afterAll, expect, it } from 'vitest';
import { openRedisQueue } from '../../src/events/redis-queue.js';
import { startDeliveryWorker } from '../../src/events/worker.js';
import { createMemoryLogger } from '../../src/log.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { startCapture } from './support.js';

/**
 * Redis going away under a running worker: one warning for the outage (not a line per loop), and once
 * Redis is back (with its append-only file, so the queue survived) the worker delivers again on its own.
 */
let redis: RedisServerHandle | undefined;
afterAll(async () => {
  await redis?.dispose();
});

it('warns once while the queue is unreachable, and delivers again when it is back', async () => {
  redis = await startRedisServer(['--appendonly', 'yes', '--appendfsync', 'always']);
  const capture = await startCapture();
  const logger = createMemoryLogger('info');
  const queue = await openRedisQueue(redis.url, { keyPrefix: 'outage:', leaseMs: 5000 });
  const worker = startDeliveryWorker({ queue, logger, idleMs: 50, endpoint: async () => ({ url: `${capture.url}/hook`, secret: 's' }) });
  const message = (id: string) => ({ deliveryId: id, subscriptionId: 's', tenant: 'acme', event: { id, name: 'x', occurredAt: Date.now(), data: '{}' }, attempt: 0 });
  try {
    await queue.enqueue([message('before')]);
    await capture.until(1);

    await redis.stop();
    await new Promise((r) => setTimeout(r, 1500));
    expect(logger.lines.filter((l) => l.includes('event queue unavailable'))).toHaveLength(1);

    await redis.start();
    const other = await openRedisQueue(redis.url, { keyPrefix: 'outage:', leaseMs: 5000 });
    await other.enqueue([message('after')]);
    await other.close();
    await capture.until(2);
    expect(capture.received.map((c) => JSON.parse(c.body).id)).toEqual(['before', 'after']);
    expect(logger.lines.some((l) => l.includes('event queue available again'))).toBe(true);
  } finally {
    await worker.stop();
    await queue.close();
    await capture.close();
  }
}, 60_000);
