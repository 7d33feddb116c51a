/**
 * Extension middleware at SAP's approuter's extension points (its `extensions` option:
 * `insertMiddleware.first`, `beforeRequestHandler`, `beforeErrorHandler`), in connect's shape:
 * `(req, res, next)` and `(err, req, res, next)`. A handler either answers the request itself or
 * calls `next()`; `next(err)` hands an error to the gateway, which renders it as its own.
 * What a handler may read about the request is `requestContext(req)`: nothing is hung on `req`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayError } from '../errors.js';
import type { SessionUser } from '../sessions/types.js';
import type { RequestContext } from './context.js';

export type Next = (err?: unknown) => void;
export type ExtensionHandler = (req: IncomingMessage, res: ServerResponse, next: Next) => unknown;
export type ExtensionErrorHandler = (err: GatewayError, req: IncomingMessage, res: ServerResponse, next: Next) => unknown;

/**
 * A handler for every request, or (SAP's `{path, handler}`) only for `path` and below; as connect
 * mounts it, the handler sees `req.url` without that prefix, given back when it calls `next`.
 */
export type Mounted<H> = H | { readonly path: string; readonly handler: H };

export interface Extensions {
  /** Before anything else the gateway does for a request (tenant, login, route), after its probes and /metrics. */
  first?: readonly Mounted<ExtensionHandler>[];
  /** Once the route is matched and the user logged in (where the route asks for it), before the route is served. */
  beforeRequestHandler?: readonly Mounted<ExtensionHandler>[];
  /** Before the gateway renders an error (unless the response has begun): a handler may answer instead. */
  beforeErrorHandler?: readonly Mounted<ExtensionErrorHandler>[];
}

/** What an extension may know about the request it handles. */
export interface GatewayRequestContext {
  /** The request id (`x-request-id`, also sent to backends as `x-correlationid`). */
  readonly id: string;
  /** The tenant's subdomain; undefined before tenant resolution (in `first`) or without TENANT_HOST_PATTERN. */
  readonly tenant: string | undefined;
  /** The logged-in user, once known (from `beforeRequestHandler` on). */
  readonly user: SessionUser | undefined;
  /** The routes.json route the request matched: its index and `source`. */
  readonly route: { readonly index: number; readonly source: string } | undefined;
}

const contexts = new WeakMap<IncomingMessage, RequestContext>();

/** Registered only when extensions are: without them the request path pays nothing. */
export function rememberContext(req: IncomingMessage, ctx: RequestContext): void {
  contexts.set(req, ctx);
}

/** The gateway's context of a request an extension handles; undefined for a request the gateway did not see. */
export function requestContext(req: IncomingMessage): GatewayRequestContext | undefined {
  const ctx = contexts.get(req);
  if (!ctx) return undefined;
  return {
    id: ctx.id,
    tenant: ctx.tenant,
    user: ctx.user,
    route: ctx.route && { index: ctx.route.index, source: ctx.route.sourceText },
  };
}

/**
 * Runs handlers in order. Resolves `true` when the last called `next()` (the gateway goes on),
 * `false` when one answered the request instead; rejects with what a handler passed to `next` or
 * threw. A handler that neither answers nor calls `next` leaves the request waiting, as in connect.
 */
export function runHandlers(handlers: readonly Mounted<ExtensionHandler>[], req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  return chain(handlers.length, (i, next) => mounted(handlers[i]!, req, next, (h, n) => h(req, res, n)), res);
}

/** Runs error handlers in order; resolves `true` when the gateway is to render the error itself. */
export function runErrorHandlers(handlers: readonly Mounted<ExtensionErrorHandler>[], err: GatewayError, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  return chain(handlers.length, (i, next) => mounted(handlers[i]!, req, next, (h, n) => h(err, req, res, n)), res).catch(() => true);
}

/** Calls a handler when its path matches (connect's rule: the path, then `/`, `.` or the end), else goes on. */
function mounted<H>(entry: Mounted<H>, req: IncomingMessage, next: Next, call: (handler: H, next: Next) => unknown): unknown {
  if (typeof entry === 'function') return call(entry, next);
  const { path, handler } = entry as { path: string; handler: H };
  const prefix = path.endsWith('/') ? path.slice(0, -1) : path;
  const url = req.url ?? '/';
  const after = url.charAt(prefix.length);
  if (!url.toLowerCase().startsWith(prefix.toLowerCase()) || (after !== '' && after !== '/' && after !== '.' && after !== '?')) return next();
  const rest = url.slice(prefix.length);
  req.url = rest.startsWith('/') ? rest : `/${rest}`;
  return call(handler, (err) => {
    req.url = url;
    next(err);
  });
}

function chain(count: number, call: (i: number, next: Next) => unknown, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (goOn: boolean | Error, err?: unknown) => {
      if (settled) return;
      settled = true;
      res.off('finish', answered);
      if (goOn instanceof Error) reject(err);
      else resolve(goOn);
    };
    const answered = () => settle(false);
    res.once('finish', answered);
    const step = (i: number) => {
      // A handler that answered and then called next(): the response is its, the gateway stops.
      if (res.writableEnded || res.headersSent) return settle(false);
      if (i === count) return settle(true);
      let called = false;
      const next: Next = (err) => {
        if (called || settled) return;
        called = true;
        if (err !== undefined && err !== null) return settle(new Error('next(err)'), err);
        step(i + 1);
      };
      try {
        const result = call(i, next);
        // An async handler's rejection is its error, as Express 5 treats it.
        if (result instanceof Promise) result.catch((err: unknown) => next(err ?? new Error('extension handler rejected')));
      } catch (err) {
        next(err ?? new Error('extension handler threw'));
      }
    };
    step(0);
  });
}
