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
});
