import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { sameSecret } from '../constant-time.js';

/**
 * The methods that need no CSRF token: GET and HEAD only, as in SAP's router
 * (middleware/xsrf-token-handler.js, isTokenRequired). OPTIONS is safe by RFC 9110 §9.2.1, but a
 * backend may act on it, and applications migrating from SAP's router rely on its rule.
 */
const SAFE = new Set(['GET', 'HEAD']);

export function newCsrfToken(): string {
  return randomBytes(24).toString('base64url');
}

/** A safe request with `x-csrf-token: fetch`: the session's token is wanted (and created if it has none). */
export function asksForCsrfToken(req: IncomingMessage): boolean {
  const header = req.headers['x-csrf-token'];
  return SAFE.has(req.method ?? 'GET') && typeof header === 'string' && header.toLowerCase() === 'fetch';
}

/**
 * SAP's approuter protocol (REFERENCE.md §6): a GET with `x-csrf-token: fetch` gets the session's
 * token in the response header; a state-changing request must echo it, else 403 with
 * `x-csrf-token: Required`. The token is bound to the session, never to a cookie a sibling
 * subdomain could plant. The request header never reaches the backend.
 */
export function applyCsrf(
  req: IncomingMessage,
  res: ServerResponse,
  session: { csrfToken?: string },
  protectedRoute: boolean,
): void {
  const fetch = asksForCsrfToken(req);
  const header = req.headers['x-csrf-token'];
  delete req.headers['x-csrf-token'];
  if (SAFE.has(req.method ?? 'GET')) {
    if (fetch) {
      session.csrfToken ??= newCsrfToken();
      res.setHeader('x-csrf-token', session.csrfToken);
    }
    return;
  }
  if (!protectedRoute) return;
  if (typeof header !== 'string' || !session.csrfToken || !sameSecret(header, session.csrfToken)) {
    throw new GatewayError('ZG_ERR_CSRF_REQUIRED', 'This request needs the CSRF token: fetch it with a GET and "x-csrf-token: fetch"', {
      headers: { 'x-csrf-token': 'Required' },
    });
  }
}

