import { randomUUID } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis } from 'ioredis';
import type { ChainableCommander, ClusterOptions, RedisOptions } from 'ioredis';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { storageUnavailable } from './types.js';
import type { Storage } from './types.js';
import { ttlMsOf } from './ttl.js';
import { checkRedisDurability } from './redis-durability.js';

export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Where and how to reach Redis, as src/config/redis.ts reads it from REDIS_* or a Redis binding.
 * - `standalone`: `nodes[0]` is the server.
 * - `sentinel`: `nodes` are the sentinels, asked for the current master of `sentinelMaster`.
 * - `cluster`: `nodes` are seed nodes; the others are discovered (CLUSTER SLOTS).
 */
export interface RedisConnection {
  mode: 'standalone' | 'sentinel' | 'cluster';
  nodes: readonly RedisNode[];
  sentinelMaster?: string;
  username?: string;
  password?: string;
  /** Database number (standalone and sentinel; a cluster has only database 0). */
  db?: number;
  /**
   * TLS on every connection (data nodes and sentinels). `ca`: PEM bundle trusted instead of the system
   * CAs. `servername`: the name sent as SNI and checked against the certificates, for servers reached
   * by an address a sentinel or the cluster hands out (an IP) rather than by their name.
   */
  tls?: { ca?: string; servername?: string };
}

interface CommonOptions {
  /** Prepended to every key this storage touches, e.g. `zonegate:` (several apps may share one Redis). */
  keyPrefix: string;
  /** TCP/TLS connect timeout; the initial connection must be ready within twice this (default 2000). */
  connectTimeoutMs?: number;
  /** A command unanswered after this long fails with ZG_ERR_STORAGE_UNAVAILABLE (default 2000). */
  commandTimeoutMs?: number;
  /**
   * Sentinel only: how long a write waits for a replica's acknowledgement (WAIT 1, default 500 ms)
   * before it fails with ZG_ERR_STORAGE_UNAVAILABLE.
   */
  replicaAckTimeoutMs?: number;
  logger?: Logger;
  /** Warn when this Redis does not persist or may evict keys (the gateway's start-up; ./redis-durability.ts). */
  checkDurability?: boolean;
}

export type RedisStorageOptions = CommonOptions &
  (
    | {
        /** `redis://[[user]:password@]host:port[/db]`, or `rediss://...` for TLS with the system CAs. */
        url: string;
      }
    | { connection: RedisConnection }
  );

// INCR and the TTL must be one step: with two round trips a crash (or a lost reply) between them
// would leave a counter that never expires, i.e. a rate-limit window that never resets.
// Every script below touches exactly the one key it declares in KEYS, so in a Cluster it runs on
// the node that owns that key's slot (a script must not touch undeclared keys there).
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

