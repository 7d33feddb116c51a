/**
 * One load run against one target, with the same client settings for every target. A benchmark of
 * error pages is worthless, so every answer must be a 200 with exactly the backend's body: any
 * non-2xx, connection error, timeout or body mismatch fails the run loudly instead of being averaged in.
 */
import http from 'node:http';
import autocannon from 'autocannon';

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
}

export class LoadFailure extends Error {}

export async function measure(target: LoadTarget, settings: LoadSettings): Promise<LoadFigures> {
  await probe(target);
  const warmup = settings.warmupSeconds > 0 ? await run(target, settings.connections, settings.warmupSeconds, 'warm-up') : undefined;
  const before = target.processes.map((p) => p.cpuMs());
  const clientBefore = process.cpuUsage();
  const result = await run(target, settings.connections, settings.seconds, 'measurement');
  const client = process.cpuUsage(clientBefore);
  const perRequest = (us: number) => us / Math.max(1, result.requests.total);
  const cpuPerRequestUs: Record<string, number> = { client: perRequest(client.user + client.system) };
  target.processes.forEach((p, i) => (cpuPerRequestUs[p.name] = perRequest((p.cpuMs() - before[i]!) * 1000)));
  return {
    name: target.name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    handled: 1 + (warmup?.requests.total ?? 0) + result.requests.total,
    seconds: result.duration,
    cpuPerRequestUs,
  };
}

async function run(target: LoadTarget, connections: number, seconds: number, phase: string): Promise<autocannon.Result> {
  const result = await autocannon({
    url: target.url,
    connections,
    duration: seconds,
    timeout: 10,
    headers: { host: target.host, accept: 'application/json' },
    expectBody: target.expectBody,
    title: target.name,
  });
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
    const req = http.get(target.url, { headers: { host: target.host, accept: 'application/json' }, agent: false, timeout: 5_000 }, (res) => {
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
