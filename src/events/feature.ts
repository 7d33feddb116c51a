/**
 * Tenant-routed webhooks and the event relay (issue 15 part 3), assembled for the gateway:
 *
 * - `POST /webhooks/<tenant>/<name>` (any host) and `POST /webhooks/<name>` (the tenant's host):
 *   inbound webhooks (src/webhooks/inbound.ts);
 * - `GET /events` (the tenant's host): polling (./polling.ts);
 * - `/_zonegate/events...`, `/_zonegate/webhooks...` (any host): the admin API (./admin.ts);
 * - a delivery worker on the durable queue: Redis Streams when Redis is configured, else SQLite
 *   `<data dir>/events.db` (./worker.ts).
 *
 * The gateway asks `claims(pathname)` (a few string tests) and hands over what it claims; with the
 * feature off (no EVENTS_ADMIN_TOKEN) the gateway has no hook at all and these paths stay the routes'.
 */
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Settings, XsuaaCredentials } from '../config/environment.js';
import { createRelyingParty } from '../login/relying-party.js';
import { localhostAwareFetch } from '../net/localhost.js';
import type { Destination } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RecordsDatabase } from '../records/types.js';
import type { RequestContext } from '../server/context.js';
import { DEFAULT_REDIS_KEY_PREFIX } from '../storage/index.js';
import type { Storage } from '../storage/types.js';
import { requestOrigin, resolveTenant } from '../tenant/resolve.js';
import { handleInboundWebhook, postToDestination } from '../webhooks/inbound.js';
import { createWebhookStore } from '../webhooks/store.js';
import { createEventsAdmin, TENANT } from './admin.js';
import { handlePolling } from './polling.js';
import { publishEvent, type PublishRequest } from './publish.js';
import type { EventQueue } from './queue.js';
import { openRedisQueue } from './redis-queue.js';
import type { EventsSettings } from './settings.js';
import { openSqliteQueue } from './sqlite-queue.js';
import { createEventStore } from './store.js';
import { startDeliveryWorker, type DeliveryWorker, type WorkerOptions } from './worker.js';

export interface EventsFeature {
  /** Whether the gateway should hand this path over (cheap: string tests only). */
  claims(pathname: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, pathname: string): Promise<void>;
  readonly queue: EventQueue;
  readonly worker: DeliveryWorker;
  /** Lets the deliveries in flight finish, then closes the queue. */
  stop(): Promise<void>;
}

export interface EventsSetup {
  events: EventsSettings;
  settings: Pick<Settings, 'storage' | 'dataDir' | 'tenantHostPattern' | 'trustedProxies'>;
  records: RecordsDatabase;
  storage: Storage;
  secretKey: Uint8Array | undefined;
  logger: Logger;
  /** Subscribed tenants (provisioning); without it any tenant name is accepted. */
  isSubscribed?: (tenant: string) => boolean | Promise<boolean>;
  destinations: () => readonly Destination[];
  /** The application's client (xsuaa binding or the built-in zones' registration): `GET /events` then also takes access tokens of the tenant's zone. */
  credentials?: XsuaaCredentials;
  /** Overrides for the worker (tests, bench). */
  worker?: Partial<Pick<WorkerOptions, 'concurrency' | 'baseDelayMs' | 'maxDelayMs' | 'timeoutMs' | 'idleMs'>>;
  /** The queue's lease, ms (default twice EVENTS_DELIVERY_TIMEOUT_MS plus a second: a delivery always ends within its lease). */
  leaseMs?: number;
  /** Redis key prefix of the queue (default the storage's, `zonegate:`). */
  keyPrefix?: string;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError('ZG_ERR_BAD_REQUEST', 'The path has a malformed percent-encoding');
  }
}

export async function openEventQueue(setup: { settings: Pick<Settings, 'storage' | 'dataDir'>; leaseMs?: number; keyPrefix?: string }): Promise<EventQueue> {
  const leaseMs = setup.leaseMs ?? 21_000;
  const { storage } = setup.settings;
  return storage.kind === 'redis'
    ? openRedisQueue(storage.connection, { keyPrefix: setup.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX, leaseMs })
    : openSqliteQueue(path.join(setup.settings.dataDir, 'events.db'), { leaseMs });
}

