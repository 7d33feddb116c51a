import { describe, expect, it } from 'vitest';
import { compileRedirectPattern, compileRedirectPatterns, isAllowedRedirectUri, redirectUriDefect } from '../../../src/zones/oauth/redirect-uri.js';

const allowed = (pattern: string, candidate: string) => compileRedirectPattern(pattern).matches(candidate);

describe('redirect URI patterns', () => {
  it('matches an exact URI and nothing longer', () => {
    expect(allowed('https://app.example.com/login/callback', 'https://app.example.com/login/callback')).toBe(true);
    expect(allowed('https://app.example.com/login/callback', 'https://app.example.com/login/callback/x')).toBe(false);
    expect(allowed('https://app.example.com/login/callback', 'https://app.example.com/login/callback?x=1')).toBe(false);
    expect(allowed('https://app.example.com', 'https://app.example.com/')).toBe(true);
    expect(allowed('https://app.example.com', 'https://app.example.com/x')).toBe(false);
  });

  it('`*` is exactly one host label', () => {
    const p = 'https://*.app.example.com/**';
    expect(allowed(p, 'https://acme.app.example.com/login/callback')).toBe(true);
    expect(allowed(p, 'https://app.example.com/login/callback')).toBe(false);
    expect(allowed(p, 'https://a.b.app.example.com/')).toBe(false);
    expect(allowed(p, 'https://acme.app.example.com.evil.example/')).toBe(false);
    expect(allowed(p, 'https://acmeapp.example.com/')).toBe(false);
  });

  it('`**` is any path and allows a query; `*` stays inside one segment', () => {
    expect(allowed('https://app.example.com/**', 'https://app.example.com/a/b/c?x=1')).toBe(true);
    expect(allowed('https://app.example.com/cb/*', 'https://app.example.com/cb/one')).toBe(true);
    expect(allowed('https://app.example.com/cb/*', 'https://app.example.com/cb/one/two')).toBe(false);
    expect(allowed('https://app.example.com/cb/**', 'https://app.example.com/other')).toBe(false);
  });

  it('`http*` is http or https, nothing else', () => {
    expect(allowed('http*://localhost:*/**', 'http://localhost:5000/cb')).toBe(true);
    expect(allowed('http*://localhost:*/**', 'https://localhost/cb')).toBe(true);
    expect(allowed('https://app.example.com/**', 'http://app.example.com/cb')).toBe(false);
  });

  it('ports must match unless the pattern says `:*`', () => {
    expect(allowed('https://app.example.com/**', 'https://app.example.com:8443/cb')).toBe(false);
    expect(allowed('https://app.example.com:8443/**', 'https://app.example.com:8443/cb')).toBe(true);
    expect(allowed('https://app.example.com:8443/**', 'https://app.example.com:9443/cb')).toBe(false);
    expect(allowed('https://app.example.com:443/**', 'https://app.example.com/cb')).toBe(true);
  });

  it('compares host names case-insensitively only through canonical form', () => {
    expect(allowed('https://APP.example.com/**', 'https://app.example.com/cb')).toBe(true);
    // An upper-case candidate is not canonical: refused rather than normalised.
    expect(allowed('https://app.example.com/**', 'https://APP.example.com/cb')).toBe(false);
  });
});

describe('redirect URI attacks', () => {
  const patterns = compileRedirectPatterns(['https://app.example.com/**', 'https://*.tenants.example.com/login/callback']);
  const attacks = [
    'https://evil.example/..',
    'https://app.example.com/../../evil',
    'https://app.example.com/./cb',
    'https://app.example.com@evil.example/',
    'https://user:pw@app.example.com/cb',
    'https://evil.example@app.example.com/cb',
    'https://app.example.com\\@evil.example/',
    'https://app.example.com\\.evil.example/',
    'https://app.example.com/%2e%2e/evil',
    'https://app.example.com/cb%2F..%2F..%2Fevil',
    'https://app.example.com/%5c%5cevil.example',
    'https://app.example.com/%252e%252e/',
    'https://app.example.com%2eevil.example/',
    'https://app.example.com.evil.example/cb',
    'https://app.example.com:443.evil.example/',
    'https://app.example.com/cb#frag',
    'https://app.example.com/c\tb',
    'https://app.example.com/ cb',
    'https://аpp.example.com/cb', // Cyrillic a
    'https://xn--pp-8cd.example.com/cb',
    '//app.example.com/cb',
    'javascript://app.example.com/%0aalert(1)',
    'https://acme.tenants.example.com.evil.example/login/callback',
    'https://a.b.tenants.example.com/login/callback',
    'https://acme.tenants.example.com/login/callback/../../x',
    'https://acme.tenants.example.com/login/callback?next=x',
  ];
  for (const attack of attacks) {
    it(`refuses ${JSON.stringify(attack)}`, () => {
      expect(isAllowedRedirectUri(patterns, attack)).toBe(false);
    });
  }

  it('accepts the legitimate URIs next to those attacks', () => {
    expect(isAllowedRedirectUri(patterns, 'https://app.example.com/login/callback?x=1')).toBe(true);
    expect(isAllowedRedirectUri(patterns, 'https://acme.tenants.example.com/login/callback')).toBe(true);
  });

  it('names the defect of a malformed candidate', () => {
    expect(redirectUriDefect('https://a.example/cb')).toBeUndefined();
    expect(redirectUriDefect('https://u@a.example/cb')).toBe('contains userinfo');
    expect(redirectUriDefect('https://a.example\\cb')).toBe('contains a backslash');
    expect(redirectUriDefect('https://a.example/%2e%2e/')).toBe('contains an encoded separator');
    expect(redirectUriDefect('https://a.example/x/../y')).toBe('not in canonical form');
  });

  it('refuses patterns that could never be safe, and skips them in a list', () => {
    expect(() => compileRedirectPattern('https://user@app.example.com/**')).toThrow(/userinfo/);
    expect(() => compileRedirectPattern('ftp://app.example.com/')).toThrow();
    expect(() => compileRedirectPattern('https://**/cb')).toThrow(/host label/);
    expect(compileRedirectPatterns(['https://**/cb', 'https://ok.example/cb']).map((p) => p.source)).toEqual(['https://ok.example/cb']);
  });
});

describe('wildcards that could stall /oauth/authorize are refused when the pattern is compiled', () => {
  it.each(['https://app.example/**/**/**/x', 'https://app.example/**/*/**/x', 'https://app.example/a*b*c*/x', 'https://app.example/**/a*b*'])('%s is refused', (pattern) => {
    expect(() => compileRedirectPattern(pattern)).toThrow(/may backtrack catastrophically/);
    // And a client's list with it allows nothing through it.
    expect(isAllowedRedirectUri(compileRedirectPatterns([pattern]), 'https://app.example/a/b/c/x')).toBe(false);
  });

  it.each(['https://app.example/**', 'https://app.example/*/*/*/cb', 'https://app.example/a/**/b*', 'http*://localhost:*/**'])('%s is accepted', (pattern) => {
    expect(() => compileRedirectPattern(pattern)).not.toThrow();
  });
});
