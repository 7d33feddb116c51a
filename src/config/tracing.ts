import type { Environment } from './environment.js';

/**
 * OpenTelemetry tracing (issue 17), read from the specification's own variables
 * (opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/ and
 * .../protocol/exporter/) so that a collector set up for other services needs nothing new here.
 */
export interface TracingSettings {
  /** Where spans are POSTed (OTLP/HTTP with JSON bodies): the traces endpoint itself, `/v1/traces` included. */
  url: string;
  /** `OTEL_EXPORTER_OTLP_HEADERS` / `_TRACES_HEADERS`: sent with every export (a collector's credential). */
  headers: Readonly<Record<string, string>>;
  /** `OTEL_SERVICE_NAME`, default `zonegate`. */
  serviceName: string;
  sampler: TracingSampler;
}

/** `OTEL_TRACES_SAMPLER` and its `OTEL_TRACES_SAMPLER_ARG` (a ratio for the `traceidratio` samplers). */
export interface TracingSampler {
  name: (typeof SAMPLERS)[number];
  ratio: number;
}

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/**
 * On when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set, unless
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none; undefined (off, nothing loaded) otherwise.
 */
export function readTracingSettings(env: Environment, problem: (variable: string, message: string) => void): TracingSettings | undefined {
  const disabled = (env.OTEL_SDK_DISABLED ?? '').toLowerCase();
  if (disabled !== '' && disabled !== 'true' && disabled !== 'false') problem('OTEL_SDK_DISABLED', `expected true or false, got "${env.OTEL_SDK_DISABLED}"`);
  const exporter = (env.OTEL_TRACES_EXPORTER ?? 'otlp').toLowerCase();
  if (exporter !== 'otlp' && exporter !== 'none') problem('OTEL_TRACES_EXPORTER', `expected "otlp" or "none", got "${env.OTEL_TRACES_EXPORTER}"`);

  // The signal-specific endpoint is used as it is; the general one is a base that `v1/traces` is
  // appended to (specification, "Endpoint URLs for OTLP/HTTP").
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || undefined;
  const baseEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined;
  const variable = tracesEndpoint !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const endpoint = tracesEndpoint ?? baseEndpoint;
  if (endpoint === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    problem(variable, `expected the collector's OTLP/HTTP URL, e.g. http://otel-collector:4318, got "${endpoint}"`);
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:') {
    // `collector:4318` parses, as a URL of the scheme "collector:".
    problem(variable, `expected an http: or https: URL, e.g. http://otel-collector:4318, got "${endpoint}"`);
    url = undefined;
  } else if (url && (url.username || url.password)) {
    // Credentials belong in OTEL_EXPORTER_OTLP_HEADERS: a URL is logged and shown in errors.
    problem(variable, 'must not contain user information: pass a credential in OTEL_EXPORTER_OTLP_HEADERS');
  }

  // Only the JSON encoding of OTLP/HTTP is shipped (@opentelemetry/exporter-trace-otlp-http); every
  // collector's OTLP/HTTP receiver (port 4318) accepts it. Protobuf or gRPC would need another exporter.
  const protocolVariable = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = env[protocolVariable];
  if (protocol && protocol !== 'http/json') problem(protocolVariable, `only "http/json" is supported (OTLP over HTTP with JSON bodies, which a collector's port 4318 accepts), got "${protocol}"`);

  const headers = {
    ...parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS, 'OTEL_EXPORTER_OTLP_HEADERS', problem),
    ...parseHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', problem),
  };

  const samplerName = (env.OTEL_TRACES_SAMPLER || 'parentbased_always_on').toLowerCase() as TracingSampler['name'];
  if (!SAMPLERS.includes(samplerName)) problem('OTEL_TRACES_SAMPLER', `expected one of ${SAMPLERS.join(', ')}, got "${env.OTEL_TRACES_SAMPLER}"`);
  let ratio = 1;
  if (env.OTEL_TRACES_SAMPLER_ARG) {
    ratio = Number(env.OTEL_TRACES_SAMPLER_ARG);
    if (!samplerName.endsWith('traceidratio')) problem('OTEL_TRACES_SAMPLER_ARG', 'only used with OTEL_TRACES_SAMPLER=traceidratio or parentbased_traceidratio');
    else if (!(ratio >= 0 && ratio <= 1)) problem('OTEL_TRACES_SAMPLER_ARG', `expected a ratio between 0 and 1, got "${env.OTEL_TRACES_SAMPLER_ARG}"`);
  }

  if (disabled === 'true' || exporter === 'none' || !url) return undefined;
  const traces = tracesEndpoint !== undefined ? url.href : new URL('v1/traces', url.href.endsWith('/') ? url.href : `${url.href}/`).href;
  return Object.freeze({
    url: traces,
    headers: Object.freeze(headers),
    serviceName: env.OTEL_SERVICE_NAME || 'zonegate',
    sampler: Object.freeze({ name: samplerName, ratio }),
  });
}

/** The specification's `key1=value1,key2=value2`, values percent-encoded (W3C Baggage's format). */
function parseHeaders(text: string | undefined, variable: string, problem: (variable: string, message: string) => void): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!text) return headers;
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? '' : pair.slice(0, eq).trim().toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
      problem(variable, 'expected name=value pairs separated by commas');
      return {};
    }
    try {
      headers[name] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      problem(variable, `the value of "${name}" is not valid percent-encoding`);
      return {};
    }
  }
  return headers;
}
