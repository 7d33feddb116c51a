/**
 * A private, throw-away PostgreSQL server per test file, as test/support/redis-server.ts does for
 * Redis: Debian's `postgresql` package (initdb, postgres under /usr/lib/postgresql/<major>/bin; .ci/run
 * installs it), a cluster initialised in a temp dir, listening on a free port of 127.0.0.1 with its
 * unix socket in that dir, without fsync. The machine's own PostgreSQL service is never used.
 *
 * initdb and postgres refuse to run as root ("cannot be run as root"); CI runs the tests as root, so
 * there they run as Debian's `postgres` system user (runuser), owning the temp dir.
 */
import { execFile, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from './free-port.js';
import { makeServerDir, removeServerDir, spawnServer } from './server-process.js';
import type { TestTls } from './tls.js';

export interface PostgresServerHandle {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication: no password). */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Stops the server (fast shutdown: clients are disconnected), waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Ends the server at once, like a crash (immediate shutdown, no checkpoint); start() recovers. Idempotent. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data (after stop() or kill()); resolves once it accepts connections. */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /**
   * Freezes the postmaster (SIGSTOP), like a hung host: new connections are accepted by the kernel
   * and then hear nothing (the client's connect timeout decides); open sessions keep working.
   */
  pause(): void;
  resume(): void;
  /** Creates an empty database; resolves with its URL (a test's own, isolated from the others). */
  createDatabase(name: string): Promise<string>;
  /** Stops the server for good and removes its directory (afterAll). */
  dispose(): Promise<void>;
}

export interface PostgresServerOptions {
  /** Serve TLS (ssl=on) with this certificate; plain connections stay allowed. */
  tls?: TestTls;
  /** How long start-up may take under load (default 60 s). */
  startTimeoutMs?: number;
}

/** Debian's binaries of the newest installed major version; throws naming the package when absent. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) throw new Error(`no ${root}/*/bin/initdb: install Debian's postgresql package (.ci/run does)`);
  return join(root, newest, 'bin');
}

/** Root runs the server as the `postgres` user; anyone else as themselves. */
function asServerUser(command: string, args: readonly string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, [...args]];
}

function serverUserIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  // node:os has no getpwnam; getent reads the user Debian's package adds.
  let entry = '';
  try {
    entry = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' });
  } catch {
    throw new Error('running as root, but there is no "postgres" system user to run PostgreSQL as (Debian\'s postgresql package creates it)');
  }
  const [, , uid, gid] = entry.trim().split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** initdb into `data`, and the settings of a throw-away test server. */
async function initCluster(
  bin: string,
  dir: string,
  data: string,
  owner: { uid: number; gid: number } | undefined,
  options: PostgresServerOptions,
  timeoutMs: number,
): Promise<void> {
  const initdb = asServerUser(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
  await run(initdb[0], initdb[1], timeoutMs);

  const settings = [
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    // A test server: nothing needs to survive a power cut, and fsync makes every commit wait for the
    // disk. Commits stay synchronous: kill() is a process crash, and must not lose them.
    'fsync = off',
    'full_page_writes = off',
    'max_connections = 100',
    'shared_buffers = 16MB',
    "log_min_messages = 'warning'",
  ];
  if (options.tls) {
    writeFileSync(join(data, 'server.crt'), options.tls.cert);
    writeFileSync(join(data, 'server.key'), options.tls.key, { mode: 0o600 });
    for (const f of ['server.crt', 'server.key']) if (owner) chownSync(join(data, f), owner.uid, owner.gid);
    chmodSync(join(data, 'server.key'), 0o600);
    settings.push('ssl = on', "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'");
  }
  writeFileSync(join(data, 'postgresql.auto.conf'), `${settings.join('\n')}\n`);
  if (owner) chownSync(join(data, 'postgresql.auto.conf'), owner.uid, owner.gid);
}

/** A PostgreSQL server of its own for this test file; call dispose() in afterAll. */
export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServerHandle> {
  const bin = postgresBinDir();
  let port = await freePort();
  const dir = makeServerDir('zonegate-pg-');
  const data = join(dir, 'data');
  const owner = serverUserIds();
  // mkdtemp makes 0700 dirs owned by us; the server user must own it (PostgreSQL insists on 0700 data).
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;

  try {
    await initCluster(bin, dir, data, owner, options, startTimeoutMs);
  } catch (err) {
    removeServerDir(dir);
    throw err;
  }

  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    if (child) return;
    const [command, args] = asServerUser(join(bin, 'postgres'), ['-D', data, '-p', String(port)]);
    const { proc, output } = spawnServer(command, args);
    child = proc;
    proc.once('exit', () => {
      if (child === proc) child = undefined;
    });
    const deadline = Date.now() + startTimeoutMs;
    // Ready when a real connection runs a query: the port may be open while it still recovers. And
    // this server, not another test's that took the port first.
    while (!(await answers(port, data))) {
      if (child !== proc) throw new Error(`postgres exited on port ${port}:\n${output()}`);
      if (Date.now() > deadline) {
        await stopWith('SIGKILL');
        throw new Error(`postgres did not start on port ${port} within ${startTimeoutMs} ms:\n${output()}`);
      }
      await sleep(50);
    }
  };

  // The child is runuser when root, which does not pass signals on: the postmaster is signalled by
  // the pid in postmaster.pid. Its children end with it, so start() finds no old shared memory.
  const signalPostmaster = (signal: NodeJS.Signals): void => {
    const pid = child ? (postmasterPid(data) ?? child.pid) : undefined;
    try {
      if (pid !== undefined) process.kill(pid, signal);
    } catch {
      // Already gone.
    }
    // runuser stops itself when its child stops (as su does, for job control) and waits for a
    // SIGCONT of its own before it would notice the child exit.
    if (signal === 'SIGCONT') child?.kill('SIGCONT');
  };
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // A paused server would not hear the signal.
    signalPostmaster('SIGCONT');
    signalPostmaster(signal);
    await exited;
  };

  const handle: PostgresServerHandle = {
    get url() {
      return `postgres://postgres@127.0.0.1:${port}/postgres`;
    },
    get port() {
      return port;
    },
    dir,
    start,
    // SIGINT: "fast" shutdown, open sessions are ended (SIGTERM would wait for them).
    stop: () => stopWith('SIGINT'),
    // SIGQUIT: "immediate" shutdown, no checkpoint, connections cut: the next start runs crash recovery.
    kill: () => stopWith('SIGQUIT'),
    pause: () => signalPostmaster('SIGSTOP'),
    resume: () => signalPostmaster('SIGCONT'),
    restart: async () => {
      await stopWith('SIGINT');
      await start();
    },
    createDatabase: async (name: string) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name "${name}": lower-case letters, digits and _ only`);
      const client = new pg.Client({ connectionString: handle.url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    dispose: async () => {
      await stopWith('SIGINT');
      removeServerDir(dir);
    },
  };
  // Another process may take the free port before postgres binds it (tests run in parallel): another one.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (attempt < 3 && /could not bind|Address already in use/.test((err as Error).message)) {
        port = await freePort();
        continue;
      }
      removeServerDir(dir);
      throw err;
    }
  }
  return handle;
}

function postmasterPid(data: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function answers(port: number, data: string): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
    return rows[0]?.data_directory === data;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function run(command: string, args: string[], timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout, cwd: tmpdir() }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}


