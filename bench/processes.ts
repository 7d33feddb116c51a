/**
 * The benchmark's child processes: started one by one, ready when they print the `listening` line,
 * and always stopped, on success, on failure, and on Ctrl-C. Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

export interface ServerSpec {
  name: string;
  /** Node.js arguments: flags, then the script and its arguments. */
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Where the child's stdout goes. Without it stdout is piped to us and read for the listening
   * line; with it (the gateway: request logs go to a file, as a deployment pipes stdout to a
   * collector) the file is polled for that line instead, and we read nothing while it runs.
   */
  stdoutFile?: string;
  readyTimeoutMs?: number;
  /**
   * Lets the benchmark run a full garbage collection in the child (RunningChild.collectGarbage):
   * the child gets `--inspect-port=127.0.0.1:0`, which opens nothing until it receives SIGUSR1.
   */
  collectable?: boolean;
}

export interface RunningChild {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** Resident and peak resident set size in MiB, from /proc (Linux). */
  memory(): { rssMiB: number; peakMiB: number } | undefined;
  /** User + system CPU time used so far, in milliseconds (/proc, 10 ms resolution). */
  cpuMs(): number;
  /**
   * A full garbage collection in the child (ServerSpec.collectable), so that its memory shows what
   * it holds rather than what the collector has yet to free: the child's inspector, opened with
   * SIGUSR1 on a port it picks, runs HeapProfiler.collectGarbage twice. Resolves with the V8 heap
   * in use after it, in MiB.
   */
  collectGarbage(): Promise<number>;
  stop(): Promise<void>;
}

const STDERR_KEEP = 8 * 1024;
const watchScript = fileURLToPath(new URL('./parent-watch.js', import.meta.url));

export class ChildProcesses {
  readonly #live = new Set<ChildProcess>();

  constructor() {
    // Last resort if the benchmark exits without its finally blocks (process.exit, a throw in a
    // handler): nothing asynchronous runs any more, so only a synchronous SIGKILL is left.
    process.once('exit', () => {
      for (const child of this.#live) child.kill('SIGKILL');
    });
  }

  async start(spec: ServerSpec): Promise<RunningChild> {
    const out = spec.stdoutFile ? fs.openSync(spec.stdoutFile, 'a') : 'pipe';
    const child = spawn(process.execPath, ['--import', watchScript, ...(spec.collectable ? ['--inspect-port=127.0.0.1:0'] : []), ...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', out, 'pipe', 'ipc'],
    });
    if (typeof out === 'number') fs.closeSync(out);
    this.#live.add(child);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    void exited.then(() => this.#live.delete(child));
    child.on('error', () => {});

    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });

    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      if (await within(exited, 8_000)) return;
      child.kill('SIGKILL');
      await within(exited, 2_000);
    };

    let port: number;
    try {
      port = await this.#ready(spec, child, exited, () => stderr);
    } catch (err) {
      await stop();
      throw err;
    }
    let inspectorUrl: string | undefined;
    // Not read any more: drain so a chatty child can never block on a full pipe.
    child.stdout?.resume();
    return {
      name: spec.name,
      pid: child.pid!,
      port,
      memory: () => memoryOf(child.pid!),
      // With its workers (zonegate start --workers): the CPU of a live child is not in its parent's.
      cpuMs: () => descendantsOf(child.pid!).reduce((sum, pid) => sum + cpuMsOf(pid), cpuMsOf(child.pid!)),
      collectGarbage: async () => {
        if (!spec.collectable) throw new Error(`${spec.name}: started without collectable`);
        if (inspectorUrl === undefined) {
          child.kill('SIGUSR1');
          for (let waited = 0; (inspectorUrl = /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1]) === undefined; waited += 50) {
            if (waited > 10_000) throw new Error(`${spec.name}: no inspector within 10 s of SIGUSR1`);
            await sleep(50);
          }
        }
        return collectThrough(inspectorUrl);
      },
      stop,
    };
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.#live].map(async (child) => {
        const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
        child.kill('SIGTERM');
        if (!(await within(exited, 8_000))) {
          child.kill('SIGKILL');
          await within(exited, 2_000);
        }
      }),
    );
  }

  async #ready(spec: ServerSpec, child: ChildProcess, exited: Promise<void>, stderr: () => string): Promise<number> {
    const timeoutMs = spec.readyTimeoutMs ?? 20_000;
    const failure = (why: string) => new Error(`${spec.name} did not start: ${why}${stderr() ? `\n--- its stderr ---\n${stderr().trimEnd()}` : ''}`);
    const died = exited.then(() => {
      throw failure(`exited with ${child.exitCode ?? child.signalCode}`);
    });
    died.catch(() => {});

    if (!spec.stdoutFile) {
      const fromPipe = new Promise<number>((resolve) => {
        let buffered = '';
        const onData = (chunk: string) => {
          buffered += chunk;
          const port = listeningPort(buffered);
          if (port !== undefined) {
            child.stdout!.off('data', onData);
            resolve(port);
          }
        };
        child.stdout!.setEncoding('utf8').on('data', onData);
      });
      const started = Promise.race([fromPipe, died]);
      if (!(await within(started, timeoutMs))) throw failure(`no "listening" line within ${timeoutMs} ms`);
      return started;
    }

    const file = spec.stdoutFile;
    const deadline = Date.now() + timeoutMs;
    let dead = false;
    died.catch(() => (dead = true));
    while (Date.now() < deadline) {
      const port = listeningPort(readHead(file));
      if (port !== undefined) return port;
      if (dead) await died;
      await sleep(50);
    }
    throw failure(`no "listening" line in ${file} within ${timeoutMs} ms`);
  }
}

