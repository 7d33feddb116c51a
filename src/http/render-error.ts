import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERRORS, type GatewayError } from '../errors.js';

/** Marks an answer as the gateway's own, not the backend's (Pomerium and SAP's router both do). */
export const ERROR_HEADER = 'x-zonegate-error';

/** Browsers get pages; API clients (fetch/XHR, curl, services) get JSON. */
export function wantsHtml(req: IncomingMessage): boolean {
  if (req.headers['x-requested-with'] === 'XMLHttpRequest') return false;
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

export interface ErrorRenderOptions {
  requestId: string;
  /** Custom pages from routes.json `errorPage`, by status, already read at start-up. */
  errorPages?: ReadonlyMap<number, string>;
}

/**
 * The single renderer of gateway errors. The message is shown only when the error is `expose`d;
 * otherwise the registry's title (internals go to the log, not the client).
 */
export function sendError(req: IncomingMessage, res: ServerResponse, err: GatewayError, options: ErrorRenderOptions): void {
  if (res.headersSent) {
    // Too late for a status: cut the response so the client sees a failure, not a truncated success.
    res.destroy();
    return;
  }
  const message = err.expose ? err.message : ERRORS[err.code].title;
  for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
  res.setHeader(ERROR_HEADER, err.code);
  res.setHeader('cache-control', 'no-store');
  let body: string;
  if (wantsHtml(req)) {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    body = options.errorPages?.get(err.status) ?? errorPage(err.status, err.code, message, options.requestId);
  } else {
    res.setHeader('content-type', 'application/json; charset=utf-8');
    body = JSON.stringify({ error: { code: err.code, status: err.status, message, requestId: options.requestId } });
  }
  res.setHeader('content-length', Buffer.byteLength(body));
  res.statusCode = err.status;
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function errorPage(status: number, code: string, message: string, requestId: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${status} ${escapeHtml(ERRORS[code as keyof typeof ERRORS]?.title ?? 'Error')}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:10vh auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}p.meta{color:#666;font-size:.85rem}</style>
</head><body><h1>${status} — ${escapeHtml(message)}</h1>
<p class="meta">Error <code>${escapeHtml(code)}</code> · request <code>${escapeHtml(requestId)}</code> · answered by the zonegate gateway</p>
</body></html>`;
}
