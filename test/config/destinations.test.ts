import { describe, expect, test } from 'vitest';
import { DEFAULT_DESTINATION_TIMEOUT_MS, parseDestinations } from '../../src/config/destinations.js';
import { ConfigError, type ConfigProblem } from '../../src/errors.js';

const SOURCE = 'environment variable destinations';

function problemsOf(json: string): ConfigProblem[] {
  try {
    parseDestinations(json, SOURCE);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected the destinations to be refused');
}

function onlyProblem(value: unknown): ConfigProblem {
  const problems = problemsOf(typeof value === 'string' ? value : JSON.stringify(value));
  expect(problems, JSON.stringify(problems, null, 1)).toHaveLength(1);
  return problems[0]!;
}

describe('parseDestinations', () => {
  test('unset or blank means none', () => {
    expect(parseDestinations(undefined, SOURCE)).toEqual([]);
    expect(parseDestinations('  ', SOURCE)).toEqual([]);
    expect(parseDestinations('[]', SOURCE)).toEqual([]);
  });

  test("SAP's defaults: timeout 30000 ms, X-Forwarded headers and TLS verification on, no token forwarding", () => {
    const [d] = parseDestinations('[{"name":"backend","url":"http://127.0.0.1:8080/base"}]', SOURCE);
    expect(d).toEqual({
      name: 'backend',
      url: new URL('http://127.0.0.1:8080/base'),
      forwardAuthToken: false,
      timeout: DEFAULT_DESTINATION_TIMEOUT_MS,
      maxSockets: 256,
      setXForwardedHeaders: true,
      strictSSL: true,
    });
    expect(DEFAULT_DESTINATION_TIMEOUT_MS).toBe(30_000);
  });

  test('every property is read; unknown ones (SAP tolerates them) are ignored', () => {
    const [d] = parseDestinations(
      JSON.stringify([
        {
          name: 'srv',
          url: 'https://srv.example:8443',
          forwardAuthToken: true,
          timeout: 1500,
          maxSockets: 32,
          setXForwardedHeaders: false,
          strictSSL: false,
          proxyHost: 'proxy.local',
          proxyPort: '3128',
          proxyType: 'Internet',
          'HTML5.DynamicDestination': true,
        },
      ]),
      SOURCE,
    );
    expect(d).toEqual({
      name: 'srv',
      url: new URL('https://srv.example:8443'),
      forwardAuthToken: true,
      timeout: 1500,
      maxSockets: 32,
      setXForwardedHeaders: false,
      strictSSL: false,
      proxyHost: 'proxy.local',
      proxyPort: 3128,
    });
  });

  test('invalid JSON names line and column', () => {
    expect(onlyProblem('[{"name": "a", "url": "http://a"},]')).toEqual({
      file: SOURCE,
      path: '',
      message: "is not valid JSON: expected a JSON value, found ']' at line 1, column 35",
    });
  });

  test('not an array', () => {
    expect(onlyProblem({ name: 'a', url: 'http://a' })).toEqual({ file: SOURCE, path: '', message: 'expected a JSON array of destinations, got object' });
    expect(onlyProblem(['x'])).toEqual({ file: SOURCE, path: '/0', message: 'expected an object, got string' });
  });

  test('missing or empty name', () => {
    expect(onlyProblem([{ url: 'http://a' }])).toEqual({ file: SOURCE, path: '/0/name', message: 'is required' });
    expect(onlyProblem([{ name: '', url: 'http://a' }])).toEqual({ file: SOURCE, path: '/0/name', message: 'expected a non-empty string, got string ""' });
  });

  test('duplicate name', () => {
    expect(onlyProblem([{ name: 'a', url: 'http://a' }, { name: 'b', url: 'http://b' }, { name: 'a', url: 'http://c' }])).toEqual({
      file: SOURCE,
      path: '/2/name',
      message: 'duplicate destination name "a" (first defined at /0)',
    });
  });

  test('url missing, relative, or not http(s)', () => {
    expect(onlyProblem([{ name: 'a' }])).toEqual({ file: SOURCE, path: '/0/url', message: 'is required' });
    expect(onlyProblem([{ name: 'a', url: '/relative/path' }])).toEqual({
      file: SOURCE,
      path: '/0/url',
      message: 'expected an absolute http(s) URL, got "/relative/path"',
    });
    expect(onlyProblem([{ name: 'a', url: 'ftp://files.example' }]).message).toBe('expected an http or https URL, got scheme "ftp:"');
    expect(onlyProblem([{ name: 'a', url: 'file:///etc/passwd' }]).message).toBe('expected an http or https URL, got scheme "file:"');
    expect(onlyProblem([{ name: 'a', url: 42 }]).message).toBe('expected string, got integer');
  });

  test('timeout must be a positive number', () => {
    for (const bad of [0, -1, '5000', null]) {
      expect(onlyProblem([{ name: 'a', url: 'http://a', timeout: bad }]).path).toBe('/0/timeout');
    }
    expect(onlyProblem([{ name: 'a', url: 'http://a', timeout: -1 }]).message).toBe('expected a positive number of milliseconds, got integer -1');
  });

  test('maxSockets is a whole number of connections, 1-65535', () => {
    for (const bad of [0, 1.5, '8', -1, 70_000]) {
      expect(onlyProblem([{ name: 'a', url: 'http://a', maxSockets: bad }]).path).toBe('/0/maxSockets');
    }
  });

  test('booleans are booleans', () => {
    expect(onlyProblem([{ name: 'a', url: 'http://a', forwardAuthToken: 'true' }])).toEqual({
      file: SOURCE,
      path: '/0/forwardAuthToken',
      message: 'expected boolean, got string',
    });
    expect(onlyProblem([{ name: 'a', url: 'http://a', strictSSL: 0 }]).path).toBe('/0/strictSSL');
    expect(onlyProblem([{ name: 'a', url: 'http://a', setXForwardedHeaders: 'no' }]).path).toBe('/0/setXForwardedHeaders');
  });

  test('proxy host and port come together; the port is 1-65535', () => {
    expect(onlyProblem([{ name: 'a', url: 'http://a', proxyHost: 'p' }])).toEqual({ file: SOURCE, path: '/0/proxyPort', message: 'is required when proxyHost is set' });
    expect(onlyProblem([{ name: 'a', url: 'http://a', proxyPort: 8080 }]).path).toBe('/0/proxyHost');
    expect(onlyProblem([{ name: 'a', url: 'http://a', proxyHost: 'p', proxyPort: 70000 }])).toEqual({
      file: SOURCE,
      path: '/0/proxyPort',
      message: 'expected a port number 1-65535, got integer 70000',
    });
    expect(onlyProblem([{ name: 'a', url: 'http://a', proxyHost: 'p', proxyPort: '80a' }]).path).toBe('/0/proxyPort');
  });

  test('every problem at once', () => {
    const problems = problemsOf(JSON.stringify([{ url: 'x' }, { name: 'b', url: 'http://b', timeout: 0 }]));
    expect(problems.map((p) => p.path)).toEqual(['/0/name', '/0/url', '/1/timeout']);
    expect(problems.every((p) => p.file === SOURCE)).toBe(true);
  });
});
