/**
 * One load run against one target, with the same client settings for every target. A benchmark of
 * error pages is worthless, so every answer must be a 200 with exactly the backend's body: any
 * non-2xx, connection error, timeout or body mismatch fails the run loudly instead of being averaged in.
 */
import fs from 'node:fs';
import http from 'node:http';
import autocannon from 'autocannon';
import { median } from './report.js';

export interface LoadSettings {
  connections: number;
  seconds: number;
  warmupSeconds: number;
}

export interface LoadTarget {
  name: string;
  /** `http://127.0.0.1:<port><path>`. */
  url: string;
  /** Sent as `Host` (the tenant's host for the gateway). */
  host: string;
  /** The only body accepted. */
  expectBody: string;
  /** Sent with every request besides Host and Accept (the session cookie of an authenticated target). */
  headers?: Record<string, string>;
  /** One `Cookie` header per request, in turn (many users' sessions); the probe uses the first. */
  cookies?: readonly string[];
  /**
   * With `cookies`: one request per cookie before the warm-up (every session's first request in this
   * round, measured on its own as `firstPass`), so that the measurement shows the steady state.
   */
  firstPass?: boolean;
  /** Processes whose CPU time per request is reported (the target and what it forwards to). */
  processes: readonly { name: string; cpuMs(): number }[];
}

export interface LoadFigures {
  name: string;
  /** Mean of autocannon's per-second samples. */
  rps: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  /** Completed requests in the measured window. */
  requests: number;
  /** Completed requests including the probe and the warm-up (what the target handled in all). */
  handled: number;
  seconds: number;
  /** CPU microseconds per completed request, per process, in the measured window; `client` = autocannon. */
  cpuPerRequestUs: Record<string, number>;
  /**
   * Cores busy with processes other than the benchmark's (user+system time of the whole machine
   * minus ours) and cores stolen by the hypervisor, during the measured window. On a shared
   * 2-core machine these move the figures more than anything measured; above ~0.1 the run is disturbed.
   */
  otherCores: number;
  stolenCores: number;
  /** The first pass over `cookies` (LoadTarget.firstPass): one request per session. */
  firstPass?: { requests: number; rps: number; cpuPerRequestUs: Record<string, number> };
}

export class LoadFailure extends Error {}

export async function measure(target: LoadTarget, settings: LoadSettings): Promise<LoadFigures> {
  const ready = await prepare(target, settings);
  return figures(target, ready, [await measuredWindow(target, settings.connections, settings.seconds, 0)]);
}

/** One cycle's requests/s of each target, in the order given to measureInterleaved. */
export type CycleRates = number[];

/**
 * Targets measured in turns, for ratios that a machine whose speed moves within minutes cannot skew:
 * each is probed, given its first pass and warmed up, then `cycles` cycles load each for
 * `sliceSeconds` in turn, the order reversed every other cycle (A B C, C B A, A B C, ...). The targets'
 * rates within one cycle were measured seconds apart, and a target placed in the middle runs next to
 * each of the others in every cycle. Each connection goes on through its share of the cookies from
 * about where its last slice stopped, so every session is used, whatever the slice's length.
 * The figures per target are over all its slices (`rps` is their requests over their seconds; p50
 * and p99 are the medians of the slices'); `cycles` holds each cycle's rates.
 */
export async function measureInterleaved(
  targets: readonly LoadTarget[],
  settings: LoadSettings & { cycles: number; sliceSeconds: number },
): Promise<{ figures: LoadFigures[]; cycles: CycleRates[] }> {
  const ready: Prepared[] = [];
  for (const t of targets) ready.push(await prepare(t, settings));
  const windows: Window[][] = targets.map(() => []);
  const cursors = targets.map(() => 0);
  const cycles: CycleRates[] = [];
  for (let c = 0; c < settings.cycles; c++) {
    const rates: CycleRates = new Array<number>(targets.length).fill(0);
    const order = targets.map((_, i) => i);
    for (const i of c % 2 === 0 ? order : order.reverse()) {
      const w = await measuredWindow(targets[i]!, settings.connections, settings.sliceSeconds, cursors[i]!);
      cursors[i]! += Math.ceil(w.result.requests.total / settings.connections);
      windows[i]!.push(w);
      rates[i] = w.result.requests.total / (w.elapsedMs / 1000);
    }
    cycles.push(rates);
  }
  return { figures: targets.map((t, i) => figures(t, ready[i]!, windows[i]!)), cycles };
}

