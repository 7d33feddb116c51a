/**
 * Answering a scrape: `GET /metrics` in Prometheus' text format, on a listener of its own
 * (METRICS_PORT) or on the gateway's port behind a bearer token (METRICS_TOKEN). Metrics name every
 * route, destination and, when configured, tenant, and show traffic and failures: they are never
 * served without one of the two protections (oauth2-proxy and Pomerium put them on a separate
 * address; Prometheus sends a token with `authorization: { credentials_file: ... }`).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { sameSecret } from '../constant-time.js';
import { GatewayError } from '../errors.js';
import { sendError } from '../http/render-error.js';

export const METRICS_PATH = '/metrics';

/** Answers one scrape; `token`, when set, must come as `Authorization: Bearer <token>`. */
export async function serveMetrics(registry: Registry, token: string | undefined, req: IncomingMessage, res: ServerResponse, requestId?: string): Promise<void> {
  const options = requestId === undefined ? { html: 'never' as const } : { html: 'never' as const, requestId };
  if (token !== undefined && !presents(req.headers.authorization, token)) {
    // RFC 6750 §3: the challenge names the scheme; no error code for a request that carried no token.
    const challenge = req.headers.authorization === undefined ? 'Bearer realm="zonegate metrics"' : 'Bearer realm="zonegate metrics", error="invalid_token"';
    sendError(req, res, new GatewayError('ZG_ERR_UNAUTHENTICATED', 'The metrics need the bearer token set in METRICS_TOKEN', { headers: { 'www-authenticate': challenge } }), options);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendError(req, res, new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', 'The metrics are read with GET', { headers: { allow: 'GET, HEAD' } }), options);
    return;
  }
  const text = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** Whether an Authorization header carries `token` (compared in constant time: the token is a secret). */
function presents(header: string | undefined, token: string): boolean {
  if (header === undefined || header.length < 7 || header.slice(0, 7).toLowerCase() !== 'bearer ') return false;
  return sameSecret(header.slice(7).trim(), token);
}

export interface MetricsListener {
  port: number;
  close(): Promise<void>;
}

/** The metrics' own listener: `/metrics` and nothing else. */
export function startMetricsListener(port: number, host: string | undefined, scrape: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<MetricsListener> {
  // A scraper needs seconds, not Node's five minutes, to send a GET.
  const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 10_000 }, (req, res) => {
    const q = (req.url ?? '').indexOf('?');
    const path = q === -1 ? req.url : req.url!.slice(0, q);
    if (path === METRICS_PATH) {
      scrape(req, res).catch((err: unknown) => sendError(req, res, new GatewayError('ZG_ERR_INTERNAL', undefined, { cause: err }), { html: 'never' }));
      return;
    }
    sendError(req, res, new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', `Only ${METRICS_PATH} is served on the metrics port`), { html: 'never' });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
