import { describe, expect, it } from 'vitest';
import type { Destination, RoutesFile } from '../../src/config/types.js';
import { compileRouteTable, requiredScopes } from '../../src/routing/route-table.js';

const dest = (name: string, url = 'http://backend:8080'): Destination => ({
  name,
  url: new URL(url),
  forwardAuthToken: false,
  maxSockets: 256,
  timeout: 30000,
  setXForwardedHeaders: true,
  strictSSL: true,
});
const destinations = new Map([['a', dest('a')], ['b', dest('b')], ['tenant-a', dest('tenant-a')]]);
const table = (routes: RoutesFile, xsappname?: string) => compileRouteTable(routes, { destinations, baseDir: '/srv', xsappname });

describe('compileRouteTable', () => {
  it('takes the first route whose source matches the URL with its query', () => {
    const t = table({ routes: [
      { source: '^/api/(.*)\\?debug=1$', target: '/debug/$1', destination: 'b' },
      { source: '^/api/(.*)$', target: '/$1', destination: 'a' },
    ] });
    const debug = t.match('/api/x?debug=1', 'GET');
    expect(debug).toMatchObject({ kind: 'route', path: '/debug/x', destination: { name: 'b' } });
    expect(t.match('/api/x?y=2', 'GET')).toMatchObject({ kind: 'route', path: '/x?y=2', destination: { name: 'a' } });
  });

  it('merges the methods of every matching route into 405 Allow', () => {
    const t = table({ routes: [
      { source: '^/m/(.*)$', destination: 'a', httpMethods: ['POST'] },
      { source: '^/m/(.*)$', destination: 'a', httpMethods: ['GET'] },
      { source: '^/m/(.*)$', destination: 'b', httpMethods: ['PUT'] },
    ] });
    expect(t.match('/m/x', 'DELETE')).toEqual({ kind: 'method-not-allowed', allow: ['POST', 'GET', 'HEAD', 'PUT'] });
    expect(t.match('/m/x', 'HEAD')).toMatchObject({ kind: 'route', route: { index: 1 } });
    expect(t.match('/other', 'GET')).toEqual({ kind: 'not-found' });
  });

  it('keeps the path unchanged without target, and honours matchCase:false', () => {
    const t = table({ routes: [{ source: { path: '^/API/(.*)$', matchCase: false }, destination: 'a' }] });
    expect(t.match('/api/Orders', 'GET')).toMatchObject({ kind: 'route', path: '/api/Orders' });
  });

  it('resolves dynamic destinations from backreferences, refusing unknown ones', () => {
    const t = table({ routes: [{ source: '^/svc/([a-z-]+)/(.*)$', target: '/$2', destination: '$1' }] });
    expect(t.match('/svc/tenant-a/x', 'GET')).toMatchObject({ kind: 'route', path: '/x', destination: { name: 'tenant-a' } });
    expect(t.match('/svc/nope/x', 'GET')).toEqual({ kind: 'not-found' });
  });

  it('defaults: xsuaa authentication, CSRF on; authenticationMethod none turns authentication off', () => {
    const t = table({ routes: [{ source: '^/a', destination: 'a' }] });
    expect(t.routes[0]).toMatchObject({ authenticationType: 'xsuaa', csrfProtection: true });
    const off = table({ authenticationMethod: 'none', routes: [{ source: '^/a', destination: 'a', authenticationType: 'xsuaa' }] });
    expect(off.routes[0]!.authenticationType).toBe('none');
  });

  it('expands $XSAPPNAME in scopes, per method with a default', () => {
    const t = table({ routes: [{ source: '^/a', destination: 'a', scope: { GET: '$XSAPPNAME.Read', default: ['$XSAPPNAME.Write', 'other'] } }] }, 'myapp!t7');
    const route = t.routes[0]!;
    expect(requiredScopes(route, 'GET')).toEqual(['myapp!t7.Read']);
    expect(requiredScopes(route, 'POST')).toEqual(['myapp!t7.Write', 'other']);
    expect(requiredScopes(table({ routes: [{ source: '^/a', destination: 'a' }] }).routes[0]!, 'GET')).toBeUndefined();
  });

  it('a per-method scope without default admits no other method (SAP rejects it)', () => {
    const route = table({ routes: [{ source: '^/a', destination: 'a', scope: { GET: '$XSAPPNAME.Read' } }] }, 'myapp!t7').routes[0]!;
    expect(requiredScopes(route, 'GET')).toEqual(['myapp!t7.Read']);
    // No scope can satisfy an empty list: the caller answers 403.
    expect(requiredScopes(route, 'POST')).toEqual([]);
    // SAP looks the method up as sent: GET's scope does not cover HEAD.
    expect(requiredScopes(route, 'HEAD')).toEqual([]);
  });

  it('derives the reverse mapping for backend redirects only for simple prefix routes', () => {
    const t = table({ routes: [
      { source: '^/api/(.*)$', target: '/v1/$1', destination: 'a' },
      { source: '^/x/(a|b)/(.*)$', target: '/$2', destination: 'a' },
    ] });
    expect(t.routes[0]!.reverse).toEqual({ sourcePrefix: '/api/', targetPrefix: '/v1/' });
    expect(t.routes[1]!.reverse).toBeUndefined();
  });
});

describe('target rewriting', () => {
  it('gives exactly what String.prototype.replace gives, for many sources, targets and URLs', () => {
    const cases: [string, string, string][] = [
      ['^/api/(.*)$', '/$1', '/api/orders?x=1'],
      ['^/api/(.*)$', '$1', '/api/orders'],
      ['^/a/(\\w+)/b/(.*)$', '/x/$2/y/$1', '/a/one/b/two/three?q'],
      ['/odata/', '/sap/opu/odata/', '/odata/v2/Orders'],
      ['^/(.*)$', '/index/$1$1', '/abc'],
      ['^/api/(.*)$', '/$2', '/api/x'],
      ['^/p(/.*)?$', '$1', '/p'],
      ['^/(.*)$', '/$&', '/dollar'],
      ['^/(.*)$', '/$$1', '/dollar'],
      ['^/v(\\d)/(.*)$', '/version$1/$2', '/v2/items'],
    ];
    for (const [source, target, url] of cases) {
      const t = compileRouteTable({ routes: [{ source, target, destination: 'a' }] }, { destinations, baseDir: '/srv' });
      const got = t.match(url, 'GET');
      expect(got, `${source} -> ${target} on ${url}`).toMatchObject({ kind: 'route', path: url.replace(new RegExp(source), target) });
    }
  });
});