/** What happens before a target's measured window: the probe, the first pass, the warm-up. */
interface Prepared {
  firstPass?: LoadFigures['firstPass'];
  /** Requests handled before the window, the probe included. */
  handled: number;
}

async function prepare(target: LoadTarget, settings: LoadSettings): Promise<Prepared> {
  await probe(target);
  let firstPass: LoadFigures['firstPass'];
  if (target.firstPass && target.cookies?.length) {
    const before = target.processes.map((p) => p.cpuMs());
    const startedAt = performance.now();
    const result = await run(target, settings.connections, { amount: target.cookies.length }, 'first pass');
    const seconds = (performance.now() - startedAt) / 1000;
    const cpuPerRequestUs: Record<string, number> = {};
    target.processes.forEach((p, i) => (cpuPerRequestUs[p.name] = ((p.cpuMs() - before[i]!) * 1000) / Math.max(1, result.requests.total)));
    firstPass = { requests: result.requests.total, rps: result.requests.total / seconds, cpuPerRequestUs };
  }
  const warmup = settings.warmupSeconds > 0 ? await run(target, settings.connections, settings.warmupSeconds, 'warm-up') : undefined;
  return { ...(firstPass ? { firstPass } : {}), handled: 1 + (firstPass?.requests ?? 0) + (warmup?.requests.total ?? 0) };
}

/** One measured window of load and what every process and the machine spent in it. */
interface Window {
  result: autocannon.Result;
  elapsedMs: number;
  /** CPU milliseconds of each of the target's processes, in their order. */
  processMs: number[];
  clientUs: number;
  machineBusy: number;
  machineSteal: number;
}

async function measuredWindow(target: LoadTarget, connections: number, seconds: number, cursor: number): Promise<Window> {
  const before = target.processes.map((p) => p.cpuMs());
  const clientBefore = process.cpuUsage();
  const machineBefore = machineTicks();
  const startedAt = performance.now();
  const result = await run(target, connections, seconds, 'measurement', cursor);
  const client = process.cpuUsage(clientBefore);
  const machine = machineTicks();
  return {
    result,
    elapsedMs: performance.now() - startedAt,
    processMs: target.processes.map((p, i) => p.cpuMs() - before[i]!),
    clientUs: client.user + client.system,
    machineBusy: machine.busy - machineBefore.busy,
    machineSteal: machine.steal - machineBefore.steal,
  };
}

/** A target's figures over its measured windows (one, or the slices of an interleaved measurement). */
function figures(target: LoadTarget, ready: Prepared, windows: readonly Window[]): LoadFigures {
  const sum = (of: (w: Window) => number) => windows.reduce((n, w) => n + of(w), 0);
  const requests = sum((w) => w.result.requests.total);
  const elapsedMs = sum((w) => w.elapsedMs);
  const clientUs = sum((w) => w.clientUs);
  const perRequest = (us: number) => us / Math.max(1, requests);
  const cpuPerRequestUs: Record<string, number> = { client: perRequest(clientUs) };
  let oursMs = clientUs / 1000;
  target.processes.forEach((p, i) => {
    const ms = sum((w) => w.processMs[i]!);
    oursMs += ms;
    cpuPerRequestUs[p.name] = perRequest(ms * 1000);
  });
  const tickMs = 1000 / TICKS_PER_SECOND;
  const only = windows.length === 1 ? windows[0]! : undefined;
  return {
    name: target.name,
    // One window: the mean of autocannon's per-second samples; slices of two seconds have too few.
    rps: only ? only.result.requests.average : requests / (elapsedMs / 1000),
    p50: only ? only.result.latency.p50 : median(windows.map((w) => w.result.latency.p50)),
    p99: only ? only.result.latency.p99 : median(windows.map((w) => w.result.latency.p99)),
    requests,
    handled: ready.handled + requests,
    seconds: sum((w) => w.result.duration),
    cpuPerRequestUs,
    otherCores: Math.max(0, (sum((w) => w.machineBusy) * tickMs - oursMs) / elapsedMs),
    stolenCores: (sum((w) => w.machineSteal) * tickMs) / elapsedMs,
    ...(ready.firstPass ? { firstPass: ready.firstPass } : {}),
  };
}

