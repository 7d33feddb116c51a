import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { storageUnavailable } from './types.js';
import type { Storage } from './types.js';
import { ttlMsOf } from './ttl.js';
import { checkRedisDurability } from './redis-durability.js';

export interface RedisStorageOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://...` for TLS. */
  url: string;
  /** Prepended to every key this storage touches, e.g. `zonegate:` (several apps may share one Redis). */
  keyPrefix: string;
  /** TCP/TLS connect timeout, also the bound on the initial connection (default 2000). */
  connectTimeoutMs?: number;
  /** A command unanswered after this long fails with ZG_ERR_STORAGE_UNAVAILABLE (default 2000). */
  commandTimeoutMs?: number;
  logger?: Logger;
  /** Warn when this Redis does not persist or may evict keys (the gateway's start-up; ./redis-durability.ts). */
  checkDurability?: boolean;
}

// INCR and the TTL must be one step: with two round trips a crash (or a lost reply) between them
// would leave a counter that never expires, i.e. a rate-limit window that never resets.
const INCREMENT_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 and ARGV[1] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

// Never creates the key (DECR would, at -1), and deletes it at 0 so a released counter does not
// linger; DECR keeps the TTL INCR's creator set.
const DECREMENT_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('DECR', KEYS[1])
if n <= 0 then redis.call('DEL', KEYS[1]) return 0 end
return n`;

// GET and DEL as one step: between a separate GET and DEL the lock could expire and be claimed by
// another owner, whose lock the DEL would then remove.
const DELETE_IF_EQUALS_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// Server replies that mean "cannot serve now" (loading a dump, a busy script, a replica without
// master, out of memory, lost authentication) rather than a bad command.
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|OOM|TRYAGAIN|CLUSTERDOWN|NOAUTH|WRONGPASS)\b/;

/**
 * The shared backend for scale-out: every instance sees the same state, so login state, sessions
 * and single-use codes work without sticky routing (SAP's approuter keeps OAuth state in process
 * memory and only backs sessions up to Redis).
 *
 * Fail fast: while Redis is unreachable every call rejects at once with ZG_ERR_STORAGE_UNAVAILABLE
 * (no offline queue, no per-command retries, a command timeout), so a request is answered 503
 * instead of hanging; ioredis keeps reconnecting in the background and the same storage object
 * works again once Redis is back.
 */
export async function openRedisStorage(options: RedisStorageOptions): Promise<Storage> {
  const { keyPrefix, logger } = options;
  const connectTimeout = options.connectTimeoutMs ?? 2000;
  const client = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Reconnect quickly at first, then every 2 s: an outage should end within seconds of Redis
    // returning, without hammering a Redis that is still down.
    retryStrategy: (times) => Math.min(100 * 2 ** (times - 1), 2000),
  });

  let healthy = false;
  let closed = false;
  client.on('ready', () => {
    if (!healthy) logger?.info('Redis storage connected', { keyPrefix });
    healthy = true;
  });
  // Without an 'error' listener ioredis prints every reconnect failure; log a lost connection once.
  let lastError: Error | undefined;
  client.on('error', (err: Error) => {
    if (healthy && !closed) logger?.warn('Redis storage unavailable', { keyPrefix, error: err.message });
    healthy = false;
    lastError = err;
  });
  client.on('close', () => {
    if (healthy && !closed) logger?.warn('Redis storage connection closed', { keyPrefix });
    healthy = false;
  });

  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    // connect() rejects with "Connection is closed."; why (ECONNREFUSED, DNS, TLS) came as an 'error'.
    throw storageUnavailable(lastError ?? err);
  }

  const k = (key: string) => `${keyPrefix}k:${key}`;
  // GETDEL (single-use codes) exists from Redis 6.2 on; an older server must stop the start-up with
  // a clear message, not fail the first login with "unknown command".
  try {
    // Outside the k:/i: namespaces, so the probe can never consume a caller's key.
    await client.getdel(`${keyPrefix}probe`);
  } catch (err) {
    client.disconnect();
    if (isCommandError(err)) {
      throw new Error(`The Redis server does not support GETDEL; zonegate needs Redis 6.2 or newer`, { cause: err });
    }
    throw storageUnavailable(err);
  }

  if (options.checkDurability) {
    for (const warning of await checkRedisDurability(client)) logger?.warn(warning.message, { keyPrefix, ...warning.fields });
  }

  const ix = (index: string) => `${keyPrefix}i:${index}`;
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw err instanceof GatewayError || err instanceof RangeError || isCommandError(err)
        ? err
        : storageUnavailable(err);
    }
  };

  // Change notices over pub/sub (channels are server-wide, so the database number is part of the
  // name). A handle tells its own listeners at once and skips its notices when they come back. A
  // cache may serve only while this handle is
  // subscribed: Redis does not keep messages for a subscriber that is not connected.
  const channel = `${keyPrefix}changes:${client.options.db ?? 0}`;
  const handleId = randomUUID();
  const changeListeners: ((key: string | undefined) => void)[] = [];
  let subscriber: Redis | undefined;
  let subscribed = false;
  const setSubscribed = (value: boolean) => {
    if (subscribed === value) return;
    subscribed = value;
    // Unsubscribed, notices may be missed from now on; subscribed again, they may have been missed
    // until now. Either way what caches hold can no longer be trusted.
    for (const listener of changeListeners) listener(undefined);
  };
  const subscribe = () => {
    const sub = (subscriber = client.duplicate({ lazyConnect: true, autoResubscribe: false, connectionName: `${keyPrefix}changes` }));
    sub.on('ready', () => {
      sub.subscribe(channel).then(
        () => setSubscribed(true),
        (err: Error) => {
          if (!isCommandError(err)) return void sub.disconnect(true);
          // Refused, not lost (an ACL without pub/sub, a proxy that has no SUBSCRIBE): caches stay
          // off, and every request reads its session from Redis.
          logger?.warn('Redis refused SUBSCRIBE: change notices are off, so nothing is served from process-local caches', { keyPrefix, error: err.message });
          sub.disconnect();
        },
      );
    });
    sub.on('close', () => setSubscribed(false));
    // The main connection logs outages; this one reconnects by itself ('close' has said what matters).
    sub.on('error', () => undefined);
    sub.on('message', (_channel: string, message: string) => {
      const space = message.indexOf(' ');
      if (space === -1 || message.slice(0, space) === handleId) return;
      const key = message.slice(space + 1);
      for (const listener of changeListeners) listener(key);
    });
    sub.connect().catch(() => undefined);
  };

  return {
    kind: 'redis',
    get: (key) => call(async () => (await client.get(k(key))) ?? undefined),
    set: (key, value, opts) =>
      call(async () => {
        const ttlMs = ttlMsOf(opts);
        if (ttlMs === undefined) await client.set(k(key), value);
        else await client.set(k(key), value, 'PX', ttlMs);
      }),
    setIfAbsent: (key, value, opts) =>
      call(async () => {
        const ttlMs = ttlMsOf(opts);
        const reply =
          ttlMs === undefined
            ? await client.set(k(key), value, 'NX')
            : await client.set(k(key), value, 'PX', ttlMs, 'NX');
        return reply === 'OK';
      }),
    setIfPresent: (key, value, opts) =>
      call(async () => {
        const ttlMs = ttlMsOf(opts);
        const reply =
          ttlMs === undefined ? await client.set(k(key), value, 'XX') : await client.set(k(key), value, 'PX', ttlMs, 'XX');
        return reply === 'OK';
      }),
    take: (key) => call(async () => (await client.getdel(k(key))) ?? undefined),
    delete: (key) => call(async () => (await client.del(k(key))) > 0),
    deleteIfEquals: (key, expected) =>
      call(async () => Number(await client.eval(DELETE_IF_EQUALS_LUA, 1, k(key), expected)) === 1),
    increment: (key, opts) =>
      call(async () => {
        const ttlMs = ttlMsOf(opts);
        return Number(await client.eval(INCREMENT_LUA, 1, k(key), ttlMs === undefined ? '' : String(ttlMs)));
      }),
    decrement: (key) => call(async () => Number(await client.eval(DECREMENT_LUA, 1, k(key)))),
    ttl: (key) =>
      call(async () => {
        const ms = await client.pttl(k(key));
        // PTTL: -2 = no such key, -1 = no expiry (Redis 2.8+).
        if (ms === -2) return undefined;
        return ms === -1 ? Infinity : ms;
      }),
    addToIndex: (index, member) =>
      call(async () => {
        await client.sadd(ix(index), member);
      }),
    removeFromIndex: (index, member) =>
      call(async () => {
        await client.srem(ix(index), member);
      }),
    listIndex: (index) => call(() => client.smembers(ix(index))),
    deleteIndex: (index) =>
      call(async () => {
        await client.del(ix(index));
      }),
    announce: async (key) => {
      for (const listener of changeListeners) listener(key);
      try {
        await client.publish(channel, `${handleId} ${key}`);
      } catch {
        // Redis is unreachable: the other handles' subscriptions are down too, so they serve nothing
        // from their caches (and caches keep entries only briefly in any case).
      }
    },
    onForeignChange: (listener) => {
      changeListeners.push(listener);
      if (!subscriber && !closed) subscribe();
    },
    changesTracked: () => subscribed,
    ping: () =>
      call(async () => {
        await client.ping();
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      subscriber?.disconnect();
      setSubscribed(false);
      if (client.status === 'ready') {
        try {
          // QUIT lets in-flight commands finish; a dead link is simply dropped.
          await client.quit();
          return;
        } catch {
          // fall through
        }
      }
      client.disconnect();
    },
  };
}

/** A reply error caused by the command itself (wrong type, not an integer): a bug, not an outage. */
function isCommandError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(err.message);
}

/**
 * The URL of the first Redis service bound in VCAP_SERVICES (parsed object or its JSON text), or
 * undefined. A binding counts as Redis when its label (`redis`, `redis-cache`, `hyperscaler-redis`,
 * ...) or one of its tags says so, which also covers user-provided services tagged `redis`.
 * Credentials are taken from `uri`, else from `hostname`/`port`/`password`/`tls` as SAP's Redis on
 * SAP BTP service hands them out.
 */
export function redisUrlFromVcap(vcapServices: unknown): string | undefined {
  const vcap: unknown = typeof vcapServices === 'string' ? JSON.parse(vcapServices) : vcapServices;
  if (!isRecord(vcap)) return undefined;
  for (const [serviceLabel, instances] of Object.entries(vcap)) {
    if (!Array.isArray(instances)) continue;
    for (const instance of instances) {
      if (!isRecord(instance) || !isRedisBinding(serviceLabel, instance)) continue;
      const url = urlFromCredentials(instance['credentials']);
      if (url) return url;
    }
  }
  return undefined;
}

function isRedisBinding(serviceLabel: string, instance: Record<string, unknown>): boolean {
  const label = typeof instance['label'] === 'string' ? instance['label'] : serviceLabel;
  if (/redis/i.test(label)) return true;
  const tags = instance['tags'];
  return Array.isArray(tags) && tags.some((t) => typeof t === 'string' && /^redis$/i.test(t));
}

// SAP's Redis service puts this placeholder user in its `uri` because the server has no ACL users;
// sent as `AUTH <user> <password>` to Redis 6+ it would be refused, so it is dropped.
const PLACEHOLDER_USER = 'no-user-name-for-redis';

function urlFromCredentials(credentials: unknown): string | undefined {
  if (!isRecord(credentials)) return undefined;
  const uri = credentials['uri'] ?? credentials['url'];
  if (typeof uri === 'string' && /^rediss?:\/\//i.test(uri)) {
    const parsed = new URL(uri);
    if (decodeURIComponent(parsed.username) === PLACEHOLDER_USER) parsed.username = '';
    return parsed.toString();
  }
  const host = credentials['hostname'] ?? credentials['host'];
  const port = credentials['port'];
  if (typeof host !== 'string' || host === '') return undefined;
  if (typeof port !== 'number' && (typeof port !== 'string' || !/^\d+$/.test(port))) return undefined;
  const tls = credentials['tls'] === true || credentials['tls'] === 'true';
  const password = credentials['password'];
  const auth = typeof password === 'string' && password !== '' ? `:${encodeURIComponent(password)}@` : '';
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${tls ? 'rediss' : 'redis'}://${auth}${hostPart}:${port}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
