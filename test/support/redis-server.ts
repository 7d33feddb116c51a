import { execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { adoptServerDir, makeServerDir, removeServerDir, spawnServer } from './server-process.js';
import type { TestTls } from './tls.js';

export interface RedisServerHandle {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, waits for exit). Idempotent. */
  stop(): Promise<void>;
  /** The TLS port when started with `tls`. */
  readonly tlsPort: number | undefined;
  readonly dir: string;
  /** Stops the server for good and removes its directory (afterAll). */
  dispose(): Promise<void>;
  /** Kills the server (SIGKILL): nothing is flushed, replicas get nothing more. Idempotent. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after stop()); resolves once it answers PING. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open but nothing answers, like a hung host. */
  pause(): void;
  resume(): void;
}

export interface RedisServerOptions {
  /** Also listen with TLS (on `tlsPort`) with this certificate; clients need not present one. */
  tls?: TestTls;
  /** The server's working directory (nodes.conf of a cluster node, sentinel.conf); default a new temp dir. */
  dir?: string;
  /** Arguments before the options, e.g. a sentinel's config file. */
  leadingArgs?: readonly string[];
  port?: number;
}

/**
 * A throw-away redis-server for tests that need to stop and restart Redis (outage handling), on a
 * free port of 127.0.0.1, without persistence; `extraArgs` go to redis-server as they are
 * (e.g. `['--requirepass', 'pw']`). Tests that only need a Redis use the shared one at
 * 127.0.0.1:6379 with their own key prefix instead.
 */
export async function startRedisServer(extraArgs: readonly string[] = [], options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const port = options.port ?? (await freePort());
  const tlsPort = options.tls ? await freePort() : undefined;
  const dir = options.dir ? adoptServerDir(options.dir) : makeServerDir('zonegate-redis-');
  const tlsArgs: string[] = [];
  if (options.tls) {
    writeFileSync(join(dir, 'tls.crt'), options.tls.cert);
    writeFileSync(join(dir, 'tls.key'), options.tls.key, { mode: 0o600 });
    tlsArgs.push('--tls-port', String(tlsPort), '--tls-cert-file', join(dir, 'tls.crt'), '--tls-key-file', join(dir, 'tls.key'),
      '--tls-ca-cert-file', options.tls.caFile, '--tls-auth-clients', 'no');
  }
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (child) return;
    const { proc, output } = spawnServer('redis-server', [
      ...(options.leadingArgs ?? []), '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...tlsArgs, ...extraArgs,
    ]);
    child = proc;
    proc.once('exit', () => {
      if (child === proc) child = undefined;
    });
    const deadline = Date.now() + 10_000;
    while (!(await answersPing(port))) {
      if (child !== proc) throw new Error(`redis-server exited on port ${port}:\n${output()}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server did not start on port ${port}:\n${output()}`);
      }
      await sleep(20);
    }
  };

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT');
    proc.kill(signal);
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    tlsPort,
    dir,
    start,
    stop: () => stopWith('SIGTERM'),
    dispose: async () => {
      await stopWith('SIGTERM');
      removeServerDir(dir);
    },
    kill: () => stopWith('SIGKILL'),
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
  };
}

export interface RedisClusterHandle {
  readonly masters: readonly RedisServerHandle[];
  /** `host:port` of every master, as REDIS_CLUSTER_NODES takes them. */
  readonly nodes: readonly { host: string; port: number }[];
  stop(): Promise<void>;
}

/**
 * A real Redis Cluster of `masters` nodes without replicas (redis-cli --cluster create), ready when
 * every node reports cluster_state:ok. Ports are free ones; each node has its own directory.
 */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const servers: RedisServerHandle[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.dispose()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(await startRedisServer(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']));
    }
    await run('redis-cli', ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const deadline = Date.now() + 15_000;
    for (const server of servers) {
      while (!(await redisCli(server.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`cluster not ok on port ${server.port}`);
        await sleep(50);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { masters: servers, nodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })), stop };
}

export interface RedisSentinelHandle {
  /** The name the sentinels monitor the master under. */
  readonly masterName: string;
  readonly master: RedisServerHandle;
  readonly replica: RedisServerHandle;
  readonly sentinels: readonly RedisServerHandle[];
  readonly sentinelNodes: readonly { host: string; port: number }[];
  /** The current master's port, as the sentinels see it. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A master, one replica and three sentinels (quorum 2) that declare the master down after 1 s of
 * silence; ready when every sentinel knows the replica and the other sentinels, so a failover can
 * happen as soon as the test kills the master.
 */
export async function startRedisSentinels(masterName = 'zgmaster'): Promise<RedisSentinelHandle> {
  const started: RedisServerHandle[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.dispose()));
  };
  try {
    // Diskless synchronisation at once (Redis waits 5 s for more replicas by default).
    const master = await startRedisServer(['--repl-diskless-sync-delay', '0']);
    started.push(master);
    const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
    started.push(replica);
    await waitForSync(replica.port);
    const sentinels: RedisServerHandle[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = makeServerDir('zonegate-sentinel-');
      const port = await freePort();
      // Sentinel rewrites its configuration file, so each one has its own, writable.
      writeFileSync(
        join(dir, 'sentinel.conf'),
        [
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 10000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      const sentinel = await startRedisServer(['--sentinel'], { dir, port, leadingArgs: [join(dir, 'sentinel.conf')] });
      sentinels.push(sentinel);
      started.push(sentinel);
    }
    const deadline = Date.now() + 20_000;
    for (const sentinel of sentinels) {
      for (;;) {
        const info = await redisCli(sentinel.port, 'SENTINEL', 'MASTER', masterName);
        if (/num-slaves\n1\n/.test(info) && /num-other-sentinels\n2\n/.test(info)) break;
        if (Date.now() > deadline) throw new Error(`sentinel on ${sentinel.port} did not see the replica and the others:\n${info}`);
        await sleep(100);
      }
    }
    const sentinelNodes = sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
    const masterPort = async () => {
      const reply = await redisCli(sentinels[0]!.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName);
      return Number(reply.trim().split('\n')[1]);
    };
    return { masterName, master, replica, sentinels, sentinelNodes, masterPort, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Resolves once the replica on `port` has its master link up (initial synchronisation done). */
export async function waitForSync(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await redisCli(port, 'INFO', 'replication')).includes('master_link_status:up')) {
    if (Date.now() > deadline) throw new Error(`replica on port ${port} did not synchronise`);
    await sleep(50);
  }
}

/** `redis-cli -p port args...` on 127.0.0.1; its output (empty when the server does not answer). */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  return run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]).catch(() => '');
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}


function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      // NOAUTH also means up and answering (a server started with --requirepass).
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
  });
}

/** Every key under `prefix` on the servers at `ports`, with its value or members: what a dump of them sees. */
export async function dumpKeys(ports: readonly number[], prefix: string): Promise<string> {
  const lines: string[] = [];
  for (const port of ports) {
    const raw = new Redis({ host: '127.0.0.1', port });
    try {
      for (const key of await raw.keys(`${prefix}*`)) {
        const type = await raw.type(key);
        if (type === 'string') lines.push(`${key} ${await raw.get(key)}`);
        if (type === 'set') lines.push(`${key} ${(await raw.smembers(key)).join(' ')}`);
      }
    } finally {
      raw.disconnect();
    }
  }
  return lines.join('\n');
}

/** Polls `check` (a rejection counts as false) until it is true; fails naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}
