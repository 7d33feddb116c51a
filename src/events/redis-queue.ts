/**
 * The delivery queue on Redis Streams, shared by every instance: one stream, one consumer group
 * (`delivery`), each instance a consumer. XREADGROUP hands a new entry to exactly one consumer and
 * keeps it in the group's pending list until XACK; an entry whose consumer died (a killed instance)
 * stays pending, and XAUTOCLAIM gives it to a live consumer once it has been idle longer than the
 * lease. Retries wait in a sorted set scored by their due time and go back onto the stream when due;
 * dead letters are a hash by delivery id. Each move between the three is one MULTI or script, so a
 * crash between its steps cannot lose or duplicate a message.
 *
 * Cluster: the keys share the hash tag `{events}`, so the scripts and MULTIs that touch several of
 * them run on one node (a Cluster refuses multi-key commands across slots).
 */
import type { Redis } from 'ioredis';
import { createRedisClient, redisConnectionFromUrl, type RedisConnection } from '../storage/redis.js';
import type { Claimed, DeadLetter, DeliveryMessage, EventQueue, QueueOptions } from './queue.js';

const GROUP = 'delivery';

// Due retries back onto the stream, at most 100 per call; atomic, so two instances promoting at once
// move each retry once.
const PROMOTE_LUA = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, m in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'm', m)
  redis.call('ZREM', KEYS[1], m)
end
return #due`;

const REDRIVE_LUA = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('XADD', KEYS[2], '*', 'm', ARGV[2])
  return 1
end
return 0`;

export interface RedisQueueOptions extends QueueOptions {
  /** Prepended to the keys (the storage's REDIS key prefix, `zonegate:` by default). */
  keyPrefix: string;
  connectTimeoutMs?: number;
}

type StreamEntry = [id: string, fields: string[]];

export async function openRedisQueue(target: RedisConnection | string, options: RedisQueueOptions): Promise<EventQueue> {
  const connection = typeof target === 'string' ? redisConnectionFromUrl(target) : target;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const now = options.now ?? Date.now;
  const writer = createRedisClient(connection, { connectTimeoutMs, commandTimeoutMs: 2000 });
  // Blocking reads on a connection of their own: they would hold up every other command on it.
  const reader = createRedisClient(connection, { connectTimeoutMs, commandTimeoutMs: 10_000 });
  for (const c of [writer, reader]) c.on('error', () => {});
  await Promise.all([writer.connect(), reader.connect()]);
  const stream = `${options.keyPrefix}{events}:stream`;
  const retries = `${options.keyPrefix}{events}:retry`;
  const dead = `${options.keyPrefix}{events}:dead`;
  try {
    // From the stream's start: entries added before the group existed are delivered too.
    await writer.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!/BUSYGROUP/.test((err as Error).message)) throw err;
  }

  const parse = (entries: StreamEntry[] | null | undefined): Claimed[] =>
    (entries ?? [])
      // XAUTOCLAIM may name entries deleted meanwhile with no fields.
      .filter((e): e is StreamEntry => Array.isArray(e) && Array.isArray(e[1]) && e[1].length >= 2)
      .map(([id, fields]) => ({ handle: id, message: JSON.parse(fields[fields.indexOf('m') + 1]!) as DeliveryMessage }));

  /** ACK and delete in one MULTI with `also` (the move elsewhere). */
  const settle = async (claimed: Claimed, also?: (m: ReturnType<Redis['multi']>) => void) => {
    const multi = writer.multi();
    also?.(multi as ReturnType<Redis['multi']>);
    multi.xack(stream, GROUP, claimed.handle).xdel(stream, claimed.handle);
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  };

  return {
    kind: 'redis',
    async enqueue(messages) {
      if (messages.length === 0) return;
      const pipeline = writer.pipeline();
      for (const m of messages) pipeline.xadd(stream, '*', 'm', JSON.stringify(m));
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    },
    async claim(consumer, max, waitMs) {
      await writer.eval(PROMOTE_LUA, 2, retries, stream, String(now()));
      // Entries of consumers that went silent (crashed) for longer than the lease.
      const [, reclaimedEntries] = (await writer.xautoclaim(stream, GROUP, consumer, options.leaseMs, '0-0', 'COUNT', max)) as [string, StreamEntry[]];
      const claimed = parse(reclaimedEntries);
      if (claimed.length >= max) return claimed;
      const block = claimed.length === 0 && waitMs ? ['BLOCK', waitMs] : [];
      const read = (await (reader as Redis).xreadgroup(
        'GROUP', GROUP, consumer, 'COUNT', max - claimed.length, ...(block as ['BLOCK', number]), 'STREAMS', stream, '>',
      )) as [string, StreamEntry[]][] | null;
      return [...claimed, ...parse(read?.[0]?.[1])];
    },
    async complete(claimed) {
      await settle(claimed);
    },
    async retry(claimed, next, dueAt) {
      await settle(claimed, (m) => m.zadd(retries, dueAt, JSON.stringify(next)));
    },
    async deadLetter(claimed, next, reason) {
      const letter: DeadLetter = { message: next, reason, deadAt: now() };
      await settle(claimed, (m) => m.hset(dead, next.deliveryId, JSON.stringify(letter)));
    },
    async deadLetters() {
      const all = await writer.hvals(dead);
      return all.map((v) => JSON.parse(v) as DeadLetter).sort((a, b) => a.deadAt - b.deadAt);
    },
    async redrive(deliveryId) {
      const stored = await writer.hget(dead, deliveryId);
      if (stored === null) return false;
      const { message } = JSON.parse(stored) as DeadLetter;
      const moved = await writer.eval(REDRIVE_LUA, 2, dead, stream, deliveryId, JSON.stringify({ ...message, attempt: 0 }));
      return Number(moved) === 1;
    },
    async pending() {
      const [len, waiting] = await Promise.all([writer.xlen(stream), writer.zcard(retries)]);
      return len + waiting;
    },
    async close() {
      // A reader blocked in XREADGROUP is cut off rather than waited for.
      reader.disconnect();
      await writer.quit().catch(() => writer.disconnect());
    },
  };
}