/**
 * Two full garbage collections through a Node.js inspector (Chrome DevTools Protocol over a
 * WebSocket), then the V8 heap in use, in MiB.
 */
async function collectThrough(url: string): Promise<number> {
  const socket = new WebSocket(url);
  let id = 0;
  const call = async (method: string): Promise<Record<string, unknown>> => {
    const sent = ++id;
    const answered = new Promise<Record<string, unknown>>((resolve, reject) => {
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
        if (message.id !== sent) return;
        socket.off('message', onMessage);
        if (message.error) reject(new Error(`${method}: ${message.error.message}`));
        else resolve(message.result ?? {});
      };
      socket.on('message', onMessage);
    });
    socket.send(JSON.stringify({ id: sent, method }));
    if (!(await within(answered, 30_000))) throw new Error(`${method}: no answer within 30 s`);
    return answered;
  };
  try {
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const { usedSize } = await call('Runtime.getHeapUsage');
    if (typeof usedSize !== 'number') throw new Error('Runtime.getHeapUsage: no usedSize');
    return usedSize / 2 ** 20;
  } finally {
    socket.close();
  }
}

/** The port from a `{"msg":"listening","port":N}` line, if one is complete. */
export function listeningPort(text: string): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.includes('"listening"')) continue;
    try {
      const record = JSON.parse(line) as { msg?: unknown; port?: unknown };
      if (record.msg === 'listening' && typeof record.port === 'number') return record.port;
    } catch {
      // A line still being written; the next poll sees it whole.
    }
  }
  return undefined;
}

function readHead(file: string): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(64 * 1024);
      const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
      return buffer.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function memoryOf(pid: number): { rssMiB: number; peakMiB: number } | undefined {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

const TICKS_PER_SECOND = 100;

/** The live processes below `pid` (children, their children, ...), from /proc. */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The 4th field, after the parenthesised command name: the parent's pid.
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(parent);
      if (list) list.push(Number(entry));
      else children.set(parent, [Number(entry)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const out: number[] = [];
  const visit = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      visit(c);
    }
  };
  visit(pid);
  return out;
}

function cpuMsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may itself contain spaces): utime is the
    // 14th field of the line, stime the 15th (proc(5)); both in clock ticks, USER_HZ = 100 on Linux.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}
