import { describe, expect, it } from 'vitest';
import { ifRangeMatches, isNotModified, parseRange, weakEtag } from '../../src/static/conditional.js';
import { contentTypeFor } from '../../src/static/content-type.js';
import { decodeStaticPath } from '../../src/static/resolve.js';

describe('parseRange', () => {
  it.each([
    [undefined, 100, { kind: 'none' }],
    ['bytes=0-0', 100, { kind: 'range', start: 0, end: 0 }],
    ['bytes=0-99', 100, { kind: 'range', start: 0, end: 99 }],
    ['bytes=99-', 100, { kind: 'range', start: 99, end: 99 }],
    ['BYTES = 10 - 20', 100, { kind: 'range', start: 10, end: 20 }],
    ['bytes=-1', 100, { kind: 'range', start: 99, end: 99 }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=-5', 0, { kind: 'unsatisfiable' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=99999999999999999999-', 100, { kind: 'none' }], // beyond safe integers: ignored, not misread
    ['bytes=1-2, 4-5', 100, { kind: 'none' }],
    ['bytes=2-1', 100, { kind: 'none' }],
    ['bytes=', 100, { kind: 'none' }],
    ['lines=1-2', 100, { kind: 'none' }],
  ] as const)('%j of %d bytes -> %j', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('isNotModified', () => {
  const etag = weakEtag({ size: 10, mtimeMs: 1_700_000_000_123.4 });
  const lastModified = 1_700_000_000_000;

  it('the weak ETag is derived from size and whole-millisecond mtime', () => {
    expect(etag).toBe(`W/"a-${(1_700_000_000_123).toString(16)}"`);
  });

  it('If-None-Match uses weak comparison over a list, and * matches an existing file', () => {
    expect(isNotModified({ 'if-none-match': etag }, etag, lastModified)).toBe(true);
    expect(isNotModified({ 'if-none-match': etag.slice(2) }, etag, lastModified)).toBe(true);
    expect(isNotModified({ 'if-none-match': `"x,y", ${etag}` }, etag, lastModified)).toBe(true);
    expect(isNotModified({ 'if-none-match': '*' }, etag, lastModified)).toBe(true);
    expect(isNotModified({ 'if-none-match': '"x"' }, etag, lastModified)).toBe(false);
    expect(isNotModified({ 'if-none-match': 'garbage' }, etag, lastModified)).toBe(false);
  });

  it('If-Modified-Since compares at second precision and ignores nonsense', () => {
    const at = new Date(lastModified).toUTCString();
    const now = lastModified + 60_000;
    expect(isNotModified({ 'if-modified-since': at }, etag, lastModified, now)).toBe(true);
    expect(isNotModified({ 'if-modified-since': new Date(lastModified - 1000).toUTCString() }, etag, lastModified, now)).toBe(false);
    expect(isNotModified({ 'if-modified-since': 'not a date' }, etag, lastModified, now)).toBe(false);
    expect(isNotModified({ 'if-modified-since': new Date(now + 1000).toUTCString() }, etag, lastModified, now)).toBe(false);
    expect(isNotModified({}, etag, lastModified, now)).toBe(false);
  });

  it('If-Range: weak tags never match; a date only when equal and at least a second old', () => {
    const at = new Date(lastModified).toUTCString();
    expect(ifRangeMatches(undefined, lastModified)).toBe(true);
    expect(ifRangeMatches(etag, lastModified)).toBe(false);
    expect(ifRangeMatches('"strong"', lastModified)).toBe(false);
    expect(ifRangeMatches(at, lastModified, lastModified + 5000)).toBe(true);
    expect(ifRangeMatches(at, lastModified, lastModified + 500)).toBe(false);
    expect(ifRangeMatches(new Date(lastModified + 1000).toUTCString(), lastModified, lastModified + 5000)).toBe(false);
  });
});

describe('decodeStaticPath', () => {
  it.each([
    ['', []],
    ['/', []],
    ['index.html', ['index.html']],
    ['/a//b/./c.js', ['a', 'b', 'c.js']],
    ['/a%20b/%C3%BC.txt', ['a b', 'ü.txt']],
    ['/%2525', ['%25']],
    ['/.well-known/x', ['.well-known', 'x']],
    ['/x.js?v=1#frag', ['x.js']],
  ])('%j -> %j', (path, segments) => {
    expect(decodeStaticPath(path)).toEqual(segments);
  });

  it.each(['/..', '/a/../b', '/%2e%2e', '/a%2fb', '/a%2Fb', '/a%5cb', '/a\\b', '/a%00', '/%zz', '/.env', '/.git/config', '/a/.hidden/b'])(
    '%j is refused',
    (path) => {
      expect(decodeStaticPath(path)).toBeUndefined();
    },
  );
});

describe('contentTypeFor', () => {
  it('uses the last extension, case-insensitively, and never Object.prototype', () => {
    expect(contentTypeFor('bundle.min.JS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('archive.tar.gz')).toBe('application/gzip');
    expect(contentTypeFor('.htaccess')).toBe('application/octet-stream');
    expect(contentTypeFor('x.__proto__')).toBe('application/octet-stream');
    expect(contentTypeFor('x.toString')).toBe('application/octet-stream');
    expect(contentTypeFor('a.csv')).toBe('text/csv; charset=utf-8');
    expect(contentTypeFor('README.md')).toBe('text/markdown; charset=utf-8');
    expect(contentTypeFor('sitemap.xml')).toBe('application/xml');
    expect(contentTypeFor('x.constructor')).toBe('application/octet-stream');
  });

  it('knows what a front end ships beyond a short table (mime-types), and what browsers need where mime-db differs', () => {
    expect(contentTypeFor('model.glb')).toBe('model/gltf-binary');
    expect(contentTypeFor('photo.heic')).toBe('image/heic');
    expect(contentTypeFor('logo.apng')).toBe('image/apng');
    expect(contentTypeFor('manifest.webmanifest')).toBe('application/manifest+json; charset=utf-8');
    expect(contentTypeFor('chunk.cjs')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('i18n/i18n_de.properties')).toBe('text/plain; charset=utf-8');
  });
});
