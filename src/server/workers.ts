/**
 * `zonegate start --workers N|auto` (issue 18, all cores): N processes serve the same port through
 * node:cluster, as `pm2 -i` or SAP's router under a process manager would, with nothing to set up.
 * The primary serves nothing itself: it starts the workers, restarts one that dies, passes SIGHUP on
 * (each worker reloads its configuration), drains them all on SIGTERM/SIGINT, and, with METRICS_PORT,
 * serves the sum of the workers' metrics (prom-client's AggregatorRegistry).
 *
 * Workers share everything through the stores, as separate instances do: sessions, login state and
 * change notices in the key/TTL store (SQLite in WAL mode from several processes, or Redis), records
 * in the records database. A session made by one worker is used by any; a logout through one is
 * seen by the others within the store's change-notice bound (SQLite: its data_version poll).
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsSettings } from '../config/environment.js';
import type { Logger } from '../log.js';
import { serveMetrics, startMetricsListener, type MetricsListener } from '../metrics/scrape.js';

/** What a worker tells the primary once it serves. */
export const LISTENING_MESSAGE = 'zonegate:listening';

export const MAX_WORKERS = 64;
/** More unexpected exits than this within RESTART_WINDOW_MS stop the whole group: a worker that cannot stay up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 1000;

/**
 * `--workers` as given: `auto` is the cores this process may use (os.availableParallelism), else a
 * whole number from 1 to MAX_WORKERS. Returns the count, or the problem in words.
 */
export function parseWorkers(value: string): number | { problem: string } {
  if (value === 'auto') return Math.min(os.availableParallelism(), MAX_WORKERS);
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_WORKERS) return { problem: `--workers: expected "auto" or a whole number from 1 to ${MAX_WORKERS}, got "${value}"` };
  return n;
}

/** Why a configuration cannot run in several workers; undefined when it can. */
export function workersProblem(workers: number, metrics: MetricsSettings | undefined): string | undefined {
  if (workers > 1 && metrics !== undefined && metrics.port === undefined) {
    return 'METRICS_TOKEN without METRICS_PORT: with --workers, each worker counts its own requests and a scrape on the gateway\'s port would reach one of them; set METRICS_PORT, where the primary serves their sum';
  }
  return undefined;
}

/** In a worker: tells the primary that it serves on `port`. */
export function reportListening(port: number): void {
  if (cluster.isWorker) process.send?.({ type: LISTENING_MESSAGE, port });
}

export interface WorkersOptions {
  workers: number;
  logger: Logger;
  metrics: MetricsSettings | undefined;
  /** SHUTDOWN_TIMEOUT_MS: how long a worker may drain before it is killed. */
  shutdownTimeoutMs: number;
}

/**
 * Runs the primary: resolves with the exit code once the workers have stopped (0 after a clean
 * drain). The first worker starts alone, so that the one-time work of a start (migrations, the
 * installation row, the provider zone) is done once; the others start after it serves.
 */
export async function runWorkers(options: WorkersOptions): Promise<number> {
  const { logger } = options;
  const live = new Set<Worker>();
  const restarts: number[] = [];
  let stopping = false;
  let failed = false;
  let port: number | undefined;
  let metricsListener: MetricsListener | undefined;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  /** Starts one worker; resolves with its port once it serves, or undefined if it exits first. */
  const fork = (): Promise<number | undefined> => {
    const worker = cluster.fork();
    live.add(worker);
    return new Promise((resolve) => {
      worker.on('message', (message: { type?: string; port?: number }) => {
        if (message?.type === LISTENING_MESSAGE) resolve(message.port);
      });
      worker.once('exit', (code, signal) => {
        live.delete(worker);
        resolve(undefined);
        if (stopping) {
          if (code !== 0) failed = true;
          if (live.size === 0) void closeAndFinish();
          return;
        }
        logger.error('a worker exited', { worker: worker.id, pid: worker.process.pid, code, signal });
        void replace();
      });
    });
  };

  const replace = async () => {
    const now = Date.now();
    while (restarts.length > 0 && now - restarts[0]! > RESTART_WINDOW_MS) restarts.shift();
    restarts.push(now);
    if (restarts.length > MAX_RESTARTS) {
      logger.error('workers keep exiting: stopping them all', { restarts: restarts.length, withinMs: RESTART_WINDOW_MS });
      failed = true;
      stop('restarts');
      return;
    }
    await new Promise((r) => setTimeout(r, RESTART_DELAY_MS).unref());
    if (stopping) return;
    const replaced = await fork();
    if (replaced !== undefined) logger.info('worker replaced', { workers: live.size });
  };

  const closeAndFinish = async () => {
    await metricsListener?.close();
    finish(failed ? 1 : 0);
  };

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping the workers', { signal, workers: live.size });
    if (live.size === 0) return void closeAndFinish();
    for (const worker of live) worker.process.kill('SIGTERM');
    // A worker that does not drain within its own timeout (and a margin) is killed.
    setTimeout(() => {
      for (const worker of live) worker.process.kill('SIGKILL');
    }, options.shutdownTimeoutMs + 5000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    logger.info('reloading the configuration in every worker', { signal: 'SIGHUP', workers: live.size });
    for (const worker of live) worker.process.kill('SIGHUP');
  });

  port = await fork();
  if (port === undefined) {
    // It printed why (the same start-up as without --workers); the others would fail alike.
    stopping = true;
    return 1;
  }
  for (let i = 1; i < options.workers && !stopping; i++) {
    if ((await fork()) === undefined && !stopping) {
      logger.error('a worker could not start', { started: live.size, workers: options.workers });
    }
  }
  if (options.metrics?.port !== undefined && !stopping) {
    const aggregator = new AggregatorRegistry();
    const registry = { metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType } as unknown as Registry;
    const token = options.metrics.token;
    metricsListener = await startMetricsListener(options.metrics.port, options.metrics.host, (req, res) => serveMetrics(registry, token, req, res));
  }
  logger.info('workers started', { workers: live.size, port, metricsPort: metricsListener?.port, pids: [...live].map((w) => w.process.pid) });
  return finished;
}
