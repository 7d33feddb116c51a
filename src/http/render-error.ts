/**
 * The one writer of error answers, for the gateway and for its identity zones: every answer carries
 * `x-zonegate-error: <code>` (docs/errors.md), an exposed message or else the registry's title only.
 * Browsers get pages; API clients JSON, in the gateway's shape or, where OAuth is the protocol, in
 * RFC 6749 §5.2's; answers written before Express/Node's response exists go out on the raw socket.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode, ZonegateError } from '../errors.js';
import { adviceFor } from './error-advice.js';
import { escapeHtml, renderPage, supportLine, wayOnList, type PageLink } from './page.js';

export { escapeHtml } from './page.js';

/** Marks an answer as the gateway's own, not the backend's (Pomerium and SAP's router both do). */
export const ERROR_HEADER = 'x-zonegate-error';

/** Browsers get pages; API clients (fetch/XHR, curl, services) get JSON. */
export function wantsHtml(req: IncomingMessage): boolean {
  if (req.headers['x-requested-with'] === 'XMLHttpRequest') return false;
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

/** A page the answering component draws itself (the zones' pages, with their own security headers). */
export interface ErrorPage {
  html: string;
  headers?: Readonly<Record<string, string | string[]>>;
}

export interface ErrorRenderOptions {
  /** Shown on the gateway's page and in its JSON; the zones have none. */
  requestId?: string;
  /** Custom pages from routes.json `errorPage`, by status, already read at start-up. */
  errorPages?: ReadonlyMap<number, string>;
  /**
   * RFC 6749 §5.2's `{error, error_description}` instead of the gateway's `{error: {code, ...}}`:
   * the zones' endpoints and their admin API (UAA's shape).
   */
  oauth?: boolean;
  /**
   * Who gets a page: `browsers` (by `Accept`, the default), `never` (endpoints that answer JSON to
   * everyone: the token endpoint, the admin API) or `always` (endpoints only browsers visit).
   */
  html?: 'browsers' | 'never' | 'always';
  /** The component's own page for the public message (the zones'); default the gateway's. */
  page?: (message: string, facts: ErrorFacts) => ErrorPage;
  /** Where the gateway's page lets the user go on from here. */
  wayOn?: WayOn;
}

/** What a page says about an error besides its message: the code and request id support asks for. */
export interface ErrorFacts {
  code: ErrorCode;
  status: number;
  /** The thrower's advice for the reader (ZonegateError.advice), if any. */
  advice: string | undefined;
  requestId: string | undefined;
}

/** The gateway's links out of an error page; each is left out when unknown. */
export interface WayOn {
  /** The tenant's home (`/`, which leads to the welcome file). */
  home?: string;
  /** routes.json's logout endpoint, when the browser may be logged in and logout answers GET. */
  logout?: string;
  /** The path the request asked for, for "Try again" on errors that may pass (checked: same origin). */
  again?: string;
  /** Who is logged in, to say so on a 403. */
  user?: string;
}

/** RFC 6749's `error` of an answer: the error's own where its protocol names one. */
function oauthName(err: ZonegateError): string {
  const named = (err as { error?: unknown }).error;
  if (typeof named === 'string') return named;
  if (err.status === 404) return 'not_found';
  return err.status === 503 ? 'temporarily_unavailable' : 'server_error';
}

/** Writes `err` as the answer to `req`. Too late for a status (headers out): the response is cut. */
export function sendError(req: IncomingMessage, res: ServerResponse, err: ZonegateError, options: ErrorRenderOptions = {}): void {
  if (res.headersSent) {
    // Too late for a status: cut the response so the client sees a failure, not a truncated success.
    res.destroy();
    return;
  }
  const message = err.publicMessage;
  // Zones inside the gateway answer after it named the request (x-request-id); standalone, the zone server names it.
  const requestId = options.requestId ?? headerText(res.getHeader('x-request-id'));
  const facts: ErrorFacts = { code: err.code, status: err.status, advice: err.advice, requestId };
  let headers: Readonly<Record<string, string | string[]>>;
  let body: string;
  const html = options.html ?? 'browsers';
  if (html === 'always' || (html === 'browsers' && wantsHtml(req))) {
    const page = options.page?.(message, facts) ?? {
      html: options.errorPages?.get(err.status) ?? gatewayErrorPage(err.expose ? message : undefined, facts, options.wayOn ?? {}),
    };
    headers = { 'content-type': 'text/html; charset=utf-8', ...page.headers };
    body = page.html;
  } else if (options.oauth) {
    // RFC 6749 §5.1: no caching of these answers (pragma for HTTP/1.0 caches).
    headers = { 'content-type': 'application/json;charset=UTF-8', pragma: 'no-cache' };
    body = JSON.stringify({ error: oauthName(err), error_description: message });
  } else {
    headers = { 'content-type': 'application/json; charset=utf-8' };
    body = JSON.stringify({ error: { code: err.code, status: err.status, message, requestId: options.requestId } });
  }
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-content-type-options', 'nosniff');
  for (const [name, value] of Object.entries({ ...headers, ...err.headers })) res.setHeader(name, value);
  res.setHeader(ERROR_HEADER, err.code);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.statusCode = err.status;
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * The same answer on a socket that has no response object: a refused WebSocket upgrade, or a request
 * Node could not parse (clientError). Always JSON: no request (or no usable one) to negotiate with.
 */
export function sendRawError(socket: Duplex, err: ZonegateError, requestId?: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code: err.code, status: err.status, message: err.publicMessage, requestId } });
  const headers = {
    ...err.headers,
    connection: 'close',
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    [ERROR_HEADER]: err.code,
    'content-length': String(Buffer.byteLength(body)),
  };
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(`HTTP/1.1 ${err.status} ${http.STATUS_CODES[err.status] ?? 'Error'}\r\n${head}\r\n${body}`);
}

