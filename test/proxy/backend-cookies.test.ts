import { describe, expect, it } from 'vitest';
import { applyChanges, sortSetCookies, withKeptCookies } from '../../src/proxy/backend-cookies.js';

const NOW = Date.parse('2026-12-03T00:00:00Z');

describe('sortSetCookies (what is kept, what reaches the browser)', () => {
  it("keeps session cookies and passes persistent ones, as SAP's cookie-handler.js sorts them", () => {
    const { keep, browser } = sortSetCookies(
      ['SID=1; HttpOnly', 'lang=de; Max-Age=60', 'until=x; Expires=Fri, 01 Jan 2100 00:00:00 GMT', 'broken', '=nameless'],
      '/a/b',
      NOW,
    );
    expect(keep).toEqual([{ name: 'SID', value: '1', path: '/a', secure: false, remove: false }]);
    expect(browser).toEqual(['lang=de; Max-Age=60', 'until=x; Expires=Fri, 01 Jan 2100 00:00:00 GMT', 'broken', '=nameless']);
  });

  it('treats Max-Age <= 0 and a past Expires as deletions, Max-Age winning over Expires (RFC 6265 §5.3)', () => {
    const { keep, browser } = sortSetCookies(
      ['A=; Max-Age=0', 'B=; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'C=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'D=; Max-Age=-1; Expires=Fri, 01 Jan 2100 00:00:00 GMT'],
      '/',
      NOW,
    );
    expect(keep.map((c) => [c.name, c.remove])).toEqual([['A', true], ['B', true], ['D', true]]);
    // Deletions reach the browser too (a copy set before a session existed goes as well).
    expect(browser).toEqual(['A=; Max-Age=0', 'B=; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'C=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'D=; Max-Age=-1; Expires=Fri, 01 Jan 2100 00:00:00 GMT']);
  });

  it('takes the default path for a missing or relative Path (RFC 6265 §5.1.4, §5.2.4)', () => {
    const paths = sortSetCookies(['a=1', 'b=1; Path=rel', 'c=1; path=/x/'], '/dir/sub/page', NOW).keep.map((c) => c.path);
    expect(paths).toEqual(['/dir/sub', '/dir/sub', '/x/']);
    expect(sortSetCookies(['a=1'], '/page', NOW).keep[0]!.path).toBe('/');
  });
});

describe('withKeptCookies (the Cookie header towards the destination)', () => {
  const kept = [
    { name: 'R', value: '1', path: '/' },
    { name: 'L', value: '2', path: '/app' },
    { name: 'S', value: '3', path: '/', secure: true as const },
  ];
  it('adds those whose path matches, longest path first, replacing client cookies of the same name', () => {
    expect(withKeptCookies('R=planted; theme=dark', kept, '/app/x', false)).toBe('theme=dark; L=2; R=1');
    expect(withKeptCookies(undefined, kept, '/apple', false)).toBe('R=1');
    expect(withKeptCookies(undefined, kept, '/app', true)).toBe('L=2; R=1; S=3');
  });
});

describe('applyChanges (bounds)', () => {
  it('replaces by name and path, removes, and refuses what would pass the bounds', () => {
    const change = (name: string, value: string, path = '/') => ({ name, value, path, secure: false, remove: false });
    let { cookies } = applyChanges(undefined, 'd', [change('A', '1'), change('A', '2', '/x')]);
    ({ cookies } = applyChanges(cookies, 'd', [change('A', '3')]));
    expect(cookies['d']).toEqual([{ name: 'A', value: '2', path: '/x' }, { name: 'A', value: '3', path: '/' }]);
    ({ cookies } = applyChanges(cookies, 'd', [{ ...change('A', ''), remove: true }, { ...change('A', '', '/x'), remove: true }]));
    expect(cookies['d']).toBeUndefined();
    // Per session: two destinations of ~8 KiB fill it; a third is refused.
    const eight = (d: string) => [change('X', 'x'.repeat(4000)), change('Y', 'y'.repeat(4000))].map((c) => ({ ...c, name: `${c.name}${d}` }));
    ({ cookies } = applyChanges(cookies, 'd1', eight('1')));
    ({ cookies } = applyChanges(cookies, 'd2', eight('2')));
    const third = applyChanges(cookies, 'd3', [change('Z', 'z'.repeat(1000))]);
    expect(third.refused).toEqual(['Z']);
    expect(third.cookies['d3']).toBeUndefined();
  });
});
