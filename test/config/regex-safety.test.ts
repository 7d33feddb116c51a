import { describe, expect, test } from 'vitest';
import { checkRegexSafety } from '../../src/config/regex-safety.js';

describe('checkRegexSafety', () => {
  test.each([
    '(a+)+$',
    '^(.*)*$',
    '(\\w+\\s?)+$', // the classic: the optional must not hide the nested +
    '((a*)?)*b',
    '^/api/(x+x+)+y',
    // Optional parts multiply the ways to match as well as `*` does: one 31-character URL froze the
    // gateway for 45 s against this route source, which the old star-height check passed.
    '^/files/(\\w?\\w?)+$',
    // Cubic: minutes on an 8 KB URL.
    '^/(.*)/(.*)/(.*)$',
    '^/a/.*[^/]*.*[^/]*.*$',
  ])('%s is unsafe', (source) => {
    expect(checkRegexSafety(source).verdict).toBe('unsafe');
  });

  test.each([
    '^/x(.*)$',
    '^(?:/app|/app/.*)?/resources/(.*)$', // optional group around .* (real config, SAP-style)
    '^(.*)(.xs(js|odata))(.*)$',
    '(a*)?b',
    '^/user-api(.*)',
    '^/a\\(b+\\)+$', // escaped parentheses are not groups
    '^/[(]+x$', // nor are parentheses in a class
    '^(?<tenant>[^/]+)/(.*)$',
    '(?<=/api)/x', // lookbehind is analysed too
    // Quadratic (every unanchored source is): accepted, bounded by the URL length limit.
    '/backend/(.*)$',
    '^/(.*)/(.*)/x$',
  ])('%s is safe', (source) => {
    expect(checkRegexSafety(source).verdict).toBe('safe');
  });

  test('an unsafe verdict says how bad and gives an attack string', () => {
    const safety = checkRegexSafety('^/files/(\\w?\\w?)+$');
    expect(safety).toMatchObject({ verdict: 'unsafe', complexity: 'exponential' });
    expect(safety.verdict === 'unsafe' && safety.attack).toMatch(/repeat/);
  });

  test('a pattern the analyser cannot read is reported as such, not as unsafe', () => {
    expect(checkRegexSafety('[\\p{L}--[a-z]]', 'v')).toMatchObject({ verdict: 'unanalysable' });
  });

  test('the attack itself: an "unsafe" verdict matches real exponential behaviour', () => {
    const evil = new RegExp('^(\\w+\\s?)+$');
    const input = `${'a'.repeat(22)}!`;
    const start = process.hrtime.bigint();
    evil.test(input);
    const slowMs = Number(process.hrtime.bigint() - start) / 1e6;
    const safe = new RegExp('^[\\w\\s]+$');
    const start2 = process.hrtime.bigint();
    safe.test(input);
    const fastMs = Number(process.hrtime.bigint() - start2) / 1e6;
    expect(slowMs).toBeGreaterThan(fastMs * 10);
  });
});
