import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../support/cli.js';

/**
 * Issue 10: what an operator reads when the gateway cannot start. Through the real, compiled CLI:
 * one line that names the thing at fault and the cause, exit 1, never a stack trace, and no
 * follow-on problems that are only echoes of the real one.
 */

let dir: string;
const ROUTES = {
  routes: [
    { source: '^/a/(.*)$', destination: 'alpha', authenticationType: 'none' },
    { source: '^/b/(.*)$', destination: 'beta', authenticationType: 'none' },
    { source: '^/c/(.*)$', destination: 'gamma', authenticationType: 'none' },
  ],
};

beforeAll(() => {
  expect(fs.existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-startup-'));
  fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify(ROUTES));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function run(env: Record<string, string>, args: string[], cwd = dir) {
  const result = await runCli(args, { cwd, env: { PATH: process.env.PATH ?? '', ...env } });
  return { code: result.code, output: result.stdout + result.stderr };
}

function problemLines(output: string): string[] {
  return output.split('\n').filter((l) => l.startsWith('  '));
}

describe('check-config: one bad environment variable is reported once', () => {
  it('destinations that are not JSON: one problem, no route reported as having an unknown destination', async () => {
    const result = await run({ destinations: '[{name: "alpha"}' }, ['check-config']);
    expect(result.code).toBe(1);
    expect(result.output).toContain('environment variable destinations: is not valid JSON');
    expect(result.output).not.toContain('unknown destination');
    expect(problemLines(result.output)).toHaveLength(1);
  });

  it('one bad entry: that entry is reported; routes to it or to the good ones are not', async () => {
    const destinations = JSON.stringify([
      { name: 'alpha', url: 'http://127.0.0.1:1' },
      { name: 'beta', url: 'ftp://127.0.0.1:1' },
      { name: 'gamma', url: 'http://127.0.0.1:1' },
    ]);
    const result = await run({ destinations }, ['check-config']);
    expect(result.code).toBe(1);
    expect(result.output).toContain('environment variable destinations at /1/url: expected an http or https URL');
    expect(result.output).not.toContain('unknown destination');
    expect(problemLines(result.output)).toHaveLength(1);
  });

  it('an entry without a readable name: no destination can be called unknown', async () => {
    const destinations = JSON.stringify([{ name: 'alpha', url: 'http://127.0.0.1:1' }, { url: 'http://127.0.0.1:1' }]);
    const result = await run({ destinations }, ['check-config']);
    expect(result.code).toBe(1);
    expect(result.output).toContain('environment variable destinations at /1/name: is required');
    expect(result.output).not.toContain('unknown destination');
  });

  it('another bad variable does not hide the destinations: a really unknown one is still reported', async () => {
    const destinations = JSON.stringify([{ name: 'alpha', url: 'http://127.0.0.1:1' }, { name: 'beta', url: 'http://127.0.0.1:1' }]);
    const result = await run({ destinations, PORT: 'eighty' }, ['check-config']);
    expect(result.code).toBe(1);
    expect(result.output).toContain('environment variable PORT');
    expect(result.output).toContain('/routes/2/destination: unknown destination "gamma"; expected one of the destinations in the environment (alpha, beta)');
    expect(problemLines(result.output)).toHaveLength(2);
  });
});

/** The whole output is one line: what, where, why; no stack trace, no JSON log noise. */
function expectOneLine(output: string): string {
  const lines = output.trim().split('\n');
  expect(lines, output).toHaveLength(1);
  expect(output).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

/** A tmpfs of its own (needs root, as CI and the development machines run; the tests fail without it). */
function mountTmpfs(target: string, options: string): boolean {
  fs.mkdirSync(target, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', target], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('start: a data directory or Redis that cannot be used is one clear line, exit 1', () => {
  const mounts: string[] = [];
  let readOnly: string | undefined;
  let full: string | undefined;
  const destinations = JSON.stringify(['alpha', 'beta', 'gamma'].map((name) => ({ name, url: 'http://127.0.0.1:1' })));

  beforeAll(() => {
    const ro = path.join(dir, 'mnt-ro');
    if (mountTmpfs(ro, 'ro,size=64k,mode=0700')) mounts.push((readOnly = ro));
    const small = path.join(dir, 'mnt-full');
    if (mountTmpfs(small, 'size=64k,mode=0700')) {
      mounts.push((full = small));
      // Fill it to the last block.
      const fd = fs.openSync(path.join(small, 'filler'), 'w');
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(4096));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        fs.closeSync(fd);
      }
    }
  });
  afterAll(() => {
    for (const m of mounts) execFileSync('umount', [m]);
  });

  const start = (env: Record<string, string>) => run({ PORT: '0', destinations, ...env }, ['start']);

  it('a data directory below a file', async () => {
    fs.writeFileSync(path.join(dir, 'a-file'), '');
    const result = await start({ ZONEGATE_DATA_DIR: path.join(dir, 'a-file', 'data') });
    expect(result.code).toBe(1);
    expect(expectOneLine(result.output)).toBe(
      `zonegate: cannot open the SQLite store ${path.join(dir, 'a-file', 'data', 'zonegate.db')} (ZONEGATE_DATA_DIR): a part of the path is a file, not a directory at ${path.join(dir, 'a-file', 'data')} (ENOTDIR)`,
    );
  });

  it('a data directory on a read-only file system, existing or to be created', async () => {
    if (!readOnly) throw new Error('could not mount a read-only tmpfs (mount -t tmpfs needs root)');
    const existing = await start({ ZONEGATE_DATA_DIR: readOnly });
    expect(existing.code).toBe(1);
    expect(expectOneLine(existing.output)).toMatch(new RegExp(`^zonegate: cannot open the SQLite store ${readOnly}/zonegate\\.db .*: the file system is read-only .*\\(EROFS\\)$`));
    const missing = await start({ ZONEGATE_DATA_DIR: path.join(readOnly, 'data') });
    expect(missing.code).toBe(1);
    // Linux answers mkdir -p on a read-only mount with ENOENT or EROFS, depending on the path.
    expect(expectOneLine(missing.output)).toMatch(
      new RegExp(`^zonegate: cannot open the SQLite store ${readOnly}/data/zonegate\\.db .*: (the file system is read-only|the directory does not exist and cannot be created) at ${readOnly}/data \\((EROFS|ENOENT)\\)$`),
    );
  });

  it('a data directory on a full disk', async () => {
    if (!full) throw new Error('could not mount a small tmpfs (mount -t tmpfs needs root)');
    const result = await start({ ZONEGATE_DATA_DIR: path.join(full, 'data') });
    expect(result.code).toBe(1);
    expect(expectOneLine(result.output)).toMatch(new RegExp(`^zonegate: cannot open the SQLite store ${full}/data/zonegate\\.db .*: no space left on the device`));
  });

  it('a Redis that cannot be reached, named without its password', async () => {
    const result = await start({ REDIS_URL: 'redis://:hunter2@127.0.0.1:1', ZONEGATE_SECRET_KEY: 'c'.repeat(64) });
    expect(result.code).toBe(1);
    expect(expectOneLine(result.output)).toBe('zonegate: cannot use Redis at redis://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1');
    expect(result.output).not.toContain('hunter2');
  });
});
