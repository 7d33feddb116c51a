import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes, Context, Span, TextMapGetter, TextMapSetter, Tracer } from '@opentelemetry/api';
import type { TracingSampler, TracingSettings } from '../config/tracing.js';
import type { Destination } from '../config/types.js';
import type { Logger } from '../log.js';
import type { RequestContext } from '../server/context.js';
import type { BackendSpan, RequestTrace, Tracing } from './types.js';

/**
 * Starts OpenTelemetry tracing: a tracer provider of its own (not registered as the process's
 * global one, so an embedding application's provider is left alone), spans batched and exported
 * over OTLP/HTTP as JSON, the W3C Trace Context propagator. The SDK is imported here, on demand:
 * with tracing off none of it is loaded.
 *
 * Spans carry their parent explicitly (the request's span rides on the request context), so no
 * async-hooks context manager is needed.
 */
export async function startTracing(settings: TracingSettings, options: { logger: Logger; version: string }): Promise<Tracing> {
  const [api, core, base, resources, exporterModule, semconv] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } = api;
  const S = semconv;
  const exporter = new exporterModule.OTLPTraceExporter({ url: settings.url, headers: { ...settings.headers } });
  const provider = new base.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ [S.ATTR_SERVICE_NAME]: settings.serviceName, [S.ATTR_SERVICE_VERSION]: options.version }),
    sampler: samplerOf(settings.sampler, base),
    spanProcessors: [new base.BatchSpanProcessor(exporter)],
  });
  const tracer: Tracer = provider.getTracer('zonegate', options.version);
  const propagator = new core.W3CTraceContextPropagator();
  options.logger.info('tracing on: spans are exported over OTLP/HTTP', { url: settings.url, serviceName: settings.serviceName, sampler: settings.sampler.name });

  return {
    requestStarted(req) {
      // W3C Trace Context §3: a receiver continues a valid incoming traceparent, from anyone (the
      // trace id is an identifier, not a credential). Baggage is neither read nor acted on.
      const parent = req.headers.traceparent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, req.headers, headerGetter);
      const method = req.method ?? 'GET';
      const span = tracer.startSpan(
        method,
        {
          kind: SpanKind.SERVER,
          attributes: {
            [S.ATTR_HTTP_REQUEST_METHOD]: method,
            [S.ATTR_URL_PATH]: pathOf(req.url ?? '/'),
            [S.ATTR_NETWORK_PEER_ADDRESS]: req.socket.remoteAddress,
            [S.ATTR_USER_AGENT_ORIGINAL]: req.headers['user-agent'],
          },
        },
        parent,
      );
      return requestTrace(span, trace.setSpan(parent, span));
    },
    async shutdown() {
      try {
        await provider.shutdown();
      } catch (err) {
        options.logger.warn('tracing: the last spans could not be exported', { url: settings.url, error: String(err) });
      }
    },
  };

  function requestTrace(span: Span, context: Context): RequestTrace {
    let ended = false;
    const finish = (req: IncomingMessage, ctx: RequestContext, status: number | undefined, aborted: boolean) => {
      if (ended) return;
      ended = true;
      const route = ctx.route;
      const attributes: Attributes = { 'zonegate.request_id': ctx.id };
      if (status !== undefined) attributes[S.ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
      if (ctx.origin) {
        attributes[S.ATTR_URL_SCHEME] = ctx.origin.protocol;
        attributes[S.ATTR_SERVER_ADDRESS] = ctx.origin.hostname;
      }
      if (ctx.tenant !== undefined) attributes['zonegate.tenant'] = ctx.tenant;
      if (route) {
        // routes.json's `source` is the route's template: one per route, never the request's own path.
        attributes[S.ATTR_HTTP_ROUTE] = route.sourceText;
        attributes['zonegate.route'] = route.index;
        span.updateName(`${req.method ?? 'GET'} ${route.sourceText}`);
      } else if (ctx.answeredBy !== undefined) {
        attributes['zonegate.answered_by'] = ctx.answeredBy;
      }
      // Semantic conventions, HTTP server spans: 5xx is an error, 4xx is the client's.
      if (status !== undefined && status >= 500) {
        attributes[S.ATTR_ERROR_TYPE] = String(status);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      if (aborted) attributes['zonegate.aborted'] = true;
      span.setAttributes(attributes);
      span.end();
    };
    return {
      end(req: IncomingMessage, res: ServerResponse, ctx: RequestContext) {
        finish(req, ctx, res.statusCode, !res.writableFinished);
      },
      endUpgrade(req: IncomingMessage, ctx: RequestContext, status: number | undefined) {
        finish(req, ctx, status, status === undefined);
      },
      async inSpan(name, attributes, work) {
        const child = tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes: definedOnly(attributes) }, context);
        try {
          return await work();
        } catch (err) {
          child.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
          child.setAttribute(S.ATTR_ERROR_TYPE, (err as { code?: unknown }).code !== undefined ? String((err as { code?: unknown }).code) : 'Error');
          throw err;
        } finally {
          child.end();
        }
      },
      backendCall(destination: Destination, method: string, path: string, headers: IncomingHttpHeaders): BackendSpan {
        const url = destination.url;
        const child = tracer.startSpan(
          method,
          {
            kind: SpanKind.CLIENT,
            attributes: {
              [S.ATTR_HTTP_REQUEST_METHOD]: method,
              [S.ATTR_SERVER_ADDRESS]: url.hostname,
              [S.ATTR_SERVER_PORT]: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
              // Without the query, which may carry codes and tokens (as the request log leaves it out).
              [S.ATTR_URL_FULL]: url.origin + url.pathname.replace(/\/$/, '') + pathOf(path),
              'zonegate.destination': destination.name,
            },
          },
          context,
        );
        // The caller's tracestate belongs to its traceparent: the backend gets both anew, for the
        // backend span (W3C Trace Context §3.3: tracestate is not passed on without its traceparent).
        delete headers.traceparent;
        delete headers.tracestate;
        propagator.inject(trace.setSpan(context, child), headers, headerSetter);
        return {
          answered(status) {
            child.setAttribute(S.ATTR_HTTP_RESPONSE_STATUS_CODE, status);
            if (status >= 500) {
              child.setAttribute(S.ATTR_ERROR_TYPE, String(status));
              child.setStatus({ code: SpanStatusCode.ERROR });
            }
          },
          failed(code, message) {
            child.setAttribute(S.ATTR_ERROR_TYPE, code);
            child.setStatus({ code: SpanStatusCode.ERROR, message });
          },
          end() {
            child.end();
          },
        };
      },
    };
  }
}

type SamplerModule = typeof import('@opentelemetry/sdk-trace-base');

/** OTEL_TRACES_SAMPLER's names (specification, "General SDK Configuration"); the default is parentbased_always_on. */
function samplerOf(sampler: TracingSampler, base: SamplerModule) {
  switch (sampler.name) {
    case 'always_on':
      return new base.AlwaysOnSampler();
    case 'always_off':
      return new base.AlwaysOffSampler();
    case 'traceidratio':
      return new base.TraceIdRatioBasedSampler(sampler.ratio);
    case 'parentbased_always_off':
      return new base.ParentBasedSampler({ root: new base.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new base.ParentBasedSampler({ root: new base.TraceIdRatioBasedSampler(sampler.ratio) });
    case 'parentbased_always_on':
      return new base.ParentBasedSampler({ root: new base.AlwaysOnSampler() });
  }
}

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

const headerSetter: TextMapSetter<IncomingHttpHeaders> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

function definedOnly(attributes: Readonly<Record<string, string | number | undefined>>): Attributes {
  const defined: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) defined[key] = value;
  return defined;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
