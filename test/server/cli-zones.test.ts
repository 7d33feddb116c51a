import { CLI, runCli, startCli, type RunningCli } from '../support/cli.js';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.js';

/**
 * The real `zonegate` command (compiled, its own process) on a temp data dir: the zone and user
 * commands, `keys rotate`, and `zones start` serving the zones alone. Build first (`npm run build`).
 */
const execFileAsync = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UAA = 'auth.localhost';

let cwd: string;
let baseEnv: Record<string, string>;

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  const result = await runCli(args, { cwd, env: { ...baseEnv, ...env } });
  return { code: result.code, out: result.stdout, err: result.stderr };
}

type Server = RunningCli;

function zonesStart(env: Record<string, string> = {}): Promise<Server> {
  return startCli(['zones', 'start'], { cwd, env: { ...baseEnv, PORT: '0', ...env } });
}

async function stop(server: Server): Promise<number | null> {
  const exited = once(server.child, 'exit');
  server.child.kill('SIGTERM');
  return (await exited)[0] as number | null;
}

async function zoneIds(): Promise<Record<string, string>> {
  const list = await run(['zones', 'list', '--json']);
  expect(list.code, list.err).toBe(0);
  return Object.fromEntries((JSON.parse(list.out) as { subdomain: string; id: string }[]).map((z) => [z.subdomain, z.id]));
}

beforeAll(() => {
  expect(fs.existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-cli-zones-'));
  fs.copyFileSync(path.join(ROOT, 'xs-security.json'), path.join(cwd, 'xs-security.json'));
  baseEnv = { PATH: process.env.PATH ?? '', ZONEGATE_DATA_DIR: path.join(cwd, 'data'), UAA_DOMAIN: UAA, ZONEGATE_SECRET_KEY: 'cd'.repeat(32) };
});
afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }));

describe('zonegate zones start', () => {
  it('serves the zones alone, registers the application and writes its xsuaa credentials (0600), exits 0 on SIGTERM', async () => {
    const server = await zonesStart();
    try {
      const file = path.join(cwd, 'data', 'xsuaa-credentials.json');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const credentials = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(credentials).toMatchObject({
        clientid: expect.stringMatching(/^sb-zonegate-demo!t\d+$/),
        url: `http://provider.${UAA}:${server.port}`,
        uaadomain: UAA,
        tenantmode: 'shared',
      });
      // The logs name the file, never the secret.
      expect(server.output()).not.toContain(credentials.clientsecret);
      const discovery = await request(server.port, { path: '/.well-known/openid-configuration', host: `provider.${UAA}` });
      expect(discovery.json().issuer).toBe(`http://provider.${UAA}:${server.port}/oauth/token`);
      const token = await request(server.port, {
        method: 'POST',
        path: '/oauth/token',
        host: `provider.${UAA}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: credentials.clientid, client_secret: credentials.clientsecret }).toString(),
      });
      expect(token.status, token.text).toBe(200);
      const wrong = await request(server.port, {
        method: 'POST',
        path: '/oauth/token',
        host: `provider.${UAA}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: credentials.clientid, client_secret: 'guess' }).toString(),
      });
      expect(wrong.status).toBe(401);
    } finally {
      expect(await stop(server)).toBe(0);
    }
  });

  it('refuses a bad setting before listening (exit 1, naming the variable)', async () => {
    const result = await run(['zones', 'start'], { PORT: '0', UAA_URL: 'https://auth.example.com/path' });
    expect(result.code).toBe(1);
    expect(result.err).toContain('environment variable UAA_URL');
    expect(result.out).not.toContain('"msg":"listening"');
  });
});

