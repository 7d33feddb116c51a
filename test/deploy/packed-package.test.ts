/**
 * Issue 17: what `npm pack` ships is enough to run the gateway. The package is packed from the
 * Docker build context, installed with production dependencies only into an empty directory (as a
 * container's runtime stage or a consumer installs it), and `zonegate start` is run from there
 * through the package's bin link. The same install is embedded as a library (Operate: "embed as a
 * library"): an ES module imports it and starts a gateway with extensions, and a TypeScript consumer
 * is type-checked against the shipped declarations.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
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

interface PackedInstall {
  work: string;
  /** The directory the package is installed into, with production dependencies only. */
  app: string;
  /** The files the package holds. */
  packed: string[];
}

let install: Promise<PackedInstall> | undefined;

/** Packs and installs once for every test of this file (both take a minute). */
function packedInstall(): Promise<PackedInstall> {
  return (install ??= (async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-packed-'));
    // Packed from what the Dockerfile's build stage gets (the .dockerignore whitelist), not from the
    // checkout: prepack builds a dist/ of its own there, while other tests run this checkout's.
    const tree = path.join(work, 'tree');
    for (const entry of dockerContext()) fs.cpSync(path.join(ROOT, entry), path.join(tree, entry), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
    const [pack] = JSON.parse(await npm(['pack', '--json', '--pack-destination', work], tree));
    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'zonegate-install-test', private: true }));
    await npm(['install', '--omit=dev', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', path.join(work, pack.filename)], app);
    copySqliteAddon(app);
    return { work, app, packed: pack.files.map((f: { path: string }) => f.path) };
  })());
}

afterAll(async () => {
  const done = await install?.catch(() => undefined);
  if (done) fs.rmSync(done.work, { recursive: true, force: true });
});

