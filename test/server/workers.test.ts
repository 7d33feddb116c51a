/**
 * Issue 18, all cores: `zonegate start --workers N` (src/server/workers.ts), the compiled command in
 * its own process, as production runs it. The workers share one port (node:cluster hands each new
 * connection to the next worker) and everything else through the stores: a session made through
 * one worker is used by the others, and a logout through one is honoured by all. The primary passes
 * SIGHUP on, replaces a worker that dies, serves the workers' summed metrics and drains them all on
 * SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoBackend, listenEcho } from '../../src/demo/echo-backend.js';
import { parseExposition } from '../metrics/exposition.js';
import { ROOT } from '../provisioning/gateway-support.js';
import { hiddenFields, ScriptedBrowser } from '../support/browser.js';
import { CLI, runCli, startCli, type RunningCli } from '../support/cli.js';
import { request } from '../support/http.js';

const PASSWORD = 'workers-test-password-1';
const API = '^/api/(.*)$';

let dir: string;
let echo: http.Server;
let env: Record<string, string>;
let gateway: RunningCli;
let metricsPort: number;

/** Resolves once the output holds `text` `times` times. */
async function logged(text: string, times = 1, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = gateway.output();
    if (out.split(text).length - 1 >= times) return out;
    if (Date.now() > deadline) throw new Error(`"${text}" not logged ${times} times: ${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The worker that logged the request `requestId`. */
function workerOf(requestId: string): number {
  const line = gateway.output().split('\n').find((l) => l.includes(`"requestId":"${requestId}"`) && l.includes('"msg":"request"'));
  if (!line) throw new Error(`request ${requestId} not logged`);
  return JSON.parse(line).worker;
}

/** Waits until every request of `ids` is logged (a request is logged when its response has closed). */
async function workersOf(ids: string[]): Promise<Set<number>> {
  for (const id of ids) await logged(`"requestId":"${id}"`);
  return new Set(ids.map(workerOf));
}

function writeRoutes(extra: object[] = []): void {
  fs.writeFileSync(
    path.join(dir, 'routes.json'),
    JSON.stringify({
      authenticationMethod: 'route',
      logout: { logoutEndpoint: '/logout' },
      routes: [...extra, { source: API, target: '/$1', destination: 'echo', authenticationType: 'xsuaa' }],
    }),
  );
}

beforeAll(async () => {
  expect(fs.existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  echo = createEchoBackend();
  const echoUrl = await listenEcho(echo);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-workers-'));
  writeRoutes();
  fs.copyFileSync(path.join(ROOT, 'xs-security.json'), path.join(dir, 'xs-security.json'));
  env = {
    PATH: process.env.PATH ?? '',
    PORT: '0',
    TENANT_HOST_PATTERN: '^([a-z]+)\\.localhost$',
    UAA_DOMAIN: 'auth.localhost',
    ZONEGATE_SECRET_KEY: randomBytes(32).toString('base64'),
    METRICS_PORT: '0',
    destinations: JSON.stringify([{ name: 'echo', url: echoUrl, forwardAuthToken: true }]),
  };
  // The tenant and its user, in the stores the workers will share (the embedded SQLite files).
  const subscribed = await runCli(['tenants', 'subscribe', 'acme'], { cwd: dir, env });
  expect(subscribed.code, subscribed.stderr).toBe(0);
  const user = await runCli(['users', 'create', 'acme', 'alice', '--email', 'alice@acme.example', '--password-stdin', '--role-collection', 'Demo Viewer'], { cwd: dir, env, input: `${PASSWORD}\n` });
  expect(user.code, user.stderr).toBe(0);

  // Two processes start one after the other: under a loaded CI machine that takes a while.
  gateway = await startCli(['start', '--workers', '2'], { cwd: dir, env, readyTimeoutMs: 60_000 });
  const started = (await logged('"msg":"workers started"')).split('\n').find((l) => l.includes('"msg":"workers started"'))!;
  const line = JSON.parse(started);
  expect(line).toMatchObject({ workers: 2, port: gateway.port });
  metricsPort = line.metricsPort;
}, 120_000);

afterAll(async () => {
  if (gateway?.child.exitCode === null) {
    gateway.child.kill('SIGKILL');
    await new Promise((r) => gateway.child.once('exit', r));
  }
  echo?.closeAllConnections();
  await new Promise((r) => echo?.close(r));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('zonegate start --workers 2', () => {
  const base = () => `http://acme.localhost:${gateway.port}`;

  it('serves a session made through one worker from both, and a logout through one ends it at both', async () => {
    const browser = new ScriptedBrowser();
    const start = await browser.get(`${base()}/api/whoami`);
    expect(start.status).toBe(302);
    const page = await browser.get(String(start.headers.location));
    const form = await browser.post(new URL('/login.do', page.url).href, { ...hiddenFields(page.text), username: 'alice', password: PASSWORD });
    expect(form.status).toBe(302);
    expect((await browser.get(String(form.headers.location))).status).toBe(302);

    // Each request on a new connection: the cluster gives connections to the workers in turn.
    const before: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await browser.get(`${base()}/api/whoami`);
      expect(res.status).toBe(200);
      expect(res.json().headers.authorization).toMatch(/^Bearer ey/);
      before.push(String(res.headers['x-request-id']));
    }
    expect(await workersOf(before)).toEqual(new Set([1, 2]));

    const logout = await browser.get(`${base()}/logout`);
    expect(logout.status).toBe(302);
    // The bound: a worker looks for other processes' writes to the SQLite store when a request comes
    // 20 ms or more after its last look (src/storage/sqlite.ts, CHANGE_POLL_MS); Redis announces them.
    await new Promise((r) => setTimeout(r, 50));
    const after: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await browser.get(`${base()}/api/whoami`);
      // Sent to log in again, by either worker: within the store's change-notice bound, at once here.
      expect(res.status).toBe(302);
      expect(String(res.headers.location)).toContain('/oauth/authorize');
      after.push(String(res.headers['x-request-id']));
    }
    expect(await workersOf(after)).toEqual(new Set([1, 2]));
  }, 60_000);

  it("serves the workers' metrics summed on METRICS_PORT", async () => {
    const res = await request(metricsPort, { path: '/metrics' });
    expect(res.status).toBe(200);
    const m = parseExposition(res.text);
    // The previous test's 8 answered with the session, by both workers.
    expect(m.value('zonegate_http_requests_total', { route: API, method: 'GET', status_class: '2xx' })).toBe(8);
    expect(m.value('zonegate_storage_up', { kind: 'sqlite' })).toBe(1);
  });

  it('passes SIGHUP on: every worker reloads its configuration', async () => {
    writeRoutes([{ source: '^/open/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }]);
    gateway.child.kill('SIGHUP');
    const out = await logged('"msg":"configuration reloaded"', 2);
    const workers = out.split('\n').filter((l) => l.includes('"msg":"configuration reloaded"')).map((l) => JSON.parse(l).worker);
    expect(new Set(workers)).toEqual(new Set([1, 2]));
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(gateway.port, { host: `acme.localhost:${gateway.port}`, path: '/open/x' });
      expect(res.status).toBe(200);
      ids.push(String(res.headers['x-request-id']));
    }
    expect((await workersOf(ids)).size).toBe(2);
  }, 60_000);

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const started = JSON.parse(gateway.output().split('\n').find((l) => l.includes('"msg":"workers started"'))!);
    const [victim] = started.pids as number[];
    process.kill(victim!, 'SIGKILL');
    await logged('"msg":"a worker exited"');
    // The other worker takes every connection until the new one serves.
    expect((await request(gateway.port, { host: `acme.localhost:${gateway.port}`, path: '/open/y' })).status).toBe(200);
    const out = await logged('"msg":"worker replaced"');
    expect(JSON.parse(out.split('\n').find((l) => l.includes('"msg":"worker replaced"'))!).workers).toBe(2);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(String((await request(gateway.port, { host: `acme.localhost:${gateway.port}`, path: '/open/z' })).headers['x-request-id']));
    // Worker ids are never reused: the replacement is worker 3.
    expect(await workersOf(ids)).toEqual(new Set([2, 3]));
  }, 90_000);

  it('drains every worker on SIGTERM and exits 0', async () => {
    const listening = gateway.output().split('\n').filter((l) => l.includes('"msg":"listening"')).map((l) => JSON.parse(l).worker);
    expect(listening.length).toBeGreaterThanOrEqual(3);
    const exited = new Promise<number | null>((r) => gateway.child.once('exit', (code) => r(code)));
    gateway.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const out = gateway.output();
    expect(out.split('\n').filter((l) => l.includes('"msg":"shutting down"')).length).toBe(2);
  }, 60_000);
});

describe('--workers refused', () => {
  it('names the option for a count that is not one, before reading anything', async () => {
    for (const value of ['0', 'two', '65', '1.5']) {
      const res = await runCli(['start', '--workers', value], { cwd: os.tmpdir(), env: { PATH: process.env.PATH ?? '' } });
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`--workers: expected "auto" or a whole number from 1 to 64, got "${value}"`);
    }
  });

  it('refuses METRICS_TOKEN without METRICS_PORT: a scrape on the shared port would reach one worker', async () => {
    const res = await runCli(['start', '--workers', '2'], { cwd: dir, env: { ...env, METRICS_PORT: '', METRICS_TOKEN: 'a-long-enough-metrics-token-123' } });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('METRICS_TOKEN without METRICS_PORT');
  });
});