// Compare and set as one step: between a separate GET and SET another client's write could land,
// and the SET would undo it. ARGV[3] is the TTL in milliseconds, or '' for none.
const SET_IF_EQUALS_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`;

// Server replies that mean "cannot serve now" (loading a dump, a busy script, a replica without
// master, out of memory, lost authentication, a cluster slot moving or without owner) rather than
// a bad command.
/**
 * How often the notices' connection is pinged (changesHeardUntil): caches serve a copy for up to a
 * second after the last answered heartbeat (src/sessions/store.ts), so several fit in that second.
 */
const HEARTBEAT_MS = 200;

const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|OOM|TRYAGAIN|CLUSTERDOWN|MOVED|ASK|NOAUTH|WRONGPASS)\b/;

/**
 * Milliseconds before reconnection attempt `attempt` (1, 2, ...): quickly at first, then every
 * second at most. The cap bounds how long an outage outlasts Redis's return (a longer back-off once
 * made recovery depend on how long Redis had been down); one attempt a second does not hammer a
 * Redis that is still down.
 */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(50 * 2 ** Math.max(0, attempt - 1), 1000);
}

/**
 * The shared backend for scale-out: every instance sees the same state, so login state, sessions
 * and single-use codes work without sticky routing (SAP's approuter keeps OAuth state in process
 * memory and only backs sessions up to Redis). One server, a Sentinel-managed master with replicas,
 * or a Cluster.
 *
 * Fail fast: while Redis is unreachable every call rejects at once with ZG_ERR_STORAGE_UNAVAILABLE
 * (no offline queue, no per-command retries, a command timeout), so a request is answered 503
 * instead of hanging; ioredis keeps reconnecting in the background (reconnectDelayMs) and the same
 * storage object works again once Redis is back.
 *
 * Cluster: every operation of the contract touches one key (scripts declare theirs), so none needs
 * its keys in one slot and no hash tags are used: keys spread over all masters by their own hash.
 * (A hash tag such as `{sess}` would put every session on one master.) Change notices use plain
 * pub/sub, which a Cluster delivers to subscribers on every node.
 */
export async function openRedisStorage(options: RedisStorageOptions): Promise<Storage> {
  const { keyPrefix, logger } = options;
  const connection = 'connection' in options ? options.connection : redisConnectionFromUrl(options.url);
  const connectTimeout = options.connectTimeoutMs ?? 2000;
  const replicaAckTimeoutMs = options.replicaAckTimeoutMs ?? 500;
  const perConnection = connectionOptions(connection, connectTimeout, options.commandTimeoutMs ?? 2000);
  const client = createClient(connection, perConnection);

  let healthy = false;
  let closed = false;
  client.on('ready', () => {
    if (!healthy) logger?.info('Redis storage connected', { keyPrefix, mode: connection.mode });
    healthy = true;
  });
  // Without an 'error' listener ioredis prints every reconnect failure; log a lost connection once.
  let lastError: Error | undefined;
  client.on('error', (err: Error) => {
    lastError = err;
    if (healthy && !closed) logger?.warn('Redis storage unavailable', { keyPrefix, error: err.message });
    healthy = false;
  });
  client.on('close', () => {
    if (healthy && !closed) logger?.warn('Redis storage connection closed', { keyPrefix });
    healthy = false;
  });

  try {
    // A Cluster (and a Sentinel whose master is down) keeps trying instead of failing the first
    // attempt; the start-up must still end with a clear error rather than hang.
    await withDeadline(client.connect(), 2 * connectTimeout, 'Redis was not ready in time');
  } catch (err) {
    client.disconnect();
    // The connection's own error says why ("certificate ... does not match", ECONNREFUSED, WRONGPASS);
    // the connect promise only says that it closed.
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
    // In a Cluster each master keeps its own share of the keys: every one of them must persist.
    const servers = client instanceof Cluster ? client.nodes('master') : [client];
    const seen = new Set<string>();
    for (const server of servers) {
      for (const warning of await checkRedisDurability(server)) {
        if (seen.has(warning.message)) continue;
        seen.add(warning.message);
        logger?.warn(warning.message, { keyPrefix, ...warning.fields });
      }
    }
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

  // Sentinel: Redis replicates asynchronously, so a write the master acknowledged but had not yet
  // sent to its replica is gone once Sentinel promotes that replica: a user logged in a moment ago
  // would find their session lost. WAIT 1 returns once a replica has the write; since Sentinel
  // promotes the replica with the most data, a write a replica acknowledged survives a failover.
  // WAIT rather than the server's min-replicas-to-write: that is the operator's setting (a managed
  // Redis may not allow it) and bounds the lag only to seconds. Costs one round trip per write.
  // Without any replica in sync there is nothing a failover could promote with the write, so writes
  // go on (said once); a replica in sync that does not acknowledge in time fails the write.
  let unprotected = false;
  let unprotectedUntil = 0;
  const replicated = async (): Promise<void> => {
    if (connection.mode !== 'sentinel' || Date.now() < unprotectedUntil) return;
    const master = client as Redis;
    if (Number(await master.wait(1, replicaAckTimeoutMs)) >= 1) {
      if (unprotected) logger?.info('Redis replica in sync again: writes are protected against a failover', { keyPrefix });
      unprotected = false;
      return;
    }
    // A replica still in its initial synchronisation (which can take minutes) does not count: writes
    // go on meanwhile rather than fail until it is done.
    const replication = await master.info('replication');
    if (!/^slave\d+:.*\bstate=online\b/m.test(replication)) {
      if (!unprotected) logger?.warn('Redis master has no replica in sync: writes are not protected against a failover', { keyPrefix });
      unprotected = true;
      // Checked again after a second, not on every write (each check costs the WAIT timeout).
      unprotectedUntil = Date.now() + 1000;
      return;
    }
    throw storageUnavailable(new Error(`No Redis replica acknowledged the write within ${replicaAckTimeoutMs} ms`));
  };
  const write = <T>(fn: () => Promise<T>): Promise<T> =>
    call(async () => {
      const result = await fn();
      await replicated();
      return result;
    });

  // Change notices over pub/sub (channels are server-wide, so the database number is part of the
  // name). A handle tells its own listeners at once and skips its notices when they come back. A
  // cache may serve only while this handle is subscribed: Redis does not keep messages for a
  // subscriber that is not connected.
  const channel = `${keyPrefix}changes:${connection.mode === 'cluster' ? 0 : (connection.db ?? 0)}`;
  const handleId = randomUUID();
  const changeListeners: ((key: string | undefined) => void)[] = [];
  let subscriber: Redis | undefined;
  let subscribeAttempts = 0;
  let refused = false;
  let subscribed = false;
  // Heartbeat: while subscribed, the notices' connection sends PING every HEARTBEAT_MS. One server
  // runs commands in order and a connection delivers in order, so the answer comes after every
  // message published before the PING arrived: once it is in, every change announced before the
  // PING was sent has been heard of (changesHeardUntil). Changes nobody announces (FLUSHALL,
  // FLUSHDB, a replica promoted without the latest writes) show in the epoch key: a random value
  // set once, read with every beat; gone or different, the data was replaced, and caches forget
  // everything. A Cluster relays a PUBLISH made on another node over its bus, in no order with this
  // PING, so there it says nothing (-Infinity).
  const epochKey = `${keyPrefix}epoch`;
  let epoch: string | undefined;
  let heardUntil = -Infinity;
  let heartbeat: NodeJS.Timeout | undefined;
  let pinging = false;
  const beat = () => {
    const sub = subscriber;
    if (!subscribed || pinging || !sub || connection.mode === 'cluster') return;
    pinging = true;
    const sentAt = performance.now();
    const current = () => sub === subscriber && subscribed;
    Promise.all([sub.ping(), client.get(epochKey)])
      .then(async ([, seen]) => {
        if (seen === null) {
          await client.set(epochKey, randomUUID(), 'NX');
          seen = await client.get(epochKey);
        }
        if (!current() || seen === null) return;
        if (epoch !== undefined && seen !== epoch) {
          logger?.warn('Redis data was replaced (flushed, or a replica promoted without the latest writes): process-local caches forget everything', { keyPrefix });
          for (const listener of changeListeners) listener(undefined);
        }
        epoch = seen;
        heardUntil = Math.max(heardUntil, sentAt);
      })
      .catch(() => undefined)
      .finally(() => {
        pinging = false;
      });
  };
  const setSubscribed = (value: boolean) => {
    if (subscribed === value) return;
    subscribed = value;
    heardUntil = -Infinity;
    clearInterval(heartbeat);
    heartbeat = undefined;
    if (value && connection.mode !== 'cluster') {
      heartbeat = setInterval(beat, HEARTBEAT_MS);
      heartbeat.unref();
      beat();
    }
    // Unsubscribed, notices may be missed from now on; subscribed again, they may have been missed
    // until now. Either way what caches hold can no longer be trusted.
    for (const listener of changeListeners) listener(undefined);
  };
  // The notices' connection does not reconnect by itself: when it ends, a new one is made (after
  // reconnectDelayMs). In a Cluster that picks a node that is up now: the one it used may have
  // failed over for good. (ioredis' own Cluster subscriber moves nodes silently, so a gap in which
  // notices were lost would go unnoticed by the caches.)
  const subscribe = () => {
    if (closed || refused) return;
    const sub = (subscriber = subscriberConnection(client, perConnection, `${keyPrefix}changes`));
    if (!sub) return void retrySubscribe();
    sub.on('ready', () => {
      sub.subscribe(channel).then(
        () => {
          subscribeAttempts = 0;
          setSubscribed(true);
        },
        (err: Error) => {
          if (isCommandError(err)) {
            // Refused, not lost (an ACL without pub/sub, a proxy that has no SUBSCRIBE): caches stay
            // off, and every request reads its session from Redis.
            refused = true;
            logger?.warn('Redis refused SUBSCRIBE: change notices are off, so nothing is served from process-local caches', { keyPrefix, error: err.message });
          }
          sub.disconnect();
        },
      );
    });
    sub.on('close', () => setSubscribed(false));
    sub.on('end', () => {
      if (subscriber === sub) retrySubscribe();
    });
    // The main connection logs outages; 'close' has said what matters here.
    sub.on('error', () => undefined);
    sub.on('message', (_channel: string, message: string) => {
      const space = message.indexOf(' ');
      if (space === -1 || message.slice(0, space) === handleId) return;
      const key = message.slice(space + 1);
      for (const listener of changeListeners) listener(key);
    });
    sub.connect().catch(() => undefined);
  };
  const retrySubscribe = () => {
    subscriber = undefined;
    if (closed || refused) return;
    setTimeout(subscribe, reconnectDelayMs(++subscribeAttempts)).unref();
  };

  /**
   * Runs one write on `key` and the PUBLISH of its notice in one MULTI (AnnounceOptions): Redis runs
   * both or neither, whenever it runs them. Resolves with the write's reply.
   */
  const announcedWith = async (key: string, command: (m: ChainableCommander) => ChainableCommander): Promise<unknown> => {
    const replies = await command(client.multi()).publish(channel, `${handleId} ${key}`).exec();
    if (replies === null) throw storageUnavailable(new Error('Redis discarded the transaction'));
    const [err, reply] = replies[0]!;
    if (err) throw err;
    for (const listener of changeListeners) listener(key);
    return reply;
  };

  return {
    kind: 'redis',
    get: (key) => call(async () => (await client.get(k(key))) ?? undefined),
    set: (key, value, opts) =>
      write(async () => {
        const ttlMs = ttlMsOf(opts);
        if (ttlMs === undefined) await client.set(k(key), value);
        else await client.set(k(key), value, 'PX', ttlMs);
      }),
    setIfAbsent: (key, value, opts) =>
      write(async () => {
        const ttlMs = ttlMsOf(opts);
        const reply =
          ttlMs === undefined
            ? await client.set(k(key), value, 'NX')
            : await client.set(k(key), value, 'PX', ttlMs, 'NX');
        return reply === 'OK';
      }),
    setIfPresent: (key, value, opts) =>
      write(async () => {
        const ttlMs = ttlMsOf(opts);
        if (opts?.announce) {
          const reply = await announcedWith(key, (m) => (ttlMs === undefined ? m.set(k(key), value, 'XX') : m.set(k(key), value, 'PX', ttlMs, 'XX')));
          return reply === 'OK';
        }
        const reply =
          ttlMs === undefined ? await client.set(k(key), value, 'XX') : await client.set(k(key), value, 'PX', ttlMs, 'XX');
        return reply === 'OK';
      }),
    setIfEquals: (key, expected, value, opts) =>
      write(async () => {
        const ttl = ttlMsOf(opts);
        const args = [SET_IF_EQUALS_LUA, 1, k(key), expected, value, ttl === undefined ? '' : String(ttl)] as const;
        const reply = opts?.announce ? await announcedWith(key, (m) => m.eval(...args)) : await client.eval(...args);
        return Number(reply) === 1;
      }),
    // Consuming a single-use code is a write too: a failover must not bring a used code back.
    take: (key, opts) =>
      write(async () => ((opts?.announce ? await announcedWith(key, (m) => m.getdel(k(key))) : await client.getdel(k(key))) as string | null) ?? undefined),
    delete: (key, opts) => write(async () => Number(opts?.announce ? await announcedWith(key, (m) => m.del(k(key))) : await client.del(k(key))) > 0),
    deleteIfEquals: (key, expected) =>
      write(async () => Number(await client.eval(DELETE_IF_EQUALS_LUA, 1, k(key), expected)) === 1),
    increment: (key, opts) =>
      write(async () => {
        const ttlMs = ttlMsOf(opts);
        return Number(await client.eval(INCREMENT_LUA, 1, k(key), ttlMs === undefined ? '' : String(ttlMs)));
      }),
    decrement: (key) => write(async () => Number(await client.eval(DECREMENT_LUA, 1, k(key)))),
    ttl: (key) =>
      call(async () => {
        const ms = await client.pttl(k(key));
        // PTTL: -2 = no such key, -1 = no expiry (Redis 2.8+).
        if (ms === -2) return undefined;
        return ms === -1 ? Infinity : ms;
      }),
    addToIndex: (index, member) =>
      write(async () => {
        await client.sadd(ix(index), member);
      }),
    removeFromIndex: (index, member) =>
      write(async () => {
        await client.srem(ix(index), member);
      }),
    listIndex: (index) => call(() => client.smembers(ix(index))),
    deleteIndex: (index) =>
      write(async () => {
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
      if (!subscriber && subscribeAttempts === 0 && !closed) subscribe();
    },
    changesTracked: () => subscribed,
    changesHeardUntil: () => (subscribed ? heardUntil : -Infinity),
    ping: () =>
      call(async () => {
        await client.ping();
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
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

/** Options every connection to a data node shares (the main one, the notices' one, each Cluster node's). */
function connectionOptions(c: RedisConnection, connectTimeout: number, commandTimeout: number): RedisOptions {
  return {
    username: c.username,
    password: c.password,
    tls: tlsOptions(c),
    connectTimeout,
    commandTimeout,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelayMs,
  };
}

function tlsOptions(c: RedisConnection): ConnectionOptions | undefined {
  if (!c.tls) return undefined;
  // Node verifies the certificate against `servername` when given, else against the host connected to.
  return { ...(c.tls.ca ? { ca: c.tls.ca } : {}), ...(c.tls.servername ? { servername: c.tls.servername } : {}) };
}

/**
 * A client of its own on the connection the storage uses (same topology, TLS, credentials and
 * fail-fast options), not yet connected: for the event queue (src/events/redis-queue.ts), whose
 * blocking reads must not hold up the storage's commands.
 */
export function createRedisClient(c: RedisConnection, timeouts: { connectTimeoutMs: number; commandTimeoutMs: number }): Redis | Cluster {
  return createClient(c, connectionOptions(c, timeouts.connectTimeoutMs, timeouts.commandTimeoutMs));
}

function createClient(c: RedisConnection, base: RedisOptions): Redis | Cluster {
  const nodes = c.nodes.map((n) => ({ host: n.host, port: n.port }));
  switch (c.mode) {
    case 'standalone':
      return new Redis({ ...base, ...nodes[0], db: c.db ?? 0, lazyConnect: true });
    case 'sentinel':
      return new Redis({
        ...base,
        db: c.db ?? 0,
        lazyConnect: true,
        sentinels: nodes,
        name: c.sentinelMaster,
        // The sentinels speak TLS when the data nodes do (SAP's bindings have one `tls` flag).
        enableTLSForSentinelMode: base.tls !== undefined,
        sentinelTLS: base.tls,
        sentinelCommandTimeout: base.connectTimeout,
        sentinelRetryStrategy: reconnectDelayMs,
        // Subscribes to the sentinels' +switch-master, so a failover is followed at once rather than
        // when the old master's connection times out.
        failoverDetector: true,
      });
    case 'cluster': {
      const { retryStrategy: _retry, enableOfflineQueue: _queue, ...redisOptions } = base;
      const clusterOptions: ClusterOptions = {
        redisOptions,
        lazyConnect: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: reconnectDelayMs,
        slotsRefreshTimeout: base.connectTimeout,
        // With TLS, connect to the names as given (the certificates carry them), not to the
        // addresses ioredis would look them up to first.
        ...(base.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
      };
      return new Cluster(nodes, clusterOptions);
    }
  }
}

/** A new connection for the notices; undefined when a Cluster has no node known to be up right now. */
function subscriberConnection(client: Redis | Cluster, base: RedisOptions, connectionName: string): Redis | undefined {
  const own = { lazyConnect: true, autoResubscribe: false, retryStrategy: () => null, connectionName } as const;
  if (client instanceof Redis) return client.duplicate(own);
  // Pub/sub in a Cluster is broadcast: a subscriber on any node hears every PUBLISH.
  const nodes = client.nodes('all').filter((n) => n.status === 'ready');
  const node = nodes[Math.floor(Math.random() * nodes.length)];
  if (!node) return undefined;
  return new Redis({ ...base, host: node.options.host, port: node.options.port, ...own });
}

function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (${ms} ms)`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A reply error caused by the command itself (wrong type, not an integer): a bug, not an outage. */
function isCommandError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(err.message);
}

/**
 * A single server from `redis://[[user]:password@]host[:port][/db]` (`rediss://` for TLS with the
 * system CAs). Throws a TypeError for anything else.
 */
export function redisConnectionFromUrl(url: string): RedisConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError('expected a redis:// or rediss:// URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new TypeError('expected a redis:// or rediss:// URL');
  if (!parsed.hostname) throw new TypeError('expected a host in the URL');
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db)) throw new TypeError(`expected a database number after the host, got "/${db}"`);
  return {
    mode: 'standalone',
    nodes: [{ host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: parsed.port ? Number(parsed.port) : 6379 }],
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}
