/**
 * Issue 17: what `npm pack` ships is enough to run the gateway. The package is packed from the
 * Docker build context, installed with production dependencies only into an empty directory (as a
 * container's runtime stage or a consumer installs it), and `zonegate start` is run from there
 * through the package's bin link.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoBackend, listenEcho } from '../../src/demo/echo-backend.js';
import { startCli, type RunningCli } from '../support/cli.js';
import { request } from '../support/http.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** npm's own settings only: the npm_* variables of an outer `npm test` would steer the inner npm. */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, env: npmEnv(), maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/**
 * better-sqlite3 builds its addon at install (a download, else a compile that takes minutes
 * offline). That is better-sqlite3's business, not what this test is about: the install skips
 * scripts and takes the addon this checkout built, for the same version and Node.
 */
function copySqliteAddon(app: string): void {
  const installed = path.join(app, 'node_modules/better-sqlite3');
  const built = path.join(ROOT, 'node_modules/better-sqlite3');
  const version = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  expect(version(installed)).toBe(version(built));
  fs.mkdirSync(path.join(installed, 'build/Release'), { recursive: true });
  fs.copyFileSync(path.join(built, 'build/Release/better_sqlite3.node'), path.join(installed, 'build/Release/better_sqlite3.node'));
}

/** The files .dockerignore lets into the build context: it ignores everything, then re-includes these. */
function dockerContext(): string[] {
  const lines = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  expect(lines.filter((l) => l && !l.startsWith('#') && !l.startsWith('!'))).toEqual(['*']);
  return lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
}

describe('the packed package, installed with production dependencies only', () => {
  let work: string;
  let app: string;
  let packed: string[];
  let echo: http.Server;
  let echoUrl: string;
  let gateway: RunningCli | undefined;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-packed-'));
    // Packed from what the Dockerfile's build stage gets (the .dockerignore whitelist), not from the
    // checkout: prepack builds a dist/ of its own there, while other tests run this checkout's.
    const tree = path.join(work, 'tree');
    for (const entry of dockerContext()) fs.cpSync(path.join(ROOT, entry), path.join(tree, entry), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
    const [pack] = JSON.parse(await npm(['pack', '--json', '--pack-destination', work], tree));
    packed = pack.files.map((f: { path: string }) => f.path);
    app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'zonegate-install-test', private: true }));
    await npm(['install', '--omit=dev', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', path.join(work, pack.filename)], app);
    copySqliteAddon(app);
    echo = createEchoBackend();
    echoUrl = await listenEcho(echo);
    fs.writeFileSync(
      path.join(app, 'routes.json'),
      JSON.stringify({ routes: [{ source: '^/backend/(.*)$', target: '/$1', destination: 'backend', authenticationType: 'none' }] }),
    );
  }, 180_000);

  afterAll(async () => {
    gateway?.child.kill('SIGTERM');
    if (gateway && gateway.child.exitCode === null) await new Promise((resolve) => gateway!.child.once('exit', resolve));
    await new Promise((resolve) => echo?.close(resolve));
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('a production install of the repository runs no build (npm ci --omit=dev has no TypeScript)', () => {
    // npm ci runs these for the project itself; with devDependencies omitted tsc is not there (exit 127).
    for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts[script]).toBeUndefined();
  });

  it('ships the compiled command and the demo files, not sources, tests or source maps', () => {
    expect(packed).toContain(manifest.bin.zonegate);
    expect(packed).toEqual(expect.arrayContaining(['routes.json', 'xs-security.json', 'public/index.html']));
    const stray = packed.filter((f) => /\.(ts|map)$/.test(f) || /^(src|test|bench|dist\/bench)\//.test(f));
    expect(stray).toEqual([]);
  });

  it('installs no development dependency', () => {
    for (const dev of Object.keys(manifest.devDependencies)) expect(fs.existsSync(path.join(app, 'node_modules', dev)), dev).toBe(false);
    for (const dep of Object.keys(manifest.dependencies)) expect(fs.existsSync(path.join(app, 'node_modules', dep)), dep).toBe(true);
  });

  it('zonegate --version answers the installed package\'s version', async () => {
    const { stdout } = await run(path.join(app, 'node_modules/.bin/zonegate'), ['--version'], { cwd: app, env: { PATH: process.env.PATH } });
    expect(stdout).toBe(`${manifest.version}\n`);
  });

  it('zonegate start runs from the install: health, readiness and a route', async () => {
    gateway = await startCli(['start'], {
      command: path.join(app, 'node_modules/.bin/zonegate'),
      cwd: app,
      env: { PATH: process.env.PATH, PORT: '0', destinations: JSON.stringify([{ name: 'backend', url: echoUrl }]) },
    });
    expect((await request(gateway.port, { path: '/healthz' })).status).toBe(200);
    const ready = await request(gateway.port, { path: '/readyz' });
    expect(ready.status).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', storage: 'ok' });
    const routed = await request(gateway.port, { path: '/backend/hello' });
    expect(routed.status).toBe(200);
    expect(routed.json()).toMatchObject({ method: 'GET', url: '/hello' });
    // The embedded store lives in the working directory, not inside node_modules.
    expect(fs.existsSync(path.join(app, '.zonegate'))).toBe(true);
  });
});
