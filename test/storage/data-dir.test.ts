/**
 * Issue 9: the data directory holds the SQLite store, the generated secret key and the application's
 * credentials, so only its owner may read it: 0700 directories, 0600 files, whatever the umask; and a
 * start on a directory an older version left readable names each exposed path in the log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import { CLI } from '../support/cli.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-data-dir-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const modeOf = (p: string) => (fs.statSync(p).mode & 0o777).toString(8);

/**
 * `zonegate zones start` under `umask 000`, the most permissive umask there is (some container images
 * run with it): any mode left to the umask shows as 777/666. Resolves once it listens.
 */
async function zonesStartWithOpenUmask(cwd: string, env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, CLI, 'zones', 'start'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', UAA_DOMAIN: 'auth.localhost', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no listening line: ${out}`));
    }, 20_000);
    const onData = () => {
      if (!out.includes('"msg":"listening"')) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      resolve();
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}: ${out}`));
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
  return { child, output: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

describe('the embedded store on disk', () => {
  it('creates its directories 0700 and the database with its WAL and shared-memory files 0600', async () => {
    const dir = path.join(tmp, 'fresh', 'nested');
    const file = path.join(dir, 'zonegate.db');
    const storage = openSqliteStorage({ file });
    await storage.set('k', 'v');
    try {
      expect(modeOf(path.join(tmp, 'fresh'))).toBe('700');
      expect(modeOf(dir)).toBe('700');
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(modeOf(f), f).toBe('600');
    } finally {
      await storage.close();
    }
  });
});

describe('zonegate zones start and its data directory', () => {
  beforeAll(() => {
    expect(fs.existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  });

  it('makes every file it writes private even under umask 000: directory, database, WAL, secret key, xsuaa credentials', async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, 'cli-'));
    fs.copyFileSync(path.join(ROOT, 'xs-security.json'), path.join(cwd, 'xs-security.json'));
    const data = path.join(cwd, 'data');
    // No ZONEGATE_SECRET_KEY: the development key is generated into the data directory.
    const server = await zonesStartWithOpenUmask(cwd, { ZONEGATE_DATA_DIR: data });
    try {
      expect(modeOf(data)).toBe('700');
      const files = fs.readdirSync(data).sort();
      // records.db: the records database (issue 19), SQLite by default, beside the session store.
      expect(files).toEqual(['records.db', 'records.db-shm', 'records.db-wal', 'secret.key', 'xsuaa-credentials.json', 'zonegate.db', 'zonegate.db-shm', 'zonegate.db-wal']);
      for (const f of files) expect(modeOf(path.join(data, f)), f).toBe('600');
      expect(server.output()).not.toContain('data directory readable by other users');
    } finally {
      await stop(server.child);
    }
  });

  it('names each exposed path of a data directory an older version left readable, and what is wrong with it', async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, 'cli-old-'));
    fs.copyFileSync(path.join(ROOT, 'xs-security.json'), path.join(cwd, 'xs-security.json'));
    const data = path.join(cwd, 'data');
    const first = await zonesStartWithOpenUmask(cwd, { ZONEGATE_DATA_DIR: data, ZONEGATE_SECRET_KEY: 'ab'.repeat(32) });
    await stop(first.child);
    // What the earlier versions left under the usual umask 022.
    fs.chmodSync(data, 0o755);
    fs.chmodSync(path.join(data, 'zonegate.db'), 0o644);
    fs.chmodSync(path.join(data, 'xsuaa-credentials.json'), 0o640);

    const server = await zonesStartWithOpenUmask(cwd, { ZONEGATE_DATA_DIR: data, ZONEGATE_SECRET_KEY: 'ab'.repeat(32) });
    try {
      const warnings = server
        .output()
        .split('\n')
        .filter((l) => l.includes('data directory readable by other users'))
        .map((l) => JSON.parse(l) as { level: string; path: string; mode: string; problem: string });
      const byPath = Object.fromEntries(warnings.map((w) => [w.path, w]));
      expect(warnings.every((w) => w.level === 'warn')).toBe(true);
      expect(byPath[data]).toMatchObject({ mode: '755', problem: expect.stringMatching(/directory is accessible to group and others; run chmod 700/) });
      expect(byPath[path.join(data, 'zonegate.db')]).toMatchObject({ mode: '644', problem: expect.stringMatching(/file is accessible to group and others; run chmod 600/) });
      expect(byPath[path.join(data, 'xsuaa-credentials.json')]).toMatchObject({ mode: '640', problem: expect.stringMatching(/accessible to group;/) });
      // The private ones are not named.
      expect(byPath[path.join(data, 'zonegate.db-wal')]).toBeUndefined();
    } finally {
      await stop(server.child);
    }
  });
});
