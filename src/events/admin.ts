/**
 * The events admin API, on any host, for the platform and the operator, behind
 * `Authorization: Bearer <EVENTS_ADMIN_TOKEN>`:
 *
 * | method and path                                        | what                                                     |
 * |--------------------------------------------------------|----------------------------------------------------------|
 * | `POST /_zonegate/events`                               | publish `{tenant, name, data, id?}` (id: idempotency key) |
 * | `GET /_zonegate/events/subscriptions[?tenant=]`        | list subscriptions (no secrets)                          |
 * | `POST /_zonegate/events/subscriptions`                 | `{tenant, url, events?}` → 201 with the signing secret, once |
 * | `DELETE /_zonegate/events/subscriptions/<id>`          | remove; its queued deliveries are dropped                |
 * | `POST /_zonegate/events/tokens`                        | `{tenant}` → 201 with a polling token, once              |
 * | `DELETE /_zonegate/events/tokens/<id>`                 | revoke                                                   |
 * | `GET /_zonegate/events/dead-letters`                   | deliveries given up on, with why                         |
 * | `POST /_zonegate/events/dead-letters/<id>/redrive`     | queue one again, attempts reset                          |
 * | `GET /_zonegate/webhooks[?tenant=]`                    | list webhooks (no secrets)                               |
 * | `PUT /_zonegate/webhooks/<tenant>/<name>`              | `{auth, username?, destination?, path?, event?, maxBytes?}` → 201 with the secret, once |
 * | `DELETE /_zonegate/webhooks/<tenant>/<name>`           | remove                                                   |
 *
 * Every problem of a body is reported at once (400 with each field named).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Destination } from '../config/types.js';
import { sameSecret } from '../constant-time.js';
import { GatewayError } from '../errors.js';
import { DEFAULT_WEBHOOK_MAX_BYTES, isWebhookName, MAX_WEBHOOK_MAX_BYTES, type WebhookAction, type WebhookStore } from '../webhooks/store.js';
import { methodNotAllowed, readJsonObject, sendJson } from './json.js';
import { EVENT_ID, EVENT_NAME, type Published, type PublishRequest } from './publish.js';
import type { EventQueue } from './queue.js';
import type { EventStore } from './store.js';

export interface AdminOptions {
  adminToken: string;
  store: EventStore;
  webhooks: WebhookStore;
  queue: EventQueue;
  publish: (request: PublishRequest) => Promise<Published>;
  destinations: () => readonly Destination[];
}

const MAX_ADMIN_BODY = 1024 * 1024;
export const TENANT = /^[a-z0-9][a-z0-9._-]{0,62}$/;

const digest = (s: string) => createHash('sha256').update(s).digest('base64url');

function invalid(problems: string[]): GatewayError {
  return new GatewayError('ZG_ERR_BAD_REQUEST', `Invalid request (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${problems.join('; ')}`);
}

function notFound(what: string): GatewayError {
  return new GatewayError('ZG_ERR_EVENTS_NOT_FOUND', `No ${what}`);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError('ZG_ERR_BAD_REQUEST', 'The path has a malformed percent-encoding');
  }
}

export function createEventsAdmin(options: AdminOptions) {
  const tokenDigest = digest(options.adminToken);

  function authenticate(req: IncomingMessage): void {
    const m = req.headers.authorization ? /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization) : null;
    // Digests compared: equal lengths, so the comparison's time says nothing about the token.
    if (!m || !sameSecret(digest(m[1]!), tokenDigest)) {
      throw new GatewayError('ZG_ERR_UNAUTHENTICATED', 'The events admin API needs Authorization: Bearer <EVENTS_ADMIN_TOKEN>', { headers: { 'www-authenticate': 'Bearer realm="zonegate events admin"' } });
    }
  }

  async function publish(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req, MAX_ADMIN_BODY);
    const problems: string[] = [];
    if (typeof body.tenant !== 'string' || !TENANT.test(body.tenant)) problems.push('tenant: expected a tenant subdomain (lower case letters, digits, . _ -)');
    if (typeof body.name !== 'string' || !EVENT_NAME.test(body.name)) problems.push('name: expected an event name of letters, digits and . _ : - (at most 128)');
    if (!('data' in body)) problems.push('data: expected any JSON value');
    const key = req.headers['idempotency-key'];
    const id = body.id ?? (typeof key === 'string' ? key : undefined);
    if (id !== undefined && (typeof id !== 'string' || !EVENT_ID.test(id))) problems.push('id: expected letters, digits and . _ : - (at most 128)');
    if (problems.length) throw invalid(problems);
    const published = await options.publish({ tenant: body.tenant as string, name: body.name as string, data: JSON.stringify(body.data), ...(id ? { id: id as string } : {}) });
    sendJson(req, res, published.fresh ? 202 : 200, { id: published.event.id, tenant: published.event.tenant, name: published.event.name, deliveries: published.deliveries, duplicate: !published.fresh });
  }

  async function subscribe(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJsonObject(req, MAX_ADMIN_BODY);
    const problems: string[] = [];
    if (typeof body.tenant !== 'string' || !TENANT.test(body.tenant)) problems.push('tenant: expected a tenant subdomain');
    let url: URL | undefined;
    try {
      url = typeof body.url === 'string' ? new URL(body.url) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) problems.push('url: expected an http(s) URL without credentials');
    const events = body.events;
    if (events !== undefined && (!Array.isArray(events) || events.length === 0 || !events.every((e) => typeof e === 'string' && EVENT_NAME.test(e)))) {
      problems.push('events: expected a non-empty array of event names, or no events for all');
    }
    if (problems.length) throw invalid(problems);
    const { subscription, secret } = await options.store.subscribe(body.tenant as string, url!.href, events as string[] | undefined);
    sendJson(req, res, 201, { ...subscription, createdAt: new Date(subscription.createdAt).toISOString(), secret });
  }

  async function putWebhook(req: IncomingMessage, res: ServerResponse, tenant: string, name: string): Promise<void> {
    const body = await readJsonObject(req, MAX_ADMIN_BODY);
    const problems: string[] = [];
    if (!TENANT.test(tenant)) problems.push('tenant (path): expected a tenant subdomain');
    if (!isWebhookName(name)) problems.push('name (path): expected 1-64 letters, digits and . _ -');
    if (body.auth !== 'hmac' && body.auth !== 'basic') problems.push('auth: expected "hmac" or "basic"');
    if (body.auth === 'basic' && (typeof body.username !== 'string' || !/^[^:\s]{1,64}$/.test(body.username))) problems.push('username: expected 1-64 characters without ":" or spaces (basic)');
    if (body.auth === 'hmac' && body.username !== undefined) problems.push('username: only with "basic"');
    let action: WebhookAction | undefined;
    if (typeof body.destination === 'string' && body.event === undefined) {
      if (!options.destinations().some((d) => d.name === body.destination)) problems.push(`destination: no destination "${body.destination}" is configured (destinations)`);
      const path = body.path ?? '/';
      if (typeof path !== 'string' || !path.startsWith('/') || /[\s#]/.test(path)) problems.push('path: expected a path starting with /');
      else action = { forward: { destination: body.destination, path } };
    } else if (typeof body.event === 'string' && body.destination === undefined) {
      if (!EVENT_NAME.test(body.event)) problems.push('event: expected an event name');
      else action = { event: body.event };
    } else problems.push('expected either "destination" (forward the body) or "event" (publish it as an event)');
    const maxBytes = body.maxBytes ?? DEFAULT_WEBHOOK_MAX_BYTES;
    if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_WEBHOOK_MAX_BYTES) problems.push(`maxBytes: expected a whole number from 1 to ${MAX_WEBHOOK_MAX_BYTES}`);
    if (problems.length || !action) throw invalid(problems);
    const { webhook, secret } = await options.webhooks.put({
      tenant,
      name,
      auth: body.auth as 'hmac' | 'basic',
      ...(body.auth === 'basic' ? { username: body.username as string } : {}),
      action,
      maxBytes: maxBytes as number,
    });
    sendJson(req, res, 201, { ...webhook, createdAt: new Date(webhook.createdAt).toISOString(), secret });
  }

  return async function handleAdmin(req: IncomingMessage, res: ServerResponse, pathname: string, url: URL): Promise<void> {
    authenticate(req);
    const method = req.method ?? 'GET';
    const parts = pathname.split('/').slice(2).map(decodeSegment); // ['events', ...] or ['webhooks', ...]
    const [area, first, second, third] = parts;
    const tenantFilter = url.searchParams.get('tenant') ?? undefined;
    if (area === 'events') {
      if (first === undefined) {
        if (method !== 'POST') throw methodNotAllowed(method, pathname, 'POST');
        return publish(req, res);
      }
      if (first === 'subscriptions' && second === undefined) {
        if (method === 'GET') return sendJson(req, res, 200, (await options.store.subscriptions(tenantFilter)).map((s) => ({ ...s, createdAt: new Date(s.createdAt).toISOString() })));
        if (method === 'POST') return subscribe(req, res);
        throw methodNotAllowed(method, pathname, 'GET, POST');
      }
      if (first === 'subscriptions' && second !== undefined && third === undefined) {
        if (method !== 'DELETE') throw methodNotAllowed(method, pathname, 'DELETE');
        if (!(await options.store.unsubscribe(second))) throw notFound(`subscription ${second}`);
        return sendJson(req, res, 204, undefined);
      }
      if (first === 'tokens' && second === undefined) {
        if (method !== 'POST') throw methodNotAllowed(method, pathname, 'POST');
        const body = await readJsonObject(req, MAX_ADMIN_BODY);
        if (typeof body.tenant !== 'string' || !TENANT.test(body.tenant)) throw invalid(['tenant: expected a tenant subdomain']);
        return sendJson(req, res, 201, await options.store.createToken(body.tenant));
      }
      if (first === 'tokens' && second !== undefined && third === undefined) {
        if (method !== 'DELETE') throw methodNotAllowed(method, pathname, 'DELETE');
        if (!(await options.store.revokeToken(second))) throw notFound(`polling token ${second}`);
        return sendJson(req, res, 204, undefined);
      }
      if (first === 'dead-letters' && second === undefined) {
        if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method, pathname, 'GET');
        const letters = await options.queue.deadLetters();
        return sendJson(req, res, 200, letters.map((l) => ({
          deliveryId: l.message.deliveryId,
          tenant: l.message.tenant,
          subscriptionId: l.message.subscriptionId,
          event: { id: l.message.event.id, name: l.message.event.name },
          attempts: l.message.attempt,
          reason: l.reason,
          deadAt: new Date(l.deadAt).toISOString(),
        })));
      }
      if (first === 'dead-letters' && second !== undefined && third === 'redrive' && parts.length === 4) {
        if (method !== 'POST') throw methodNotAllowed(method, pathname, 'POST');
        if (!(await options.queue.redrive(second))) throw notFound(`dead letter ${second}`);
        return sendJson(req, res, 202, { deliveryId: second, redriven: true });
      }
    } else if (area === 'webhooks') {
      if (first === undefined) {
        if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method, pathname, 'GET');
        return sendJson(req, res, 200, (await options.webhooks.list(tenantFilter)).map((w) => ({ ...w, createdAt: new Date(w.createdAt).toISOString() })));
      }
      if (second !== undefined && third === undefined) {
        if (method === 'PUT') return putWebhook(req, res, first, second);
        if (method === 'DELETE') {
          if (!(await options.webhooks.remove(first, second))) throw notFound(`webhook ${first}/${second}`);
          return sendJson(req, res, 204, undefined);
        }
        throw methodNotAllowed(method, pathname, 'PUT, DELETE');
      }
    }
    throw new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', `No events admin endpoint at ${pathname}`);
  };
}
