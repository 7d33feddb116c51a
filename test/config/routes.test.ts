import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadRoutesFile, validateRoutesDocument } from '../../src/config/routes.js';
import { ConfigError, type ConfigProblem } from '../../src/errors.js';

const FILE = 'routes.json';
const options = { destinationNames: new Set(['backend', 'ui']) };
const dir = mkdtempSync(path.join(tmpdir(), 'zg-routes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problemsOf(doc: unknown): ConfigProblem[] {
  try {
    validateRoutesDocument(doc, FILE, options);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected the document to be refused');
}

/** The single problem of a document, asserted to be the only one. */
function onlyProblem(doc: unknown): ConfigProblem {
  const problems = problemsOf(doc);
  expect(problems, JSON.stringify(problems, null, 1)).toHaveLength(1);
  return problems[0]!;
}

function withRoute(route: Record<string, unknown>, top: Record<string, unknown> = {}) {
  return { ...top, routes: [{ source: '^/api/(.*)$', target: '/$1', destination: 'backend', ...route }] };
}

const accepted = (doc: unknown) => validateRoutesDocument(doc, FILE, options);

describe('a valid routes file', () => {
  test('is returned as written, without warnings', () => {
    const doc = {
      welcomeFile: '/index.html',
      authenticationMethod: 'route',
      sessionTimeout: 30,
      logout: { logoutEndpoint: '/do/logout', logoutPage: '/bye.html', logoutMethods: ['POST'], csrfProtection: true },
      routes: [
        { source: '^/api/(.*)$', target: '/$1', destination: 'backend', authenticationType: 'xsuaa', scope: '$XSAPPNAME.Read', csrfProtection: true },
        { source: { path: '^/UI/(.*)$', matchCase: false }, target: '$1', localDir: 'web', cacheControl: 'no-cache' },
        { source: '^/user-api(.*)', target: '$1', service: 'sap-approuter-userapi' },
        { source: '^/open/(.*)$', destination: 'ui', authenticationType: 'none', httpMethods: ['GET', 'HEAD'] },
        { source: '^/admin/(.*)$', destination: 'backend', scope: ['$XSAPPNAME.Admin', '$XSAPPNAME.Root'] },
        { source: '^/orders/(.*)$', destination: 'backend', scope: { GET: '$XSAPPNAME.Read', POST: ['$XSAPPNAME.Write'], default: '$XSAPPNAME.Read' } },
      ],
      websockets: { enabled: true },
      responseHeaders: [{ name: 'X-Frame-Options', value: 'DENY' }],
      compression: { enabled: true, minSize: 2048 },
      errorPage: [{ status: [404, 500], file: '/errors/page.html' }],
      login: { callbackEndpoint: '/login/callback' },
    };
    const { config, warnings } = accepted(structuredClone(doc));
    expect(warnings).toEqual([]);
    expect(config).toEqual(doc);
  });

  test("SAP's single logoutMethod is also offered as logoutMethods", () => {
    const { config } = accepted({ logout: { logoutEndpoint: '/logout', logoutMethod: 'POST' }, routes: [] });
    expect(config.logout?.logoutMethods).toEqual(['POST']);
  });

  test('the caller\'s document is not modified', () => {
    const doc = { logout: { logoutEndpoint: '/logout', logoutMethod: 'GET' } };
    accepted(doc);
    expect(doc).toEqual({ logout: { logoutEndpoint: '/logout', logoutMethod: 'GET' } });
  });

  test('an empty document is valid (no routes)', () => {
    expect(accepted({}).config).toEqual({});
  });
});

describe('reading the file', () => {
  test('invalid JSON names the line and column', () => {
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, '{\n  "routes": [\n    { "source": "^/a$", "destination": "backend" }\n  ],\n}\n');
    expect(() => loadRoutesFile(file, options)).toThrow(ConfigError);
    try {
      loadRoutesFile(file, options);
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        { file, path: '', message: "is not valid JSON: expected a double-quoted property name, found '}' at line 5, column 1" },
      ]);
      expect((err as ConfigError).message).toContain(`${file}: is not valid JSON`);
    }
  });

  test('a valid file loads', () => {
    const file = path.join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify(withRoute({})));
    expect(loadRoutesFile(file, options).config.routes?.[0]?.destination).toBe('backend');
  });

  test('a document that is not an object', () => {
    expect(onlyProblem([])).toEqual({ file: FILE, path: '', message: 'expected object, got array' });
  });
});