/** USER_HZ: the unit of /proc/stat and /proc/<pid>/stat (proc(5)); 100 on every Linux build. */
const TICKS_PER_SECOND = 100;

/** Machine-wide user+nice+system and steal ticks, from the `cpu` line of /proc/stat. */
function machineTicks(): { busy: number; steal: number } {
  try {
    const [user = 0, nice = 0, system = 0, , , , , steal = 0] = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { busy: user + nice + system, steal };
  } catch {
    return { busy: Number.NaN, steal: Number.NaN };
  }
}

/**
 * `seconds` of load, or `{ amount }` requests. With cookies, each connection starts its share at
 * `cursor` (modulo its length): where an earlier slice of the same target left off.
 */
async function run(target: LoadTarget, connections: number, length: number | { amount: number }, phase: string, cursor = 0): Promise<autocannon.Result> {
  const { cookies } = target;
  // autocannon checks expectBody only without `requests`; with them each answer is checked here.
  let mismatches = 0;
  const onResponse = (_status: number, body: string) => {
    if (body !== target.expectBody) mismatches++;
  };
  // Many cookies: connection k sends cookies k, k + connections, k + 2 connections, ... in turn, each
  // request built once before the run (autocannon rebuilds a request per send only when it has a
  // setupRequest, which would cost the shared cores about as much client CPU again as the request
  // itself). With `amount` autocannon gives connection k exactly as many requests as it has cookies
  // (run.js distributeNums), so a first pass sends each cookie once. Fewer cookies than connections:
  // connection k sends cookie k modulo their number.
  let connection = 0;
  const ownShare = (client: autocannon.Client) => {
    const k = connection++ % cookies!.length;
    const share: autocannon.RequestSpec[] = [];
    for (let i = k; i < cookies!.length; i += connections) share.push({ headers: { cookie: cookies![i]! }, onResponse });
    const from = cursor % share.length;
    client.setRequests(from ? [...share.slice(from), ...share.slice(0, from)] : share);
  };
  const result = await autocannon({
    url: target.url,
    connections,
    ...(typeof length === 'number' ? { duration: length } : { amount: length.amount }),
    timeout: 10,
    headers: { ...target.headers, host: target.host, accept: 'application/json' },
    ...(cookies?.length ? { setupClient: ownShare, requests: [{ onResponse }] } : { expectBody: target.expectBody }),
    title: target.name,
  });
  result.mismatches += mismatches;
  const problems = verdict(result);
  if (problems.length) throw new LoadFailure(`${target.name} (${phase}): ${problems.join('; ')}`);
  return result;
}

/** What makes a run's figures meaningless; empty when every answer was the backend's 200. */
export function verdict(result: autocannon.Result): string[] {
  const problems: string[] = [];
  if (result.non2xx > 0) {
    const codes = Object.entries(result.statusCodeStats)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, { count }]) => `${count}x ${code}`);
    problems.push(`${result.non2xx} non-2xx responses (${codes.join(', ')})`);
  }
  if (result.errors > 0) problems.push(`${result.errors} connection errors (${result.timeouts} of them timeouts)`);
  if (result.mismatches > 0) problems.push(`${result.mismatches} responses with a body other than the backend's`);
  if (result.requests.total === 0) problems.push('no request completed');
  return problems;
}

/** One request first, so a misconfigured target fails with its actual answer, not just a count. */
async function probe(target: LoadTarget): Promise<void> {
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const headers = { ...target.headers, ...(target.cookies?.length ? { cookie: target.cookies[0]! } : {}), host: target.host, accept: 'application/json' };
    const req = http.get(target.url, { headers, agent: false, timeout: 5_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
  }).catch((err: Error) => {
    throw new LoadFailure(`${target.name}: probe request to ${target.url} failed: ${err.message}`);
  });
  if (status !== 200 || body !== target.expectBody) {
    throw new LoadFailure(`${target.name}: probe ${target.url} (Host: ${target.host}) answered ${status} ${body.slice(0, 300)}`);
  }
}
