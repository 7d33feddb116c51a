import { describe, expect, test } from 'vitest';
import { checkRegexSafety } from '../../src/config/regex-safety.js';

describe('checkRegexSafety', () => {
  test.each([
    '(a+)+$',
    '^(.*)*$',
    '(\\w+\\s?)+$', // the classic: the optional must not hide the nested +
    '((a*)?)*',
    '^/api/(x+x+)+y',
  ])('%s is unsafe', (source) => {
    expect(checkRegexSafety(source)).toBe('unsafe');
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
  ])('%s is safe', (source) => {
    expect(checkRegexSafety(source)).toBe('safe');
  });

  test('a pattern the analyser cannot parse is reported as such, not as unsafe', () => {
    expect(checkRegexSafety('(?<=/api)/x')).toBe('unanalysable');
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