describe('zonegate zones / users', () => {
  it('creates, lists and deletes zones and users, assigns and unassigns role collections', async () => {
    expect(await run(['zones', 'create', 'acme', '--name', 'Acme Inc.'])).toMatchObject({ code: 0, out: expect.stringMatching(/^Created zone acme \(id [0-9a-f-]{36}\)\nIt is an identity zone only: .*\nTo make it a tenant .*: zonegate tenants subscribe acme\n$/) });
    expect((await run(['zones', 'create', 'globex'])).code).toBe(0);
    expect(Object.keys(await zoneIds()).sort()).toEqual(['acme', 'globex', 'provider']);
    expect((await run(['zones', 'list'])).out).toMatch(/acme\s+[0-9a-f-]{36}\s+Acme Inc\./);

    const password = 'Correct-Horse-42';
    const created = await run(['users', 'create', 'provider', 'alice', '--email', 'alice@example.com', '--password', password, '--role-collection', 'Demo Viewer']);
    expect(created.code, created.err).toBe(0);
    expect(created.out + created.err).not.toContain(password);
    expect((await run(['users', 'assign', 'provider', 'alice', 'Demo Administrator'])).code).toBe(0);
    const users = JSON.parse((await run(['users', 'list', 'provider', '--json'])).out) as { userName: string; roleCollections: string[] }[];
    expect(users).toEqual([expect.objectContaining({ userName: 'alice', roleCollections: ['Demo Viewer', 'Demo Administrator'] })]);
    expect((await run(['users', 'unassign', 'provider', 'alice', 'Demo Viewer'])).code).toBe(0);
    expect((await run(['users', 'list', 'provider'])).out).toMatch(/alice\s+alice@example\.com\s+[0-9a-f-]{36}\s+Demo Administrator\n/);

    // acme has not subscribed, so the application's role collections do not exist there.
    const refused = await run(['users', 'create', 'acme', 'bob', '--email', 'bob@example.com', '--password', password, '--role-collection', 'Demo Viewer']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/Demo Viewer/);

    expect((await run(['users', 'delete', 'provider', 'alice'])).code).toBe(0);
    expect(await run(['users', 'delete', 'provider', 'alice'])).toMatchObject({ code: 1, err: expect.stringContaining('No user "alice"') });
    expect((await run(['zones', 'delete', 'globex'])).code).toBe(0);
    expect((await run(['zones', 'delete', 'globex'])).code).toBe(1);
  });

  it('answers usage errors with exit 2 and the usage text', async () => {
    for (const args of [['zones'], ['zones', 'frobnicate'], ['users', 'list'], ['users', 'create', 'acme', 'x', '--bogus'], ['keys'], ['keys', 'rotate', '--bogus'], ['nonsense'], []]) {
      const result = await run(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.err + result.out, args.join(' ')).toMatch(/Usage/);
    }
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['zones start', 'keys rotate', 'zones create', 'users assign', 'users unassign', 'ZONEGATE_SECRET_KEY', 'UAA_URL']) expect(help.out).toContain(command);
  });

  it('refuses a malformed secret key (exit 1, naming the variable, not echoing it), and warns by name without one', async () => {
    const bad = await run(['zones', 'list'], { ZONEGATE_SECRET_KEY: 'tooshort' });
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('environment variable ZONEGATE_SECRET_KEY');
    expect(bad.err).not.toContain('tooshort');

    const fresh = path.join(cwd, 'fresh');
    const warned = await run(['zones', 'list'], { ZONEGATE_SECRET_KEY: '', ZONEGATE_DATA_DIR: fresh });
    expect(warned.code).toBe(0);
    expect(warned.out).toBe('No zones.\n');
    expect(warned.err).toMatch(/^warn: ZONEGATE_SECRET_KEY is not set.*Production must set ZONEGATE_SECRET_KEY/m);
    expect(fs.statSync(path.join(fresh, 'secret.key')).mode & 0o777).toBe(0o600);
  });
});

