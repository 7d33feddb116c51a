/**
 * The one writer of error answers, for the gateway and for its identity zones: every answer carries
 * `x-zonegate-error: <code>` (docs/errors.md), an exposed message or else the registry's title only.
 * Browsers get pages; API clients JSON, in the gateway's shape or, where OAuth is the protocol, in
 * RFC 6749 §5.2's; answers written before Express/Node's response exists go out on the raw socket.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ZonegateError } from '../errors.js';

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
  page?: (message: string) => ErrorPage;
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
  let headers: Readonly<Record<string, string | string[]>>;
  let body: string;
  const html = options.html ?? 'browsers';
  if (html === 'always' || (html === 'browsers' && wantsHtml(req))) {
    const page = options.page?.(message) ?? {
      html: options.errorPages?.get(err.status) ?? errorPage(err.status, err.code, message, options.requestId),
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

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function errorPage(status: number, code: keyof typeof ERRORS, message: string, requestId: string | undefined): string {
  const request = requestId === undefined ? '' : ` · request <code>${escapeHtml(requestId)}</code>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${status} ${escapeHtml(ERRORS[code].title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:10vh auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}p.meta{color:#666;font-size:.85rem}</style>
</head><body><h1>${status} — ${escapeHtml(message)}</h1>
<p class="meta">Error <code>${escapeHtml(code)}</code>${request} · answered by the zonegate gateway</p>
</body></html>`;
}
