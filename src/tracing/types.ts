import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Destination } from '../config/types.js';
import type { RequestContext } from '../server/context.js';

/**
 * What the request path sees of OpenTelemetry (issue 17). Types only: the SDK is loaded by
 * `startTracing` (./tracing.ts) when tracing is configured, and when it is not, the request path
 * checks one `undefined` (the gateway's `tracing` option, the context's `trace`) and allocates nothing.
 */
export interface Tracing {
  /**
   * Starts the request's server span, continuing the caller's W3C trace context (`traceparent`,
   * `tracestate`) when the request carries a valid one.
   */
  requestStarted(req: IncomingMessage): RequestTrace;
  /** Exports the spans still buffered, then stops (at shutdown). */
  shutdown(): Promise<void>;
}

/** One request's server span, and the spans started under it. */
export interface RequestTrace {
  /** Ends the server span with what the request resolved to (route, tenant, status). */
  end(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): void;
  /**
   * Ends a WebSocket upgrade's server span when its handshake has ended: `status` 101 when the
   * backend switched protocols, the status the client was sent otherwise, undefined when the client
   * left first. The tunnel that follows is not a span: it may stay open for hours.
   */
  endUpgrade(req: IncomingMessage, ctx: RequestContext, status: number | undefined): void;
  /** Runs `work` in a span of its own under the request's (the login callback's code exchange). */
  inSpan<T>(name: string, attributes: Readonly<Record<string, string | number | undefined>>, work: () => Promise<T>): Promise<T>;
  /**
   * Starts the client span of the call to `destination`, and sets the outgoing `traceparent` (and
   * `tracestate`) in `headers` to it: the backend continues this trace under the backend span.
   */
  backendCall(destination: Destination, method: string, path: string, headers: IncomingHttpHeaders): BackendSpan;
}

export interface BackendSpan {
  /** The destination answered with `status`. */
  answered(status: number): void;
  /** The call failed (`code`: the gateway error, e.g. ZG_ERR_BACKEND_TIMEOUT). */
  failed(code: string, message: string): void;
  end(): void;
}
