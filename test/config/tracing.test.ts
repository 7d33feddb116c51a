import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/environment.js';
import { ConfigError } from '../../src/errors.js';

const cwd = os.tmpdir();

function problemsOf(env: Record<string, string>): string[] {
  try {
    readSettings(env, { cwd });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.file}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('tracing settings (OTEL_*)', () => {
  it('is off without an endpoint', () => {
    expect(readSettings({}, { cwd }).tracing).toBeUndefined();
    expect(readSettings({ OTEL_SERVICE_NAME: 'x' }, { cwd }).tracing).toBeUndefined();
  });

  it('appends v1/traces to the general endpoint and takes the traces endpoint as it is', () => {
    expect(readSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, { cwd }).tracing).toEqual({
      url: 'http://collector:4318/v1/traces',
      headers: {},
      serviceName: 'zonegate',
      sampler: { name: 'parentbased_always_on', ratio: 1 },
    });
    expect(readSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c.example/otlp/' }, { cwd }).tracing?.url).toBe('https://c.example/otlp/v1/traces');
    const both = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom' };
    expect(readSettings(both, { cwd }).tracing?.url).toBe('http://b:4318/custom');
  });

  it('reads headers, service name and sampler', () => {
    const t = readSettings(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc,x-tenant=t1',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=t2',
        OTEL_SERVICE_NAME: 'gw',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      },
      { cwd },
    ).tracing;
    expect(t).toMatchObject({ headers: { authorization: 'Bearer abc', 'x-tenant': 't2' }, serviceName: 'gw', sampler: { name: 'parentbased_traceidratio', ratio: 0.25 } });
  });

  it('is off when the SDK is disabled or the exporter is none', () => {
    expect(readSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }, { cwd }).tracing).toBeUndefined();
    expect(readSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }, { cwd }).tracing).toBeUndefined();
  });

  it('names the variable of each problem, all at once', () => {
    const problems = problemsOf({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign',
      OTEL_TRACES_SAMPLER: 'sometimes',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^environment variable OTEL_EXPORTER_OTLP_ENDPOINT: expected an http: or https: URL/),
      expect.stringMatching(/^environment variable OTEL_EXPORTER_OTLP_PROTOCOL: only "http\/json" is supported/),
      expect.stringMatching(/^environment variable OTEL_EXPORTER_OTLP_HEADERS: expected name=value pairs/),
      expect.stringMatching(/^environment variable OTEL_TRACES_SAMPLER: expected one of/),
    ]);
    expect(problemsOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toEqual([expect.stringMatching(/^environment variable OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: expected the collector's OTLP\/HTTP URL/)]);
    expect(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:pw@c:4318' })).toEqual([expect.stringMatching(/^environment variable OTEL_EXPORTER_OTLP_ENDPOINT: must not contain user information/)]);
    expect(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })).toEqual([
      expect.stringMatching(/^environment variable OTEL_TRACES_SAMPLER_ARG: expected a ratio between 0 and 1/),
    ]);
  });
});
