/**
 * The identity server's side of HTTP: reading form bodies, answering JSON, HTML and redirects,
 * cookies. Plain node:http, so the server can run inside the gateway's process or on its own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ZonegateError } from '../../errors.js';
import { mediaType, readLimitedBody } from '../../http/read-body.js';
import { adviceFor } from '../../http/error-advice.js';
import { sendError, type ErrorFacts, type ErrorPage } from '../../http/render-error.js';
import type { Zone } from '../directory/types.js';
import { InvalidRequest } from './errors.js';
import { errorPage } from './login-page.js';
import { cookieValue } from '../../http/cookies.js';

const MAX_FORM_BYTES = 64 * 1024;

/** Reads an `application/x-www-form-urlencoded` body (RFC 6749 §3.2 requires that type at the token endpoint). */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const body = await readLimitedBody(req, MAX_FORM_BYTES);
  if (body === 'too-large') throw new InvalidRequest('The request body is too large');
  if (body.length === 0) return new URLSearchParams();
  if (mediaType(req) !== 'application/x-www-form-urlencoded') {
    throw new InvalidRequest('The body must be application/x-www-form-urlencoded');
  }
  return new URLSearchParams(body.toString('utf8'));
}

/**
 * RFC 6749 §3.1/§3.2: parameters must not be repeated. Returns the single value (undefined if absent),
 * throwing invalid_request on a repetition.
 */
export function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) throw new InvalidRequest(`The parameter ${name} is repeated`);
  return all[0];
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    // RFC 6749 §5.1: responses with tokens or credentials must not be cached.
    'cache-control': 'no-store',
    pragma: 'no-cache',
    ...headers,
  });
  res.end(text);
}

/** The pages are self-contained: no scripts, inline styles only, never framed (clickjacking of the login form). */
const PAGE_HEADERS = {
  'content-type': 'text/html;charset=UTF-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src https: http:; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { ...PAGE_HEADERS, 'content-length': Buffer.byteLength(html), ...headers });
  res.end(html);
}

/** A zone page for an error: its public message, and its code and request id for support. */
export type ZonePageRenderer = (message: string, facts: ErrorFacts) => string;

/** The zone's error page (its layout) for the public message of an error; the heading defaults to the code's (src/http/error-advice.ts). */
export function zoneErrorPage(zone: Zone | undefined, heading?: string): ZonePageRenderer {
  return (message, facts) => errorPage(zone, heading ?? adviceFor(facts.code, facts.status, true).heading, message, facts);
}

/** A zone page for an error's public message, with the pages' security headers, for src/http/render-error.ts. */
export function zonePage(render: ZonePageRenderer, headers: Record<string, string | string[]> = {}): (message: string, facts: ErrorFacts) => ErrorPage {
  return (message, facts) => ({ html: render(message, facts), headers: { ...PAGE_HEADERS, ...headers } });
}

/**
 * An error of an endpoint only browsers visit (authorize, login, invitations): always a page, the
 * zone's error page or the form shown again with the message.
 */
export function sendErrorPage(res: ServerResponse, err: ZonegateError, render: ZonePageRenderer, headers: Record<string, string | string[]> = {}): void {
  sendError(res.req, res, err, { html: 'always', page: zonePage(render, headers) });
}

export function redirect(res: ServerResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0, ...headers });
  res.end();
}

/** The named cookie of the request (the gateway's reader: src/http/cookies.ts). */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  return cookieValue(req.headers.cookie, name);
}

/** Host-only cookies (no Domain): a zone's cookie never reaches another zone's host. */
export function cookie(name: string, value: string, options: { maxAgeSeconds?: number; secure: boolean; path?: string }): string {
  const parts = [`${name}=${value}`, `Path=${options.path ?? '/'}`, 'HttpOnly', 'SameSite=Lax'];
  if (options.secure) parts.push('Secure');
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${options.maxAgeSeconds}`);
  return parts.join('; ');
}