function headerText(value: number | string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * The gateway's error page: what happened and what to do (./error-advice.ts), the exposed message as
 * detail, the code and request id for support, and always a way on: try again (where that may help),
 * home, log out / switch user (when the browser may be logged in).
 */
function gatewayErrorPage(detail: string | undefined, facts: ErrorFacts, wayOn: WayOn): string {
  const { heading, advice, retry } = adviceFor(facts.code, facts.status);
  let what = facts.advice ?? advice;
  if (facts.status === 403 && wayOn.user !== undefined) what = `You are signed in as ${wayOn.user}. ${what}`;
  const links: PageLink[] = [];
  const again = retry && wayOn.again !== undefined && isSameOriginPath(wayOn.again) ? wayOn.again : undefined;
  if (again !== undefined) links.push({ href: again, label: 'Try again', primary: true });
  // No home where the host itself is unknown: that link would lead back to this page.
  if (facts.code !== 'ZG_ERR_TENANT_UNKNOWN' && facts.code !== 'ZG_ERR_HOST_UNMATCHED') {
    links.push({ href: wayOn.home ?? '/', label: 'Home', primary: again === undefined && facts.status !== 403 });
  }
  if (wayOn.logout !== undefined) links.push({ href: wayOn.logout, label: 'Log out / switch user', primary: facts.status === 403 });
  // A detail that says no more than the heading (a 5xx's registry title) is left out.
  const shownDetail = detail !== undefined && facts.status < 500 ? `<p>Details: ${escapeHtml(detail)}</p>` : '';
  return renderPage({
    title: `${heading} (${facts.status})`,
    heading,
    body: `<p>${escapeHtml(what)}</p>${shownDetail}${wayOnList(links)}${supportLine(facts.code, facts.requestId)}`,
  });
}

/** Only a path of this origin becomes a "Try again" link (`//host` is another origin). */
function isSameOriginPath(path: string): boolean {
  return path.startsWith('/') && !path.startsWith('//') && !path.startsWith('/\\');
}
