/**
 * Polling for installations that cannot be reached (behind a firewall; Zaikio's Loom): `GET /events`
 * on the tenant's host, with a polling token of that tenant (`Authorization: Bearer zgev_…`, issued
 * by the admin API) or an access token of the tenant's zone for this application, returns the tenant's events, oldest first, a page at a time:
 * `filter[name]`, `filter[from]` and `filter[to]` (ISO 8601 times, `to` exclusive), `page` (from 1)
 * and `per` (1–100, default 25). A token of another tenant is refused like an unknown one.
 *
 * Each token may poll `pollPerMinute` times a minute, counted atomically in the shared storage (one
 * INCR with its expiry, src/storage/), so several instances share one budget; beyond it `429` with
 * `Retry-After` (RFC 6585 §4) until the minute that began with its first poll ends.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { Storage } from '../storage/types.js';
import { sendJson } from './json.js';
import type { EventFilter, EventStore } from './store.js';

export interface PollingOptions {
  store: EventStore;
  /**
   * Checks an access token of the tenant's identity zone, issued for this application (the rule the
   * gateway applies to every bearer token, src/login/relying-party.ts); resolves with who it is for.
   * Undefined without a login configuration: then only polling tokens are accepted.
   */
  verifyZoneToken?: (tenant: string, token: string) => Promise<string>;
  storage: Storage;
  pollPerMinute: number;
}

const MAX_PER = 100;

function bearer(req: IncomingMessage): string | undefined {
  const m = req.headers.authorization ? /^bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(req.headers.authorization) : null;
  return m?.[1];
}

function time(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  const ms = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(ms)) throw new GatewayError('ZG_ERR_BAD_REQUEST', `${name} must be an ISO 8601 time, e.g. 2026-12-03T08:00:00Z`);
  return ms;
}

function whole(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new GatewayError('ZG_ERR_BAD_REQUEST', `${name} must be a whole number from 1 to ${max}`);
  return Number(raw);
}

/**
 * Whose poll this is: a polling token's (its tenant must be the host's; another tenant's token is
 * answered as an unknown one, so the host cannot be used to learn whose it is), or an access token of
 * the host's tenant's zone. `id` names the client the rate limit counts.
 */
async function pollingClient(token: string, hostTenant: string | undefined, options: PollingOptions): Promise<{ id: string; tenant: string } | undefined> {
  if (token.startsWith('zgev_') || !options.verifyZoneToken || hostTenant === undefined) {
    const owner = await options.store.tokenOwner(token);
    return owner && (hostTenant === undefined || owner.tenant === hostTenant) ? owner : undefined;
  }
  try {
    const subject = await options.verifyZoneToken(hostTenant, token);
    return { id: `zone:${hostTenant}:${subject}`, tenant: hostTenant };
  } catch (err) {
    // The zone's own verdict (expired, another tenant's, another application's) is a 401; a zone that
    // cannot be asked is its 503.
    if (err instanceof GatewayError && err.code === 'ZG_ERR_UNAUTHENTICATED') return undefined;
    throw err;
  }
}

export async function handlePolling(req: IncomingMessage, res: ServerResponse, hostTenant: string | undefined, url: URL, options: PollingOptions): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new GatewayError('ZG_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on /events`, { headers: { allow: 'GET, HEAD' } });
  const challenge = { 'www-authenticate': 'Bearer realm="zonegate events"' };
  const token = bearer(req);
  if (token === undefined) throw new GatewayError('ZG_ERR_UNAUTHENTICATED', 'A polling token is required (Authorization: Bearer …)', { headers: challenge });
  const owner = await pollingClient(token, hostTenant, options);
  if (!owner) {
    throw new GatewayError('ZG_ERR_UNAUTHENTICATED', 'The token is not valid for this tenant', { headers: { 'www-authenticate': 'Bearer realm="zonegate events", error="invalid_token"' } });
  }
  // A window that starts with the token's first poll (the counter's expiry is set when INCR creates it).
  const counter = `evpoll:${owner.id}`;
  const used = await options.storage.increment(counter, { ttlMs: 60_000 });
  if (used > options.pollPerMinute) {
    const left = (await options.storage.ttl(counter)) ?? 1000;
    const retryAfter = Math.max(1, Math.min(60, Math.ceil(left / 1000)));
    throw new GatewayError('ZG_ERR_RATE_LIMITED', `At most ${options.pollPerMinute} polls a minute per token`, { headers: { 'retry-after': String(retryAfter) } });
  }

  const params = url.searchParams;
  const filter: EventFilter = {};
  const name = params.get('filter[name]');
  if (name) filter.name = name;
  const from = time(params, 'filter[from]');
  const to = time(params, 'filter[to]');
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  const page = whole(params, 'page', 1, 1_000_000);
  const per = whole(params, 'per', 25, MAX_PER);
  const found = await options.store.page(owner.tenant, filter, page, per);
  const headers: Record<string, string> = { 'x-rate-limit-remaining': String(Math.max(0, options.pollPerMinute - used)) };
  if (found.more) {
    const next = new URLSearchParams(params);
    next.set('page', String(page + 1));
    next.set('per', String(per));
    headers.link = `</events?${next.toString()}>; rel="next"`;
  }
  sendJson(req, res, 200, {
    data: found.events.map((e) => ({ id: e.id, name: e.name, occurredAt: new Date(e.occurredAt).toISOString(), data: JSON.parse(e.data) as unknown })),
    page,
    per,
    more: found.more,
  }, headers);
}