describe('zonegate keys rotate', () => {
  it('publishes a new kid next to the old ones; the next start signs with it', async () => {
    const ids = await zoneIds();
    const kidsAt = async (port: number, zid: string) =>
      ((await request(port, { path: `/token_keys?zid=${zid}`, host: UAA })).json().keys as { kid: string }[]).map((k) => k.kid);

    let server = await zonesStart();
    const before = await kidsAt(server.port, ids.acme!);
    expect(before).toHaveLength(1);
    expect(await stop(server)).toBe(0);

    const rotated = await run(['keys', 'rotate', '--zone', 'acme']);
    expect(rotated.code, rotated.err).toBe(0);
    const kid = /new kid (\S+)/.exec(rotated.out)![1]!;
    expect(before).not.toContain(kid);

    server = await zonesStart();
    try {
      const after = await kidsAt(server.port, ids.acme!);
      expect(after.sort()).toEqual([...before, kid].sort());
      // Other zones keep their keys.
      const providerKids = await kidsAt(server.port, ids.provider!);
      expect(providerKids).not.toContain(kid);
      const credentials = JSON.parse(fs.readFileSync(path.join(cwd, 'data', 'xsuaa-credentials.json'), 'utf8'));
      const token = await request(server.port, {
        method: 'POST',
        path: '/oauth/token',
        host: UAA,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-zid': ids.provider! },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: credentials.clientid, client_secret: credentials.clientsecret }).toString(),
      });
      expect(token.status, token.text).toBe(200);
      expect(providerKids).toContain(decodeProtectedHeader(token.json().access_token).kid);
    } finally {
      expect(await stop(server)).toBe(0);
    }

    const all = await run(['keys', 'rotate']);
    expect(all.code).toBe(0);
    expect(all.out.match(/Rotated the signing key of zone/g)).toHaveLength(Object.keys(ids).length);
    expect(await run(['keys', 'rotate', '--zone', 'nowhere'])).toMatchObject({ code: 1, err: expect.stringContaining('No zone with subdomain "nowhere"') });
  });
});

describe('npm start (zonegate demo)', () => {
  it('starts with nothing configured, prints the demo logins and zone URLs, and serves those zones', async () => {
    const data = path.join(cwd, 'demo-data');
    const child = spawn(process.execPath, [CLI, 'demo'], { cwd, env: { PATH: process.env.PATH ?? '', PORT: '0', ZONEGATE_DATA_DIR: data }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 20_000);
        child.stdout.on('data', () => {
          if (out.includes('Stop with Ctrl+C')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
      });
      const port = Number(/http:\/\/localhost:(\d+)\/healthz/.exec(out)![1]);
      for (const tenant of ['acme', 'globex']) expect(out).toContain(`http://${tenant}.auth.localhost:${port}/.well-known/openid-configuration`);
      expect(out).toMatch(/admin\s+password demo-admin-pass\s+role collection "Demo Administrator"/);
      expect(out).toMatch(/viewer\s+password demo-viewer-pass\s+role collection "Demo Viewer"/);
      expect(out).toMatch(/warn.*ZONEGATE_SECRET_KEY is not set/);
      const discovery = await request(port, { path: '/.well-known/openid-configuration', host: `globex.auth.localhost:${port}` });
      expect(discovery.json().issuer).toBe(`http://globex.auth.localhost:${port}/oauth/token`);

      // The printed commands work as printed, from the package directory (issue 17).
      const hint = (label: string) => new RegExp(`${label}[^:]*: (.*npx zonegate .*)`).exec(out)![1]!;
      const shell = (command: string) => execFileAsync('sh', ['-c', command], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' } });
      expect((await shell(hint('manage them'))).stdout).toMatch(/^admin\s+admin@acme\.example\.com/m);
      const subscribed = await shell(hint('another tenant'));
      expect(subscribed.stdout).toContain(`Subscribed tenant initech`);
      expect(subscribed.stdout).toContain(`http://initech.localhost:${port}`);
      // The running demo serves the new tenant at the printed URL.
      expect((await request(port, { path: '/', host: `initech.localhost:${port}` })).status).toBe(302);
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    }
  });
});
