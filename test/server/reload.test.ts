/**
 * Issue 17, Operate: reload without restart. The compiled `zonegate start` in its own process:
 * SIGHUP (or, opted in, a change to the files) reads routes.json and default-env.json's
 * destinations again; a valid configuration is served from then on, an invalid one is refused and
 * the running one keeps serving; requests under way finish with the configuration they began with.
 */
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEchoBackend, listenEcho } from '../../src/demo/echo-backend.js';
import { CLI, startCli, type RunningCli } from '../support/cli.js';
import { request } from '../support/http.js';
import { parseExposition } from '../metrics/exposition.js';

let first: http.Server;
let second: http.Server;
let firstUrl: string;
let secondUrl: string;
let dir: string;
let gateway: RunningCli | undefined;

const echoRoute = { source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' };
const secondRoute = { source: '^/second/(.*)$', target: '/$1', destination: 'second', authenticationType: 'none' };

function writeConfig(routes: object[], destinations: object[], more: Record<string, unknown> = {}): void {
  fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify({ routes }, null, 2));
  fs.writeFileSync(path.join(dir, 'default-env.json'), JSON.stringify({ destinations, ...more }, null, 2));
}

/** Resolves once the process has printed `text` `times` times in all. */
async function logged(text: string, times = 1, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = gateway!.output();
    if (out.split(text).length - 1 >= times) return out;
    if (Date.now() > deadline) throw new Error(`"${text}" not logged ${times} times: ${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function start(env: Record<string, string> = {}): Promise<RunningCli> {
  return startCli(['start'], { cwd: dir, env: { PATH: process.env.PATH ?? '', PORT: '0', ...env } });
}

beforeAll(async () => {
  expect(fs.existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  first = createEchoBackend();
  second = createEchoBackend();
  firstUrl = await listenEcho(first);
  secondUrl = await listenEcho(second);
});

afterEach(async () => {
  if (gateway && gateway.child.exitCode === null) {
    gateway.child.kill('SIGTERM');
    await new Promise((r) => gateway!.child.once('exit', r));
  }
  gateway = undefined;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

afterAll(async () => {
  for (const server of [first, second]) {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

describe('SIGHUP', () => {
  it('serves a new route to a new destination; a request under way finishes with the configuration it began with', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-reload-'));
    writeConfig([echoRoute], [{ name: 'echo', url: firstUrl }]);
    gateway = await start();
    const { port } = gateway;
    expect((await request(port, { path: '/second/hello' })).status).toBe(404);

    // Under way across the reload, to a destination whose settings change: its old connection
    // must not be closed under it.
    const slow = request(port, { path: '/echo/slow/800' });
    await new Promise((r) => setTimeout(r, 150));
    writeConfig([echoRoute, secondRoute], [{ name: 'echo', url: firstUrl, timeout: 20_000 }, { name: 'second', url: secondUrl }]);
    gateway.child.kill('SIGHUP');
    const out = await logged('"msg":"configuration reloaded"');
    const line = JSON.parse(out.split('\n').find((l) => l.includes('"msg":"configuration reloaded"'))!);
    expect(line).toMatchObject({ routes: 2, destinations: 2, added: ['second'], removed: [], changed: ['echo'] });
    expect(line.needsRestart).toBeUndefined();

    const routed = await request(port, { path: '/second/hello' });
    expect(routed.status).toBe(200);
    expect(routed.json()).toMatchObject({ url: '/hello', headers: { host: new URL(secondUrl).host } });
    expect((await request(port, { path: '/echo/again' })).status).toBe(200);
    const finished = await slow;
    expect(finished.status).toBe(200);
    expect(finished.json()).toMatchObject({ url: '/slow/800' });
    expect(gateway.child.exitCode).toBeNull();
  });

  it('refuses an invalid configuration, naming the file and the JSON path, and keeps serving the last good one; metrics count both', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-reload-'));
    writeConfig([echoRoute], [{ name: 'echo', url: firstUrl }]);
    const token = 'reload-metrics-token-0123456789';
    gateway = await start({ METRICS_TOKEN: token });
    const { port } = gateway;
    const scrape = async () => parseExposition((await request(port, { path: '/metrics', headers: { authorization: `Bearer ${token}` } })).text);
    const atStart = await scrape();
    expect(atStart.value('zonegate_config_reloads_total', { outcome: 'refused' })).toBe(0);
    const startedAt = atStart.value('zonegate_config_last_applied_timestamp_seconds');
    expect(Math.abs(startedAt - Date.now() / 1000)).toBeLessThan(120);

    writeConfig([echoRoute, { source: '^/x/(.*)$', target: '/$1', destination: 'nowhere' }], [{ name: 'echo', url: firstUrl }]);
    gateway.child.kill('SIGHUP');
    const out = await logged('configuration reload refused');
    const line = JSON.parse(out.split('\n').find((l) => l.includes('configuration reload refused'))!);
    expect(line.level).toBe('error');
    expect(line.problems.join('\n')).toContain(`${path.join(dir, 'routes.json')} at /routes/1/destination`);
    expect((await request(port, { path: '/echo/still' })).status).toBe(200);
    expect((await request(port, { path: '/x/y' })).status).toBe(404);

    // A file that is not JSON at all: refused the same way; then a good one is taken.
    fs.writeFileSync(path.join(dir, 'routes.json'), '{ "routes": [');
    gateway.child.kill('SIGHUP');
    await logged('configuration reload refused', 2);
    expect((await request(port, { path: '/echo/still' })).status).toBe(200);

    writeConfig([secondRoute], [{ name: 'second', url: secondUrl }]);
    gateway.child.kill('SIGHUP');
    await logged('"msg":"configuration reloaded"');
    expect((await request(port, { path: '/second/now' })).status).toBe(200);
    expect((await request(port, { path: '/echo/gone' })).status).toBe(404);

    const after = await scrape();
    expect(after.value('zonegate_config_reloads_total', { outcome: 'refused' })).toBe(2);
    expect(after.value('zonegate_config_reloads_total', { outcome: 'applied' })).toBe(1);
    expect(after.value('zonegate_config_last_applied_timestamp_seconds')).toBeGreaterThan(startedAt);
  });

  it('reports a setting that only a restart applies, and does not apply it', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-reload-'));
    writeConfig([echoRoute], [{ name: 'echo', url: firstUrl }]);
    gateway = await start();
    writeConfig([echoRoute], [{ name: 'echo', url: firstUrl }], { TENANT_HOST_PATTERN: '^(.*)\\.app\\.example\\.com$' });
    gateway.child.kill('SIGHUP');
    const out = await logged('"msg":"configuration reloaded"');
    expect(out).toMatch(/"settings":\["tenantHostPattern"\],"msg":"configuration changes that need a restart were not applied"/);
    // Still served without a tenant: the pattern was not applied.
    expect((await request(gateway.port, { path: '/echo/x' })).status).toBe(200);
  });
});

describe('ZONEGATE_WATCH_CONFIG=true', () => {
  it('reloads when routes.json changes, without a signal', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-reload-'));
    writeConfig([echoRoute], [{ name: 'echo', url: firstUrl }, { name: 'second', url: secondUrl }]);
    gateway = await start({ ZONEGATE_WATCH_CONFIG: 'true' });
    const { port } = gateway;
    expect((await request(port, { path: '/second/hello' })).status).toBe(404);
    fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify({ routes: [echoRoute, secondRoute] }));
    await logged('"msg":"configuration reloaded"');
    expect((await request(port, { path: '/second/hello' })).status).toBe(200);
  });
});