export async function setUpEvents(setup: EventsSetup): Promise<EventsFeature> {
  const { records, logger, settings } = setup;
  const store = createEventStore(records, setup.secretKey);
  const webhooks = createWebhookStore(records, setup.secretKey);
  const queue = await openEventQueue({ ...setup, leaseMs: setup.leaseMs ?? 2 * setup.events.deliveryTimeoutMs + 1000 });
  const worker = startDeliveryWorker({
    queue,
    logger,
    maxAttempts: setup.events.maxAttempts,
    timeoutMs: setup.events.deliveryTimeoutMs,
    ...setup.worker,
    endpoint: async (id) => {
      const s = await store.subscriptionWithSecret(id);
      return s && { url: s.url, secret: s.secret };
    },
  });
  const publish = async (request: PublishRequest) => {
    const published = await publishEvent(store, queue, request);
    if (published.deliveries > 0) worker.poke();
    logger.info('event published', { tenant: published.event.tenant, event: published.event.name, id: published.event.id, deliveries: published.deliveries, duplicate: !published.fresh || undefined });
    return published;
  };
  // Published events stay pollable for EVENTS_RETENTION_DAYS: purged at start and every hour (on
  // every instance; a second DELETE finds nothing). Deliveries still queued carry their own copy.
  const purge = () =>
    store.purgeBefore(Date.now() - setup.events.retentionDays * 86_400_000).then(
      (n) => n > 0 && logger.info('events past their retention deleted', { events: n, retentionDays: setup.events.retentionDays }),
      (err: unknown) => logger.warn('events past their retention could not be deleted', { error: String(err) }),
    );
  void purge();
  const purgeTimer = setInterval(() => void purge(), 3_600_000);
  purgeTimer.unref();
  const admin = createEventsAdmin({ adminToken: setup.events.adminToken, store, webhooks, queue, publish, destinations: setup.destinations });

  // Over HTTP to the tenant's zone, as the gateway's login checks bearer tokens (one relying party of its own).
  const relyingParty = setup.credentials && createRelyingParty({ credentials: setup.credentials, fetch: localhostAwareFetch });
  const verifyZoneToken = relyingParty && (async (tenant: string, token: string) => {
    const claims = await (await relyingParty.zone(tenant)).verifyAccessToken(token);
    return claims.user_name !== undefined ? `user:${claims.user_name}` : `client:${claims.cid ?? claims.client_id ?? claims.sub ?? 'unknown'}`;
  });

  const zoneIdOf = async (tenant: string) => {
    const zone = await records.one<{ id: string }>('SELECT id FROM zones WHERE subdomain = $1', [tenant]);
    if (zone) return zone.id;
    const subscribed = await records.one<{ tenant_id: string }>('SELECT tenant_id FROM tenants WHERE subdomain = $1', [tenant]);
    return subscribed?.tenant_id;
  };

  async function admitTenant(tenant: string): Promise<void> {
    const known = setup.isSubscribed ? await setup.isSubscribed(tenant) : TENANT.test(tenant);
    if (!known) throw new GatewayError('ZG_ERR_TENANT_UNKNOWN', `The tenant "${tenant}" is not subscribed to this application`);
  }

  /** The tenant of the request's host; undefined when the gateway is single-tenant. */
  function hostTenant(req: IncomingMessage): string | undefined {
    const origin = requestOrigin(req, settings.trustedProxies);
    return resolveTenant(origin.hostname, settings.tenantHostPattern);
  }

  return {
    claims: (pathname) => pathname === '/events' || pathname.startsWith('/webhooks/') || pathname.startsWith('/_zonegate/events') || pathname.startsWith('/_zonegate/webhooks'),
    async handle(req, res, ctx, pathname) {
      const url = new URL(ctx.originalUrl, 'http://gateway.invalid');
      if (pathname === '/_zonegate/events' || pathname.startsWith('/_zonegate/events/') || pathname === '/_zonegate/webhooks' || pathname.startsWith('/_zonegate/webhooks/')) {
        return admin(req, res, pathname, url);
      }
      if (pathname === '/events') {
        const tenant = (ctx.tenant = hostTenant(req));
        if (tenant !== undefined) await admitTenant(tenant);
        return handlePolling(req, res, tenant, url, { store, storage: setup.storage, pollPerMinute: setup.events.pollPerMinute, ...(verifyZoneToken ? { verifyZoneToken } : {}) });
      }
      if (pathname.startsWith('/webhooks/')) {
        const parts = pathname.slice('/webhooks/'.length).split('/').map(decodeSegment);
        let target: { tenant: string; name: string } | undefined;
        if (parts.length === 2 && parts[0] && parts[1]) target = { tenant: parts[0].toLowerCase(), name: parts[1] };
        else if (parts.length === 1 && parts[0]) {
          const tenant = hostTenant(req);
          if (tenant !== undefined) target = { tenant, name: parts[0] };
        }
        if (!target) throw new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', 'Webhooks are at /webhooks/<tenant>/<name>, or /webhooks/<name> on the tenant\'s host');
        ctx.tenant = target.tenant;
        await admitTenant(target.tenant);
        return handleInboundWebhook(req, res, ctx, target, {
          webhooks,
          destinations: setup.destinations,
          zoneIdOf,
          publish: async (request) => ({ id: (await publish(request)).event.id }),
          post: postToDestination,
          logger,
        });
      }
      throw new GatewayError('ZG_ERR_ROUTE_NOT_FOUND', `No route matches ${pathname}`);
    },
    queue,
    worker,
    async stop() {
      clearInterval(purgeTimer);
      await worker.stop();
      await queue.close();
    },
  };
}