describe('schema', () => {
  test('unknown top-level property, with the allowed ones', () => {
    const p = onlyProblem({ sendWWWAuthenticate: false });
    expect(p.path).toBe('/sendWWWAuthenticate');
    expect(p.message).toMatch(/^unknown property "sendWWWAuthenticate" \(expected one of: welcomeFile, authenticationMethod, .*routes/);
  });

  test('a property name with "/" is escaped in the path (RFC 6901)', () => {
    expect(onlyProblem({ '/': {} }).path).toBe('/~1');
  });

  test('unknown route property', () => {
    const p = onlyProblem(withRoute({ timeout: 5 }));
    expect(p.path).toBe('/routes/0/timeout');
    expect(p.message).toMatch(/^unknown property "timeout" \(expected one of: source, httpMethods, target/);
  });

  test('wrong type: expected boolean, got string', () => {
    expect(onlyProblem(withRoute({ csrfProtection: 'false' }))).toEqual({
      file: FILE,
      path: '/routes/0/csrfProtection',
      message: 'expected boolean, got string',
    });
  });

  test('enum', () => {
    expect(onlyProblem(withRoute({ authenticationType: 'oauth' }))).toEqual({
      file: FILE,
      path: '/routes/0/authenticationType',
      message: 'expected one of "xsuaa", "ias", "basic", "none", got "oauth"',
    });
    expect(onlyProblem({ authenticationMethod: 'always' }).message).toBe('expected one of "none", "route", got "always"');
  });

  test('sessionTimeout must be a positive integer (minutes)', () => {
    expect(onlyProblem({ sessionTimeout: 0 })).toEqual({ file: FILE, path: '/sessionTimeout', message: 'expected a number >= 1, got 0' });
    expect(onlyProblem({ sessionTimeout: -5 }).message).toBe('expected a number >= 1, got -5');
    expect(onlyProblem({ sessionTimeout: 1.5 }).message).toBe('expected integer, got number');
    expect(onlyProblem({ sessionTimeout: '15' }).message).toBe('expected integer, got string');
  });

  test('required properties name their own path', () => {
    expect(onlyProblem({ routes: [{ destination: 'backend' }] })).toEqual({ file: FILE, path: '/routes/0/source', message: 'is required' });
    expect(onlyProblem({ websockets: {} })).toEqual({ file: FILE, path: '/websockets/enabled', message: 'is required' });
  });

  test('empty strings', () => {
    expect(onlyProblem(withRoute({ target: '' }))).toEqual({ file: FILE, path: '/routes/0/target', message: 'expected a non-empty string' });
  });

  test('every problem is reported at once, in document order', () => {
    const problems = problemsOf({
      sessionTimeout: 0,
      extra: 1,
      routes: [
        { source: '^/a/(.*)$', destination: 'nope' },
        { source: '(', localDir: 'web', csrfProtection: 'yes' },
      ],
    });
    expect(problems.map((p) => p.path)).toEqual(['/extra', '/routes/0/destination', '/routes/1/csrfProtection', '/routes/1/source', '/sessionTimeout']);
    expect(problems.every((p) => p.file === FILE)).toBe(true);
  });
});

describe('route sources', () => {
  test('a source that does not compile', () => {
    const p = onlyProblem(withRoute({ source: '^/api/(.*$', target: undefined }));
    expect(p.path).toBe('/routes/0/source');
    expect(p.message).toMatch(/^expected a JavaScript regular expression: Invalid regular expression/);
  });

  test('an object source is checked at source/path', () => {
    expect(onlyProblem(withRoute({ source: { path: '[', matchCase: false }, target: undefined })).path).toBe('/routes/0/source/path');
  });

  test('attack: a source with catastrophic backtracking is refused', () => {
    const p = onlyProblem(withRoute({ source: '^/api/(\\w+\\s?)+$' }));
    expect(p.path).toBe('/routes/0/source');
    expect(p.message).toMatch(/may backtrack catastrophically \(exponential time in the length of a hostile URL, e.g. .*\); expected a pattern without nested or adjacent unbounded repetition/);
  });

  test('attack: an optional inside a repetition is no excuse (the old check dropped "?" and passed this)', () => {
    // One 31-character request held the gateway for 45 s against this source.
    expect(onlyProblem(withRoute({ source: '^/files/(\\w?\\w?)+$' }))).toMatchObject({ path: '/routes/0/source', message: expect.stringMatching(/exponential/) });
  });

  test('a cubic source is refused, a quadratic one (every unanchored source) accepted', () => {
    expect(onlyProblem(withRoute({ source: '^/(.*)/(.*)/(.*)$', target: undefined }))).toMatchObject({ message: expect.stringMatching(/3rd degree polynomial/) });
    expect(accepted(withRoute({ source: '/backend/(.*)$' })).warnings).toEqual([]);
    expect(accepted(withRoute({ source: '^(?:/app|/app/.*)?/resources/(.*)$' })).warnings).toEqual([]);
  });

  test('a lookbehind is analysed, not waved through with a warning', () => {
    expect(accepted(withRoute({ source: '(?<=/api)/(.*)$' })).warnings).toEqual([]);
  });
});

describe('route targets and destinations', () => {
  test('none of destination, localDir, service (SAP\'s message)', () => {
    expect(onlyProblem({ routes: [{ source: '^/a$' }] })).toEqual({
      file: FILE,
      path: '/routes/0',
      message: 'Route does not have a destination nor a localDir nor a service (expected one of them)',
    });
  });

  test('an unknown destination names the known ones', () => {
    expect(onlyProblem(withRoute({ destination: 'nope' }))).toEqual({
      file: FILE,
      path: '/routes/0/destination',
      message: 'unknown destination "nope"; expected one of the destinations in the environment (backend, ui)',
    });
  });

  test('a dynamic destination is resolved per request, but its group must exist', () => {
    expect(accepted(withRoute({ source: '^/d/([^/]+)/(.*)$', target: '$2', destination: '$1' })).warnings).toEqual([]);
    expect(onlyProblem(withRoute({ source: '^/d/(.*)$', target: '/', destination: '$2' }))).toEqual({
      file: FILE,
      path: '/routes/0/destination',
      message: 'refers to capture group $2 but the source has 1 capture group',
    });
  });

  test('target backreferences beyond the capture groups', () => {
    expect(onlyProblem(withRoute({ source: '^/api/(.*)$', target: '/$1/$2' }))).toEqual({
      file: FILE,
      path: '/routes/0/target',
      message: 'refers to capture group $2 but the source has 1 capture group',
    });
    expect(onlyProblem(withRoute({ source: '^/api$', target: '/$1' })).message).toBe('refers to capture group $1 but the source has 0 capture groups');
  });

  test('attack: a target may not leave the destination (absolute URL)', () => {
    expect(onlyProblem(withRoute({ target: '//evil.example/$1' }))).toEqual({
      file: FILE,
      path: '/routes/0/target',
      message: 'expected a relative path (no scheme or host), got "//evil.example/$1"',
    });
    expect(onlyProblem(withRoute({ target: 'https://evil.example/$1' })).path).toBe('/routes/0/target');
  });

  test("SAP's exclusive combinations", () => {
    expect(onlyProblem(withRoute({ localDir: 'web' })).message).toBe('expected either destination or localDir, not both');
    expect(onlyProblem(withRoute({ service: 'sap-approuter-userapi' })).message).toBe('expected either destination or service, not both');
    expect(onlyProblem({ routes: [{ source: '^/a$', localDir: 'web', service: 'sap-approuter-userapi' }] }).message).toBe(
      'expected either localDir or service, not both',
    );
  });

  test('localDir routes serve GET/HEAD only: httpMethods is refused there', () => {
    expect(onlyProblem({ routes: [{ source: '^/a$', localDir: 'web', httpMethods: ['GET'] }] })).toEqual({
      file: FILE,
      path: '/routes/0/httpMethods',
      message: 'cannot be combined with localDir (static files answer GET and HEAD only)',
    });
  });
});

describe('httpMethods', () => {
  test('unknown method', () => {
    expect(onlyProblem(withRoute({ httpMethods: ['GET', 'FETCH'] }))).toEqual({
      file: FILE,
      path: '/routes/0/httpMethods/1',
      message: 'expected one of "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "TRACE", "PATCH", got "FETCH"',
    });
  });

  test('CONNECT is not routable (SAP\'s enum)', () => {
    expect(onlyProblem(withRoute({ httpMethods: ['CONNECT'] })).path).toBe('/routes/0/httpMethods/0');
  });

  test('empty list', () => {
    expect(onlyProblem(withRoute({ httpMethods: [] }))).toEqual({
      file: FILE,
      path: '/routes/0/httpMethods',
      message: 'expected at least 1 item(s), got an empty array',
    });
  });
});

describe('scope', () => {
  test('shapes: string, array, object with default', () => {
    expect(onlyProblem(withRoute({ scope: 5 }))).toEqual({ file: FILE, path: '/routes/0/scope', message: 'expected string or array or object, got integer' });
    expect(onlyProblem(withRoute({ scope: [] })).message).toBe('expected at least 1 item(s), got an empty array');
    expect(onlyProblem(withRoute({ scope: ['a', 7] })).path).toBe('/routes/0/scope/1');
    expect(onlyProblem(withRoute({ scope: { GET: 5, default: 'a' } })).path).toBe('/routes/0/scope/GET');
    const unknownMethod = onlyProblem(withRoute({ scope: { FETCH: 'a', default: 'a' } }));
    expect(unknownMethod.path).toBe('/routes/0/scope/FETCH');
    expect(unknownMethod.message).toMatch(/^unknown property "FETCH" \(expected one of: DELETE, GET/);
  });

  test('a per-method scope without default is accepted, as SAP accepts it (unlisted methods are rejected at request time)', () => {
    const { config, warnings } = accepted(withRoute({ scope: { GET: '$XSAPPNAME.Read' } }));
    expect(config.routes?.[0]?.scope).toEqual({ GET: '$XSAPPNAME.Read' });
    expect(warnings).toEqual([]);
  });

  test('attack: a scope on an unauthenticated route protects nothing', () => {
    expect(onlyProblem(withRoute({ authenticationType: 'none', scope: '$XSAPPNAME.Admin' }))).toEqual({
      file: FILE,
      path: '/routes/0/scope',
      message: 'cannot be enforced on a route with authenticationType "none"',
    });
    expect(onlyProblem(withRoute({ scope: '$XSAPPNAME.Admin' }, { authenticationMethod: 'none' })).message).toBe(
      'cannot be enforced while the top-level authenticationMethod is "none"',
    );
  });
});

describe('logout', () => {
  test('logoutMethods only GET and POST', () => {
    expect(onlyProblem({ logout: { logoutEndpoint: '/logout', logoutMethods: ['GET', 'DELETE'] } })).toEqual({
      file: FILE,
      path: '/logout/logoutMethods/1',
      message: 'expected one of "POST", "GET", got "DELETE"',
    });
  });

  test('logoutMethod and logoutMethods together', () => {
    expect(onlyProblem({ logout: { logoutEndpoint: '/l', logoutMethod: 'GET', logoutMethods: ['POST'] } }).message).toBe(
      'expected either logoutMethod or logoutMethods, not both',
    );
  });

  test('csrfProtection only with POST (SAP)', () => {
    expect(onlyProblem({ logout: { logoutEndpoint: '/l', csrfProtection: true } })).toEqual({
      file: FILE,
      path: '/logout/csrfProtection',
      message: "can only be set when the logout method is POST (as SAP's router requires)",
    });
  });

  test('logoutPage needs logoutEndpoint (SAP)', () => {
    expect(onlyProblem({ logout: { logoutPage: '/bye' } }).path).toBe('/logout/logoutPage');
  });

  test('attack: logoutPage with a javascript: URL', () => {
    expect(onlyProblem({ logout: { logoutEndpoint: '/l', logoutPage: 'javascript:alert(1)' } })).toEqual({
      file: FILE,
      path: '/logout/logoutPage',
      message: 'expected a relative path or an http(s) URL, got scheme "javascript:"',
    });
    expect(accepted({ logout: { logoutEndpoint: '/l', logoutPage: 'https://idp.example/bye' } }).warnings).toEqual([]);
  });

  test('logoutEndpoint must be a path of the gateway', () => {
    expect(onlyProblem({ logout: { logoutEndpoint: 'https://x.example/logout' } }).path).toBe('/logout/logoutEndpoint');
  });
});

describe('errorPage', () => {
  test('statuses must be HTTP errors 400-599', () => {
    expect(onlyProblem({ errorPage: [{ status: 302, file: 'e.html' }] })).toEqual({
      file: FILE,
      path: '/errorPage/0/status',
      message: 'expected an HTTP error status 400-599, got 302',
    });
    expect(onlyProblem({ errorPage: [{ status: [404, 600], file: 'e.html' }] }).path).toBe('/errorPage/0/status/1');
    expect(onlyProblem({ errorPage: [{ status: [], file: 'e.html' }] }).path).toBe('/errorPage/0/status');
  });

  test('a file is required; SAP\'s path variant is not supported', () => {
    expect(onlyProblem({ errorPage: [{ status: 404 }] })).toEqual({ file: FILE, path: '/errorPage/0/file', message: 'is required' });
    expect(onlyProblem({ errorPage: [{ status: 404, path: '/err' }] }).message).toBe(
      'error pages served from a path are not supported by zonegate; expected "file"',
    );
  });
});

describe('headers', () => {
  test('attack: header injection through responseHeaders or cacheControl', () => {
    expect(onlyProblem({ responseHeaders: [{ name: 'X-A', value: 'ok\r\nSet-Cookie: a=b' }] })).toEqual({
      file: FILE,
      path: '/responseHeaders/0/value',
      message: 'expected a header value without control characters',
    });
    expect(onlyProblem(withRoute({ cacheControl: 'no-cache\nX-Evil: 1' })).path).toBe('/routes/0/cacheControl');
  });

  test('header names are RFC 9110 tokens and may not set cookies', () => {
    expect(onlyProblem({ responseHeaders: [{ name: 'X A', value: '1' }] }).message).toBe('expected an HTTP header name (RFC 9110 token), got "X A"');
    expect(onlyProblem({ responseHeaders: [{ name: 'Set-Cookie', value: 'a=b' }] }).message).toBe('header "Set-Cookie" may not be set by responseHeaders');
  });
});

describe('features zonegate does not implement', () => {
  test('a service other than the user API and the HTML5 application repository is refused, naming the route', () => {
    const p = onlyProblem({ routes: [withRoute({}).routes[0], { source: '^/wf/(.*)$', target: '/$1', service: 'com.sap.bpm.workflow', endpoint: 'workflow_rest_url' }] });
    expect(p).toEqual({
      file: FILE,
      path: '/routes/1',
      message: 'service "com.sap.bpm.workflow" (SAP Workflow service) is not supported by zonegate',
    });
    expect(new ConfigError([p]).message).toContain('routes.json at /routes/1: service "com.sap.bpm.workflow"');
    expect(onlyProblem({ routes: [{ source: '^/x$', service: 'com.acme.thing', endpoint: 'api' }] }).message).toBe(
      'service "com.acme.thing" (a bound SAP business service) is not supported by zonegate',
    );
  });

  test('html5-apps-repo-rt, the HTML5 application repository, is accepted (issue 16: src/html5-apps/)', () => {
    expect(accepted({ routes: [withRoute({}).routes[0], { source: '^(.*)$', target: '$1', service: 'html5-apps-repo-rt', authenticationType: 'xsuaa' }] }).warnings).toEqual([]);
  });

  test('authenticationType ias', () => {
    expect(onlyProblem(withRoute({ authenticationType: 'ias' }))).toEqual({
      file: FILE,
      path: '/routes/0',
      message: 'authenticationType "ias" (SAP Cloud Identity Services) is not supported by zonegate; expected "xsuaa", "basic" or "none"',
    });
  });

  test('the wildcard destination', () => {
    expect(onlyProblem(withRoute({ destination: '*' })).path).toBe('/routes/0/destination');
  });
});

describe('accepted but ignored (warnings)', () => {
  test('each is reported with its path', () => {
    const { warnings } = accepted({
      whitelistService: { endpoint: '/allowlist/service' },
      login: { callbackEndpoint: '/callback' },
      logout: { logoutEndpoint: '/logout', backChannelLogoutEndpoint: '/bc' },
      cors: [{ uriPattern: '^/api$', allowedOrigin: [{ host: 'a.example' }] }],
      routes: [
        { source: '^/s/(.*)$', localDir: 'web', replace: { pathSuffixes: ['index.html'], vars: ['x'] } },
        { source: '^/p/(.*)$', destination: 'backend', preferLocal: true, identityProvider: 'corp', dynamicIdentityProvider: true },
      ],
    });
    expect(warnings.map((w) => w.path)).toEqual([
      '/cors',
      '/login/callbackEndpoint',
      '/logout/backChannelLogoutEndpoint',
      '/routes/0/replace',
      '/routes/1/dynamicIdentityProvider',
      '/routes/1/preferLocal',
      '/whitelistService',
    ]);
    expect(warnings.find((w) => w.path === '/login/callbackEndpoint')?.message).toBe('ignored by zonegate: its login callback is always /login/callback');
    expect(warnings.find((w) => w.path === '/routes/0/replace')?.message).toMatch(/accepted for compatibility with SAP's approuter but ignored by zonegate/);
  });

  test('a localDir of the application directory itself is accepted (SAP does) but warned about', () => {
    for (const localDir of ['.', './']) {
      expect(accepted({ routes: [{ source: '^/(.*)$', localDir }] }).warnings).toEqual([
        {
          file: FILE,
          path: '/routes/0/localDir',
          message: `"${localDir}" serves the application directory itself, including routes.json and default-env.json (which may hold credentials)`,
        },
      ]);
    }
    expect(accepted({ routes: [{ source: '^/(.*)$', localDir: './webapp' }] }).warnings).toEqual([]);
  });

  test('the default callback is no warning', () => {
    expect(accepted({ login: { callbackEndpoint: '/login/callback' } }).warnings).toEqual([]);
  });

  test("SAP's preconditions still apply to them", () => {
    expect(onlyProblem({ routes: [{ source: '^/a$', destination: 'backend', replace: { pathSuffixes: ['x'] } }] })).toEqual({
      file: FILE,
      path: '/routes/0/replace',
      message: 'requires localDir',
    });
    expect(onlyProblem({ routes: [{ source: '^/a$', localDir: 'web', preferLocal: true }] }).message).toBe('requires a destination');
    expect(onlyProblem(withRoute({ identityProvider: 'corp', authenticationType: 'basic' })).message).toBe(
      'cannot be combined with authenticationType "basic"; expected "xsuaa"',
    );
    expect(onlyProblem(withRoute({ identityProvider: 'corp idp/1' }))).toEqual({
      file: FILE,
      path: '/routes/0/identityProvider',
      message: 'expected the origin key of an identity provider: 1 to 64 of A-Z, a-z, 0-9, ".", "_" and "-"',
    });
    expect(onlyProblem({ logout: { logoutEndpoint: '/l', backChannelLogoutEndpoint: '/l' } }).message).toBe(
      'expected a path different from logout.logoutEndpoint',
    );
    const cors = onlyProblem({ cors: [{ uriPattern: '(', allowedOrigin: ['*'] }] });
    expect(cors.path).toBe('/cors/0/uriPattern');
  });
});
