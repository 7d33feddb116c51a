/**
 * Route sources are matched against every request URL, so a regex that backtracks exponentially is a
 * denial of service one request away (OWASP "ReDoS"). safe-regex2 flags star height > 1; it counts `?`
 * as a repetition, though an optional ({0,1}) part cannot multiply the ways to match, which would
 * flag real configurations such as `^(?:/app|/app/.*)?/resources/(.*)$`. So `?` quantifiers are dropped
 * before the check; `*`, `+` and `{n,m}` keep counting.
 */
import safeRegex from 'safe-regex2';

export type RegexSafety = 'safe' | 'unsafe' | 'unanalysable';

export function checkRegexSafety(source: string): RegexSafety {
  if (safeRegex(withoutOptionals(source))) return 'safe';
  // safe-regex2 also answers false when its parser (ret) cannot read the pattern, e.g. lookbehind.
  // A pattern with every quantifier removed has star height 0, so false then means "not parsed".
  return safeRegex(withoutQuantifiers(source)) ? 'unsafe' : 'unanalysable';
}

/** `source` without `?` quantifiers and lazy markers; group openers like `(?:` are kept. */
function withoutOptionals(source: string): string {
  return rewrite(source, (c, prev) => c === '?' && prev !== '(');
}

function withoutQuantifiers(source: string): string {
  return rewrite(source.replace(/(?<!\\)\{\d+(,\d*)?\}/g, ''), (c, prev) => c === '*' || c === '+' || (c === '?' && prev !== '('));
}

/** Copies `source` outside escapes and character classes, dropping the characters `drop` selects. */
function rewrite(source: string, drop: (c: string, prev: string | undefined) => boolean): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      out += c + (source[i + 1] ?? '');
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') inClass = true;
    if (!drop(c, source[i - 1])) out += c;
  }
  return out;
}
