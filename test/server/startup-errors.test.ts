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
