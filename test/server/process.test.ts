import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoBackend, listenEcho } from '../../src/demo/echo-backend.js';
import { request } from '../support/http.js';
import { CLI, runCli, startCli, type RunningCli } from '../support/cli.js';

/**
 * The real `zonegate` command as production runs it (compiled, its own process): start-up
 * validation, signals, and memory while large bodies stream through.
 */

function startGatewayCli(cwd: string, env: Record<string, string>, args = ['start']): Promise<RunningCli> {
  return startCli(args, { cwd, env: { PATH: process.env.PATH ?? '', PORT: '0', ...env } });
}

async function run(cwd: string, env: Record<string, string>, args: string[]): Promise<{ code: number | null; output: string }> {
  const result = await runCli(args, { cwd, env: { PATH: process.env.PATH ?? '', ...env } });
  return { code: result.code, output: result.stdout + result.stderr };
}

/** Peak resident memory of a process (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

let dir: string;
let echo: http.Server;
let echoUrl: string;

beforeAll(async () => {
  expect(fs.existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-cli-'));
  fs.writeFileSync(
    path.join(dir, 'routes.json'),
    JSON.stringify({ routes: [{ source: '^/echo/(.*)$', target: '/$1', destination: 'echo', authenticationType: 'none' }] }),
  );
  echo = createEchoBackend();
  echoUrl = await listenEcho(echo);
});
afterAll(async () => {
  echo.closeAllConnections();
  await new Promise((r) => echo.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('zonegate start / check-config', () => {
  it('refuses invalid configuration before listening, naming file, path and expectation of every problem', async () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-bad-'));
    fs.writeFileSync(
      path.join(bad, 'routes.json'),
      JSON.stringify({ routes: [{ source: '^/a/(.*)$', destination: 'nowhere', csrfProtection: 'yes' }, { source: '(a+)+$', destination: 'echo' }] }),
    );
    const result = await run(bad, { PORT: '0', TENANT_HOST_PATTERN: '^no-group$', destinations: JSON.stringify([{ name: 'echo', url: echoUrl }]) }, ['start']);
    expect(result.code).toBe(1);
    expect(result.output).not.toContain('"msg":"listening"');
    const file = path.join(bad, 'routes.json');
    expect(result.output).toContain(`${file} at /routes/0/csrfProtection`);
    expect(result.output).toContain('/routes/0/destination');
    expect(result.output).toContain('/routes/1/source');
    expect(result.output).toContain('environment variable TENANT_HOST_PATTERN');
    const check = await run(bad, { destinations: JSON.stringify([{ name: 'echo', url: echoUrl }]) }, ['check-config']);
    expect(check.code).toBe(1);
    expect(check.output).toContain('/routes/0/csrfProtection');
    fs.rmSync(bad, { recursive: true, force: true });
  });

  it('attack: a source whose optionals hide exponential backtracking is refused before listening', async () => {
    // The old check dropped `?` quantifiers and passed this; one 31-character URL then froze the
    // gateway for 45 s.
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-redos-'));
    fs.writeFileSync(path.join(bad, 'routes.json'), JSON.stringify({ routes: [{ source: '^/files/(\\w?\\w?)+$', destination: 'echo', authenticationType: 'none' }] }));
    const result = await run(bad, { PORT: '0', TENANT_HOST_PATTERN: '^((?:[a-z]?[a-z]?)+)\\.gw$', destinations: JSON.stringify([{ name: 'echo', url: echoUrl }]) }, ['start']);
    expect(result.code).toBe(1);
    expect(result.output).not.toContain('"msg":"listening"');
    expect(result.output).toMatch(/routes\.json at \/routes\/0\/source: regular expression .* may backtrack catastrophically \(exponential/);
    expect(result.output).toMatch(/environment variable TENANT_HOST_PATTERN: regular expression .* may backtrack catastrophically/);
    fs.rmSync(bad, { recursive: true, force: true });
  });

  it('check-config accepts a valid configuration without listening', async () => {
    const result = await run(dir, { destinations: JSON.stringify([{ name: 'echo', url: echoUrl }]) }, ['check-config']);
    expect(result.output).toContain('OK (1 routes, 1 destinations');
    expect(result.code).toBe(0);
  });

  it('npm run check-config (demo --check) passes on the package\'s own sample, run from anywhere, and still reports a bad environment', async () => {
    const sample = await run(dir, {}, ['demo', '--check']);
    expect(sample.output).toMatch(/routes\.json: OK \(\d+ routes, 1 destinations, xs-security\.json for zonegate-demo\) as npm start runs it/);
    expect(sample.code).toBe(0);
    const bad = await run(dir, { TENANT_HOST_PATTERN: '^(a+)+$' }, ['demo', '--check']);
    expect(bad.output).toMatch(/environment variable TENANT_HOST_PATTERN/);
    expect(bad.code).toBe(1);
  });
});

describe('SIGTERM', () => {
  it('stops accepting, finishes in-flight requests, and exits 0', async () => {
    const gw = await startGatewayCli(dir, { destinations: JSON.stringify([{ name: 'echo', url: echoUrl }]) });
    const inFlight = request(gw.port, { path: '/echo/slow/800' });
    await new Promise((r) => setTimeout(r, 200));
    gw.child.kill('SIGTERM');
    const [exit] = await Promise.all([once(gw.child, 'exit'), inFlight.then((res) => expect(res.status).toBe(200))]);
    expect(exit[0]).toBe(0);
    await expect(request(gw.port, { path: '/echo/x' })).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('streaming', () => {
  it('passes a 200 MB upload and a 200 MB download through with flat gateway memory', async () => {
    const gw = await startGatewayCli(dir, { destinations: JSON.stringify([{ name: 'echo', url: echoUrl }]) });
    try {
      const total = 200 * 1024 * 1024;
      const baseline = peakRssMb(gw.child.pid!);
      // Upload: the echo backend counts the bytes it received.
      const uploaded = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'POST', path: '/echo/upload', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d));
          res.on('end', () => resolve(JSON.parse(body).bodyBytes));
        });
        req.on('error', reject);
        const chunk = Buffer.alloc(1024 * 1024, 7);
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
      expect(uploaded).toBe(total);
      // Download: read and drop, counting.
      const downloaded = await new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: gw.port, path: `/echo/bytes/${total}` }, (res) => {
          let n = 0;
          res.on('data', (d: Buffer) => (n += d.length));
          res.on('end', () => resolve(n));
        }).on('error', reject);
      });
      expect(downloaded).toBe(total);
      const growth = peakRssMb(gw.child.pid!) - baseline;
      // 400 MB went through; buffering any of it would show as hundreds of MB.
      expect(growth).toBeLessThan(60);
    } finally {
      gw.child.kill('SIGTERM');
      await once(gw.child, 'exit');
    }
  });
});
