/**
 * The event relay's throughput (issue 15 part 3): deliveries per second, end to end through the
 * worker (claim from the durable queue, signed POST to a real HTTP subscriber on port 0, its 200,
 * completion), on the embedded SQLite queue and on Redis Streams. The queue is kept topped up by
 * publishing (records and fan-out included) while the worker delivers, for `seconds`; the figure is
 * what was delivered in that time, the latency from an event's publication to its delivery.
 *
 * Part of `npm run bench` (its rows after the identity zones); alone: `node dist/bench/events.js`
 * (BENCH_SECONDS, default 10; BENCH_REDIS_URL, default redis://127.0.0.1:6379/7, keys under
 * `zonegate-bench-events:` deleted after).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { publishEvent } from '../src/events/publish.js';
import type { EventQueue } from '../src/events/queue.js';
import { openRedisQueue } from '../src/events/redis-queue.js';
import { openSqliteQueue } from '../src/events/sqlite-queue.js';
import { createEventStore } from '../src/events/store.js';
import { startDeliveryWorker } from '../src/events/worker.js';
import { createMemoryLogger } from '../src/log.js';
import { migrate } from '../src/records/migrate.js';
import { openSqliteRecords } from '../src/records/sqlite.js';

export interface EventRelayRow {
  name: string;
  eventsPerSecond: number;
  p50: number;
  p99: number;
}

const PREFIX = 'zonegate-bench-events:';

async function measureRelay(name: string, queue: EventQueue, seconds: number): Promise<EventRelayRow> {
  const latencies: number[] = [];
  const subscriber = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const sent = (JSON.parse(body) as { data: { at: number } }).data.at;
      latencies.push(performance.timeOrigin + performance.now() - sent);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => subscriber.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/hook`;
  const records = openSqliteRecords({ file: ':memory:' });
  await migrate(records);
  const store = createEventStore(records, undefined);
  const { subscription, secret } = await store.subscribe('acme', url, undefined);
  const worker = startDeliveryWorker({
    queue,
    logger: createMemoryLogger('warn'),
    concurrency: 32,
    endpoint: async () => ({ url: subscription.url, secret }),
  });
  let n = 0;
  const publish = (count: number) =>
    Promise.all(Array.from({ length: count }, () => publishEvent(store, queue, { tenant: 'acme', name: 'bench', data: JSON.stringify({ at: Date.now() }), id: `e${++n}` })));
  const deadline = Date.now() + seconds * 1000;
  const startDelivered = worker.counts.delivered;
  const started = performance.now();
  // Keep a backlog of about 500: the worker never waits for the publisher.
  while (Date.now() < deadline) {
    if (n - worker.counts.delivered < 500) await publish(100);
    else await new Promise((r) => setTimeout(r, 5));
    worker.poke();
  }
  const delivered = worker.counts.delivered - startDelivered;
  const elapsed = (performance.now() - started) / 1000;
  await worker.stop();
  await queue.close();
  await records.close();
  subscriber.closeAllConnections();
  await new Promise<void>((resolve) => subscriber.close(() => resolve()));
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return { name, eventsPerSecond: delivered / elapsed, p50: at(0.5), p99: at(0.99) };
}

export async function benchEvents(options: { seconds: number; redisUrl: string }): Promise<EventRelayRow[]> {
  const rows: EventRelayRow[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-bench-events-'));
  try {
    rows.push(await measureRelay('event relay, embedded SQLite', openSqliteQueue(path.join(dir, 'events.db'), { leaseMs: 30_000 }), options.seconds));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  try {
    rows.push(await measureRelay('event relay, Redis Streams', await openRedisQueue(options.redisUrl, { keyPrefix: PREFIX, leaseMs: 30_000 }), options.seconds));
  } finally {
    const redis = new Redis(options.redisUrl);
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  }
  return rows;
}

export function eventRelayLines(rows: readonly EventRelayRow[]): string[] {
  return rows.map((r) => `${r.name}: ${Math.round(r.eventsPerSecond)} events/s delivered (signed POST to a subscriber, 2xx, completed; 32 in flight), publication to delivery behind a backlog of ~500 p50 ${r.p50} ms, p99 ${r.p99} ms`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const seconds = Number(process.env.BENCH_SECONDS || 10);
  const rows = await benchEvents({ seconds, redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379/7' });
  process.stdout.write(`${eventRelayLines(rows).join('\n')}\n`);
}
