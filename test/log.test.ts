import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readSettings } from '../src/config/environment.js';
import { createMemoryLogger, createRepeatedErrorLog } from '../src/log.js';

describe('logger', () => {
  it('writes one JSON object per line with time, level and message', () => {
    const log = createMemoryLogger('info');
    log.debug('hidden');
    log.info('request', { status: 200, tenant: 'acme' });
    expect(log.lines).toHaveLength(1);
    expect(JSON.parse(log.lines[0]!)).toMatchObject({ level: 'info', msg: 'request', status: 200, tenant: 'acme' });
  });

  it('redacts secret-named fields, flat and nested, as a second line of defence', () => {
    const log = createMemoryLogger('info');
    log.warn('oops', { authorization: 'Bearer abc', client_secret: 's3', nested: { refresh_token: 'r', cookie: 'c', keep: 'k' }, code: 'xyz' });
    const line = log.lines[0]!;
    for (const secret of ['Bearer abc', 's3', '"r"', '"c"', 'xyz']) expect(line).not.toContain(secret);
    expect(JSON.parse(line).nested.keep).toBe('k');
    expect(JSON.parse(line).authorization).toBe('[redacted]');
  });

  it("shows the gateway's error codes under `code`, and still redacts any other `code` (an OAuth authorization code)", () => {
    const log = createMemoryLogger('info');
    log.error('request failed', { code: 'ZG_ERR_BACKEND_UNREACHABLE' });
    log.warn('callback', { code: 'SplxlOBeZQQYbYS6WxSbIA', query: { code: 'nested-auth-code', state: 's' } });
    log.warn('look-alike', { code: 'ZG_ERR_NOT_REGISTERED' });
    const [gateway, oauth, lookAlike] = log.lines.map((l) => JSON.parse(l));
    expect(gateway.code).toBe('ZG_ERR_BACKEND_UNREACHABLE');
    expect(oauth.code).toBe('[redacted]');
    expect(oauth.query).toEqual({ code: '[redacted]', state: 's' });
    expect(lookAlike.code).toBe('[redacted]');
  });

  it('logs the first of repeated errors, then one line per interval with their count, then starts afresh', async () => {
    const log = createMemoryLogger('info');
    const repeated = createRepeatedErrorLog(log, 100);
    try {
      for (let i = 0; i < 50; i++) repeated.error('app ZG_ERR_BACKEND_UNREACHABLE', 'request failed', { requestId: `r${i}`, destination: 'app' });
      repeated.error('other ZG_ERR_BACKEND_UNREACHABLE', 'request failed', { requestId: 'o1', destination: 'other' });
      expect(log.lines.map((l) => JSON.parse(l).requestId)).toEqual(['r0', 'o1']);
      await new Promise((r) => setTimeout(r, 150));
      const summary = JSON.parse(log.lines[2]!);
      expect(summary).toMatchObject({ level: 'error', msg: 'request failed', destination: 'app', requestId: 'r49', repeated: 49, intervalMs: 100 });
      expect(log.lines).toHaveLength(3);
      // A quiet interval ends the series: the next error is logged in full again.
      await new Promise((r) => setTimeout(r, 250));
      repeated.error('app ZG_ERR_BACKEND_UNREACHABLE', 'request failed', { requestId: 'later', destination: 'app' });
      expect(JSON.parse(log.lines.at(-1)!)).not.toHaveProperty('repeated');
      expect(JSON.parse(log.lines.at(-1)!).requestId).toBe('later');
    } finally {
      repeated.close();
    }
  });

  it('child loggers carry their fields', () => {
    const log = createMemoryLogger('info');
    log.child({ component: 'zones' }).info('x');
    expect(JSON.parse(log.lines[0]!).component).toBe('zones');
  });

  it('writes level and time first, then the child\'s fields, then the call\'s (a later key wins in place), msg last (pino\'s order)', () => {
    const log = createMemoryLogger('info');
    const inherited = Object.assign(Object.create({ fromPrototype: 1 }) as Record<string, unknown>, { own: 2 });
    log.child({ component: 'zones', tenant: 'base' }).info('x', { tenant: 'acme', skipped: undefined, ...{ n: 1 } });
    log.info('y', inherited);
    log.info('z', JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>);
    const [first, second, third] = log.lines.map((l) => l.trimEnd());
    expect(first).toMatch(/^\{"level":"info","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","component":"zones","tenant":"acme","n":1,"msg":"x"\}$/);
    expect(second).toMatch(/Z","own":2,"msg":"y"\}$/);
    expect(third).toMatch(/Z","__proto__":\{"polluted":true\},"a":1,"msg":"z"\}$/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('stamps each line with the current time', async () => {
    const log = createMemoryLogger('info');
    const before = Date.now();
    log.info('a');
    await new Promise((r) => setTimeout(r, 5));
    log.info('b');
    const [a, b] = log.lines.map((l) => Date.parse(JSON.parse(l).time as string));
    expect(a).toBeGreaterThanOrEqual(before);
    expect(b! - a!).toBeGreaterThanOrEqual(4);
  });
});

describe('LOG_FORMAT', () => {
  const built = path.join(path.dirname(fileURLToPath(import.meta.url)), '../dist/src/log.js');
  const run = (format: string) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', `const { createLogger } = await import(${JSON.stringify(pathToFileURL(built).href)}); const log = createLogger({ format: ${JSON.stringify(format)} }); log.info('request', { tenant: 'acme', authorization: 'Bearer abc' }); log.debug('hidden');`], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });

  it('is JSON on standard output by default, flushed at exit', () => {
    expect(fs.existsSync(built), 'run `npm run build` first (npm test does)').toBe(true);
    const line = JSON.parse(run('json'));
    expect(line).toMatchObject({ level: 'info', msg: 'request', tenant: 'acme', authorization: '[redacted]' });
  });

  it('is pino-pretty text with LOG_FORMAT=pretty, redacted the same', () => {
    const text = run('pretty');
    expect(text).toMatch(/INFO.*: request/);
    expect(text).toContain('tenant: "acme"');
    expect(text).toContain('authorization: "[redacted]"');
    expect(text).not.toContain('Bearer abc');
    expect(text).not.toContain('hidden');
  });

  it('is refused by name when neither', () => {
    expect(() => readSettings({ LOG_FORMAT: 'xml' }, { cwd: os.tmpdir() })).toThrow(/LOG_FORMAT: expected "json" or "pretty", got "xml"/);
    expect(readSettings({ LOG_FORMAT: 'pretty' }, { cwd: os.tmpdir() }).logFormat).toBe('pretty');
    expect(readSettings({}, { cwd: os.tmpdir() }).logFormat).toBe('json');
  });
});

describe('LOG_REQUESTS', () => {
  it('is on by default, off when asked, and refused by name when neither', () => {
    expect(readSettings({}, { cwd: os.tmpdir() }).logRequests).toBe(true);
    expect(readSettings({ LOG_REQUESTS: 'OFF' }, { cwd: os.tmpdir() }).logRequests).toBe(false);
    expect(() => readSettings({ LOG_REQUESTS: 'no' }, { cwd: os.tmpdir() })).toThrow(/LOG_REQUESTS: expected "on" or "off", got "no"/);
  });
});
