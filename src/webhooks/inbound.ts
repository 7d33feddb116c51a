/**
 * A tenant's inbound webhook (Maestrano's webhooks): `POST /webhooks/<tenant>/<name>` on any host,
 * or `POST /webhooks/<name>` on the tenant's own host. The caller proves it knows the webhook's
 * secret, by an HMAC signature over the body and a timestamp (./signature.ts) or by basic credentials,
 * as the webhook is configured; the body is bounded by the webhook's `maxBytes`. Then the body goes on
 * to a destination with the tenant in headers (its answer is the caller's), or is published as the
 * tenant's event (src/events/publish.ts) and answered 202.
 *
 * Order of checks: the tenant (404), the webhook (404), basic credentials before a byte of the body is
 * read (401), the body's size (413), then the signature over it (401). The caller's credentials and
 * signature never reach the destination.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errors as undiciErrors, request } from 'undici';
import { localhostAwareAgent } from '../net/localhost.js';
import type { Destination } from '../config/types.js';
import { sameSecret } from '../constant-time.js';
import { GatewayError } from '../errors.js';
import { readLimitedBody } from '../http/read-body.js';
import type { Logger } from '../log.js';
import type { RequestContext } from '../server/context.js';
import { sendJson } from '../events/json.js';
import { EVENT_ID } from '../events/publish.js';
import { SIGNATURE_HEADER, verifySignature } from './signature.js';
import type { Webhook, WebhookStore } from './store.js';

export interface InboundWebhookOptions {
  webhooks: WebhookStore;
  /** The current destinations (a reload may change them). */
  destinations: () => readonly Destination[];
  /** The tenant's zone (or XSUAA tenant) id for the `x-zonegate-zone` header; undefined when unknown. */
  zoneIdOf: (tenant: string) => Promise<string | undefined>;
  /** Publishes a verified body as the tenant's event (the event relay). */
  publish: (request: { tenant: string; name: string; data: string; id?: string }) => Promise<{ id: string }>;
  /** Sends the body to the destination (postToDestination; a test may watch it). */
  post: typeof postToDestination;
  logger: Logger;
  nowSeconds?: () => number;
}

const unauthenticated = (webhook: Webhook, message: string) =>
  webhook.auth === 'basic'
    ? new GatewayError('ZG_ERR_UNAUTHENTICATED', message, { headers: { 'www-authenticate': `Basic realm="zonegate webhook ${webhook.name}"` } })
    : new GatewayError('ZG_ERR_SIGNATURE_INVALID', message);

function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = header ? /^basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(header) : null;
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export async function handleInboundWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  target: { tenant: string; name: string },
  options: InboundWebhookOptions,
): Promise<void> {
  const { tenant, name } = target;
  const webhook = await options.webhooks.get(tenant, name);
  if (!webhook) throw new GatewayError('ZG_ERR_WEBHOOK_UNKNOWN', `The tenant "${tenant}" has no webhook "${name}"`);
  if (req.method !== 'POST') throw new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on a webhook`, { headers: { allow: 'POST' } });

  if (webhook.auth === 'basic') {
    const given = basicCredentials(req.headers.authorization);
    // Both compared, always: the answer's time does not say which one was wrong.
    const userOk = sameSecret(given?.user ?? '', webhook.username ?? '');
    const passwordOk = sameSecret(given?.password ?? '', webhook.secret);
    if (!given || !userOk || !passwordOk) throw unauthenticated(webhook, 'Wrong or missing credentials for this webhook');
  }
  const body = await readLimitedBody(req, webhook.maxBytes);
  if (body === 'too-large') {
    throw new GatewayError('ZG_ERR_PAYLOAD_TOO_LARGE', `The webhook "${name}" accepts at most ${webhook.maxBytes} bytes`, { headers: { connection: 'close' } });
  }
  if (webhook.auth === 'hmac') {
    const verdict = verifySignature(req.headers[SIGNATURE_HEADER], webhook.secret, body, options.nowSeconds ? { nowSeconds: options.nowSeconds() } : {});
    if (verdict !== 'valid') {
      options.logger.warn('webhook refused: bad signature', { requestId: ctx.id, tenant, webhook: name, verdict });
      throw unauthenticated(webhook, verdict === 'stale' ? 'The signature is too old (or from the future): sign each request when it is sent' : `The signature is ${verdict === 'mismatch' ? 'wrong' : verdict}`);
    }
  }

  const action = webhook.action;
  if ('event' in action) {
    const text = body.toString('utf8');
    let data: string;
    try {
      data = JSON.stringify(JSON.parse(text));
    } catch {
      data = JSON.stringify(text);
    }
    const key = req.headers['idempotency-key'];
    const id = typeof key === 'string' && EVENT_ID.test(key) ? key : undefined;
    const published = await options.publish({ tenant, name: action.event, data, ...(id ? { id } : {}) });
    return sendJson(req, res, 202, { id: published.id, event: action.event });
  }

  const destination = options.destinations().find((d) => d.name === action.forward.destination);
  if (!destination) throw new GatewayError('ZG_ERR_INTERNAL', `The webhook ${tenant}/${name} forwards to the destination "${action.forward.destination}", which is not configured`);
  // Under the destination's own path, as a route's target is.
  const url = destination.url.href.replace(/\/$/, '') + action.forward.path.replace(/^\/?/, '/');
  const zone = await options.zoneIdOf(tenant);
  let status: number;
  let type: string | undefined;
  let reply: Buffer;
  try {
    const answer = await options.post(url, {
      ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}),
      'x-zonegate-tenant': tenant,
      ...(zone ? { 'x-zonegate-zone': zone } : {}),
      'x-zonegate-webhook': name,
      'x-request-id': ctx.id,
      'x-correlationid': ctx.id,
    }, body, destination.timeout);
    ({ status, reply } = answer);
    type = answer.contentType;
  } catch (err) {
    const timedOut = err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || (err as Error).name === 'TimeoutError';
    throw new GatewayError(timedOut ? 'ZG_ERR_BACKEND_TIMEOUT' : 'ZG_ERR_BACKEND_UNREACHABLE', undefined, { cause: err });
  }
  res.writeHead(status, { ...(type ? { 'content-type': type } : {}), 'content-length': reply.length, 'cache-control': 'no-store' });
  res.end(reply);
}

/**
 * The forward: undici's request on the process's keep-alive pool (which resolves `*.localhost`),
 * with the destination's timeout; the answer is read whole (at most 1 MiB) to be relayed.
 */
export async function postToDestination(url: string, headers: Record<string, string>, body: Buffer, timeoutMs: number): Promise<{ status: number; contentType?: string; reply: Buffer }> {
  const answer = await request(url, { method: 'POST', headers, body, dispatcher: localhostAwareAgent(), headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of answer.body) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new Error('the destination answered more than 1 MiB');
    chunks.push(chunk as Buffer);
  }
  const type = answer.headers['content-type'];
  return { status: answer.statusCode, ...(typeof type === 'string' ? { contentType: type } : {}), reply: Buffer.concat(chunks) };
}
