import type { CompiledRoute } from '../routing/route-table.js';
import type { RequestOrigin } from '../tenant/resolve.js';

/** One typed context per request, passed explicitly (nothing is hung on `req`). */
export interface RequestContext {
  readonly id: string;
  readonly startedAt: number;
  /** The URL as the client sent it (the proxy rewrites req.url). */
  readonly originalUrl: string;
  origin: RequestOrigin | undefined;
  tenant: string | undefined;
  route: CompiledRoute | undefined;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** A client's `x-request-id` is kept when it is a plain token (it ends up in logs and headers). */
export function acceptedRequestId(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : undefined;
}
