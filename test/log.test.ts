import { describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../src/log.js';

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

  it('child loggers carry their fields', () => {
    const log = createMemoryLogger('info');
    log.child({ component: 'zones' }).info('x');
    expect(JSON.parse(log.lines[0]!).component).toBe('zones');
  });

  it('writes time, level and msg first, then the child\'s fields, then the call\'s (a later key wins in place)', () => {
    const log = createMemoryLogger('info');
    const inherited = Object.assign(Object.create({ fromPrototype: 1 }) as Record<string, unknown>, { own: 2 });
    log.child({ component: 'zones', tenant: 'base' }).info('x', { tenant: 'acme', skipped: undefined, ...{ n: 1 } });
    log.info('y', inherited);
    log.info('z', JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>);
    const [first, second, third] = log.lines.map((l) => l.trimEnd());
    expect(first).toMatch(/^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"info","msg":"x","component":"zones","tenant":"acme","n":1\}$/);
    expect(second).toMatch(/"msg":"y","own":2\}$/);
    expect(third).toMatch(/"msg":"z","__proto__":\{"polluted":true\},"a":1\}$/);
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
