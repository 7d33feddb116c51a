import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { CompiledRoute } from '../routing/route-table.js';
import type { RecentSession } from '../sessions/request-session.js';
import type { SessionUser } from '../sessions/types.js';
import type { RequestOrigin } from '../tenant/resolve.js';
import type { RequestTrace } from '../tracing/types.js';

/** One typed context per request, passed explicitly (nothing is hung on `req`). */
export interface RequestContext {
  readonly id: string;
  readonly startedAt: number;
  /** The URL as the client sent it (the proxy rewrites req.url). */
  readonly originalUrl: string;
  origin: RequestOrigin | undefined;
  tenant: string | undefined;
  /** The tenant's path prefix (`/t/acme`, TENANT_PATH_PATTERN) that the client's URLs carry; undefined for host tenants. */
  tenantPrefix: string | undefined;
  route: CompiledRoute | undefined;
  /** The session the request is served with (src/sessions/request-session.ts): its user's, of this tenant; none for a bearer token. */
  session: RecentSession | undefined;
  /** Who the request is for: the session's user, or the bearer token's; none on a public route without a session. */
  user: SessionUser | undefined;
  /** The part of the gateway that answered instead of a route (what the metrics count it under). */
  answeredBy: GatewayPart | undefined;
  /** The request's span, when tracing is on (src/tracing/); undefined: off. */
  trace: RequestTrace | undefined;
}

/** The gateway's own answers: probes, the metrics, the SaaS registry's callbacks, trusted platforms, the built-in zones, the login's paths, webhooks and events, the tenant metadata. */
export type GatewayPart = 'health' | 'metrics' | 'callbacks' | 'platform' | 'zones' | 'login' | 'events' | 'metadata';

/** The context of a request that has just come in: its id, and nothing resolved yet. */
export function newRequestContext(req: IncomingMessage): RequestContext {
  return {
    id: requestIdOf(req.headers) ?? randomUUID(),
    startedAt: performance.now(),
    originalUrl: req.url ?? '/',
    origin: undefined,
    tenant: undefined,
    tenantPrefix: undefined,
    route: undefined,
    session: undefined,
    user: undefined,
    answeredBy: undefined,
    trace: undefined,
  };
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** A client's `x-request-id` is kept when it is a plain token (it ends up in logs and headers). */
export function acceptedRequestId(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : undefined;
}

/**
 * The request's id: the client's `x-correlationid`, else its `x-request-id`, else none (a new one is
 * made). The order is SAP's router's (utils/header-util.js, addCorrelationIdHeader), so a caller
 * that correlates on `x-correlationid` keeps its id through the gateway; the gateway then sends the
 * one id under both names.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string | undefined {
  const correlation = headers['x-correlationid'];
  return (correlation === undefined ? undefined : acceptedRequestId(correlation)) ?? acceptedRequestId(headers['x-request-id']);
}
