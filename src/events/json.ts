import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { isJsonMediaType, mediaType, readLimitedBody } from '../http/read-body.js';

/** A JSON answer of the events and webhooks endpoints; never cached (it may carry a secret shown once). */
export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** A JSON object body of at most `maxBytes`: 413, 415 or 400 otherwise. */
export async function readJsonObject(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  if (!isJsonMediaType(mediaType(req))) throw new GatewayError('ZG_ERR_UNSUPPORTED_MEDIA_TYPE', 'Expected a JSON body (Content-Type: application/json)');
  const body = await readLimitedBody(req, maxBytes);
  if (body === 'too-large') throw new GatewayError('ZG_ERR_PAYLOAD_TOO_LARGE', `The body exceeds ${maxBytes} bytes`, { headers: { connection: 'close' } });
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new GatewayError('ZG_ERR_BAD_REQUEST', 'The body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new GatewayError('ZG_ERR_BAD_REQUEST', 'Expected a JSON object');
  return value as Record<string, unknown>;
}

export function methodNotAllowed(method: string | undefined, path: string, allow: string): GatewayError {
  return new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `${method ?? 'GET'} is not allowed on ${path}`, { headers: { allow } });
}