describe('the packed package, installed with production dependencies only', () => {
  let app: string;
  let packed: string[];
  let echo: http.Server;
  let echoUrl: string;
  let gateway: RunningCli | undefined;

  beforeAll(async () => {
    ({ app, packed } = await packedInstall());
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
  });

  it('a production install of the repository runs no build (npm ci --omit=dev has no TypeScript)', () => {
    // npm ci runs these for the project itself; with devDependencies omitted tsc is not there (exit 127).
    for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts[script]).toBeUndefined();
  });

  it('ships the compiled command and the demo files, not sources, tests or source maps', () => {
    expect(packed).toContain(manifest.bin.zonegate);
    expect(packed).toEqual(expect.arrayContaining(['routes.json', 'xs-security.json', 'public/index.html']));
    const stray = packed.filter((f) => (/\.(ts|map)$/.test(f) && !f.endsWith('.d.ts')) || /^(src|test|bench|dist\/bench)\//.test(f));
    expect(stray).toEqual([]);
    // The library's entry and its declarations.
    expect(packed).toEqual(expect.arrayContaining(['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/server/extensions.d.ts']));
  });

  it('installs no development dependency', () => {
    // What the installed production packages need themselves: a development dependency of ours may be
    // one of them (the SAML tests' xml-crypto is @node-saml/node-saml's own), and is then installed for it.
    const needed = new Set<string>();
    const top = path.join(app, 'node_modules');
    for (const entry of fs.readdirSync(top)) {
      const dirs = entry.startsWith('@') ? fs.readdirSync(path.join(top, entry)).map((d) => path.join(top, entry, d)) : [path.join(top, entry)];
      for (const dir of dirs) {
        const file = path.join(dir, 'package.json');
        if (!fs.existsSync(file)) continue;
        const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { dependencies?: Record<string, string> };
        for (const name of Object.keys(pkg.dependencies ?? {})) needed.add(name);
      }
    }
    for (const dev of Object.keys(manifest.devDependencies)) {
      if (needed.has(dev)) continue;
      expect(fs.existsSync(path.join(app, 'node_modules', dev)), dev).toBe(false);
    }
    // Our test-only packages stay out.
    for (const dev of ['vitest', 'typescript', 'oidc-provider', 'playwright-core']) expect(fs.existsSync(path.join(top, dev)), dev).toBe(false);
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

/** An ES module that embeds the installed package: imports it, starts a gateway with extensions, prints its port. */
const EMBED = `
import { start, requestContext } from 'zonegate';

const [backend, cwd] = process.argv.slice(2);
const gateway = await start({
  cwd,
  env: { PATH: process.env.PATH },
  port: 0,
  routes: {
    routes: [
      { source: '^/backend/(.*)$', target: '/$1', destination: 'backend', authenticationType: 'none' },
    ],
  },
  destinations: [{ name: 'backend', url: backend }],
  log: { level: 'warn' },
  extensions: {
    first: [(req, res, next) => {
      res.setHeader('x-first', requestContext(req).id);
      next();
    }],
    beforeRequestHandler: [{
      path: '/backend/own',
      handler: (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ answeredBy: 'extension', url: req.url, route: requestContext(req).route }));
      },
    }],
    beforeErrorHandler: [(err, req, res, next) => {
      res.setHeader('x-error-seen', err.code);
      next();
    }],
  },
});
process.stdout.write(JSON.stringify({ port: gateway.port }) + '\\n');
process.once('SIGTERM', async () => {
  await gateway.stop();
  process.exit(0);
});
`;

/** A TypeScript consumer of the shipped declarations: what it may write compiles, what it may not does not. */
const CONSUMER = `
import start, { requestContext, type ExtensionHandler, type ExtensionErrorHandler, type Gateway, type ReloadOutcome } from 'zonegate';

const first: ExtensionHandler = (req, res, next) => {
  const id: string | undefined = requestContext(req)?.id;
  if (id) res.setHeader('x-request', id);
  next();
};
const onError: ExtensionErrorHandler = (err, _req, res, next) => {
  const status: number = err.status;
  if (status === 404) return void res.end('not here');
  next(err);
};
const gateway: Gateway = await start({
  routes: { routes: [{ source: '^/(.*)$', destination: 'backend', authenticationType: 'none' }] },
  destinations: [{ name: 'backend', url: 'http://127.0.0.1:1', timeout: 1000 }],
  extensions: { first: [first], beforeRequestHandler: [{ path: '/own', handler: (_req, res) => res.end() }], beforeErrorHandler: [onError] },
});
const port: number = gateway.port;
const outcome: ReloadOutcome = await gateway.reload();
if (!outcome.applied) console.log(outcome.problems.join('\\n'), port);
// @ts-expect-error the port is a number
const wrong: string = gateway.port;
// @ts-expect-error a destination needs a url
await start({ destinations: [{ name: 'x' }] });
await gateway.stop();
void wrong;
`;

describe('the packed package, embedded as a library', () => {
  let work: string;
  let app: string;
  let echo: http.Server;
  let echoUrl: string;
  let embedded: ChildProcess | undefined;

  beforeAll(async () => {
    ({ work, app } = await packedInstall());
    echo = createEchoBackend();
    echoUrl = await listenEcho(echo);
  }, 180_000);

  afterAll(async () => {
    if (embedded && embedded.exitCode === null) {
      embedded.kill('SIGTERM');
      await new Promise((resolve) => embedded!.once('exit', resolve));
    }
    await new Promise((resolve) => echo?.close(resolve));
  });

  it('an ES module imports it and starts a gateway whose extensions run at first, beforeRequestHandler and beforeErrorHandler', async () => {
    fs.writeFileSync(path.join(app, 'embed.mjs'), EMBED);
    const data = fs.mkdtempSync(path.join(work, 'embedded-'));
    embedded = spawn(process.execPath, [path.join(app, 'embed.mjs'), echoUrl, data], { cwd: app, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    embedded.stderr!.on('data', (d: Buffer) => (out += d));
    const port = await new Promise<number>((resolve, reject) => {
      embedded!.stdout!.on('data', (d: Buffer) => {
        out += d;
        const line = out.split('\n').find((l) => l.startsWith('{"port"'));
        if (line) resolve(JSON.parse(line).port);
      });
      embedded!.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
    });

    const proxied = await request(port, { path: '/backend/hello' });
    expect(proxied.status).toBe(200);
    expect(proxied.json()).toMatchObject({ url: '/hello' });
    expect(proxied.headers['x-first']).toBe(proxied.headers['x-request-id']);

    // Answered by the extension after the route matched: the route is known, the mount path stripped.
    const own = await request(port, { path: '/backend/own/thing' });
    expect(own.status).toBe(200);
    expect(own.json()).toEqual({ answeredBy: 'extension', url: '/thing', route: { index: 0, source: '^/backend/(.*)$' } });
    expect(own.headers['x-first']).toBe(own.headers['x-request-id']);

    // An error the extension saw, then rendered by the gateway as its own.
    const missing = await request(port, { path: '/nowhere', headers: { accept: 'application/json' } });
    expect(missing.status).toBe(404);
    expect(missing.headers['x-error-seen']).toBe('ZG_ERR_ROUTE_NOT_FOUND');
    expect(missing.headers['x-zonegate-error']).toBe('ZG_ERR_ROUTE_NOT_FOUND');
    expect(fs.existsSync(path.join(data, '.zonegate'))).toBe(true);
  });

  it('a TypeScript consumer type-checks against the shipped declarations', async () => {
    const consumer = path.join(app, 'consumer');
    fs.mkdirSync(consumer, { recursive: true });
    fs.writeFileSync(path.join(consumer, 'main.mts'), CONSUMER);
    fs.writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules/@types')],
        },
        files: ['main.mts'],
      }),
    );
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', path.join(consumer, 'tsconfig.json')], { cwd: consumer }).catch((err: { stdout: string; stderr: string }) => err);
    expect(`${result.stdout}${result.stderr}`).toBe('');
  });
});
