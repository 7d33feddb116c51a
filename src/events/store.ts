/**
 * What the event relay keeps in the records database (migration 7): the tenants' subscriptions
 * (endpoints events are pushed to, each with its own signing secret, sealed with
 * ZONEGATE_SECRET_KEY), the bearer tokens installations poll with (kept as SHA-256 digests only), and
 * the events themselves (for polling, and so that a publisher's retry is recognised by its id).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { GatewayError } from '../errors.js';
import type { RecordsDatabase } from '../records/types.js';
import { openSecret, sealSecret, type StoredSecret } from '../zones/directory/client-secret.js';

export interface Subscription {
  id: string;
  tenant: string;
  url: string;
  /** Event names delivered; undefined: all. */
  events?: string[];
  createdAt: number;
}

export interface StoredEvent {
  tenant: string;
  id: string;
  name: string;
  /** The event's data, as JSON text. */
  data: string;
  occurredAt: number;
}

export interface EventFilter {
  name?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
}

const subscriptionContext = (id: string) => `event-subscription:${id}`;
export const digestToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('base64url');

interface SubscriptionRow {
  id: string;
  tenant: string;
  url: string;
  events: string | null;
  sealed_secret: string;
  created_at: number;
}

function subscriptionOf(row: SubscriptionRow): Subscription {
  return {
    id: row.id,
    tenant: row.tenant,
    url: row.url,
    ...(row.events !== null ? { events: JSON.parse(row.events) as string[] } : {}),
    createdAt: Number(row.created_at),
  };
}

interface EventRow {
  tenant: string;
  id: string;
  name: string;
  data: string;
  occurred_at: number;
}

const eventOf = (row: EventRow): StoredEvent => ({ tenant: row.tenant, id: row.id, name: row.name, data: row.data, occurredAt: Number(row.occurred_at) });

export interface EventStore {
  subscribe(tenant: string, url: string, events: string[] | undefined): Promise<{ subscription: Subscription; secret: string }>;
  subscriptions(tenant?: string): Promise<Subscription[]>;
  /** The subscription with its signing secret opened; undefined once it was removed. */
  subscriptionWithSecret(id: string): Promise<(Subscription & { secret: string }) | undefined>;
  unsubscribe(id: string): Promise<boolean>;
  createToken(tenant: string): Promise<{ id: string; tenant: string; token: string }>;
  /** The tenant and id of a polling token, or undefined. */
  tokenOwner(token: string): Promise<{ id: string; tenant: string } | undefined>;
  revokeToken(id: string): Promise<boolean>;
  /**
   * Records an event; `fresh` false when the tenant already has one with this id (a publisher's
   * retry), and `fannedOut` whether its deliveries were queued then.
   */
  record(event: StoredEvent): Promise<{ fresh: boolean; fannedOut: boolean; event: StoredEvent }>;
  markFannedOut(tenant: string, id: string): Promise<void>;
  /** Deletes the events published before `before` (epoch ms); resolves with how many. */
  purgeBefore(before: number): Promise<number>;
  /** A page of the tenant's events, oldest first, and whether more follow. */
  page(tenant: string, filter: EventFilter, page: number, per: number): Promise<{ events: StoredEvent[]; more: boolean }>;
}

export function createEventStore(records: RecordsDatabase, secretKey: Uint8Array | undefined, now: () => number = Date.now): EventStore {
  return {
    async subscribe(tenant, url, events) {
      const id = randomUUID();
      const secret = randomBytes(32).toString('base64url');
      const subscription: Subscription = { id, tenant, url, ...(events ? { events } : {}), createdAt: now() };
      await records.run('INSERT INTO event_subscriptions (id, tenant, url, events, sealed_secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        id,
        tenant,
        url,
        events ? JSON.stringify(events) : null,
        JSON.stringify(sealSecret(secret, secretKey, subscriptionContext(id))),
        subscription.createdAt,
      ]);
      return { subscription, secret };
    },
    async subscriptions(tenant) {
      const rows = tenant === undefined
        ? await records.all<SubscriptionRow & Record<string, unknown>>('SELECT * FROM event_subscriptions ORDER BY tenant, created_at, id')
        : await records.all<SubscriptionRow & Record<string, unknown>>('SELECT * FROM event_subscriptions WHERE tenant = $1 ORDER BY created_at, id', [tenant]);
      return rows.map(subscriptionOf);
    },
    async subscriptionWithSecret(id) {
      const row = await records.one<SubscriptionRow & Record<string, unknown>>('SELECT * FROM event_subscriptions WHERE id = $1', [id]);
      if (!row) return undefined;
      try {
        return { ...subscriptionOf(row), secret: openSecret(JSON.parse(row.sealed_secret) as StoredSecret, secretKey, subscriptionContext(id)) };
      } catch (err) {
        throw new GatewayError('ZG_ERR_INTERNAL', `The secret of event subscription ${id} cannot be opened with the configured ZONEGATE_SECRET_KEY`, { cause: err });
      }
    },
    async unsubscribe(id) {
      return (await records.run('DELETE FROM event_subscriptions WHERE id = $1', [id])) > 0;
    },
    async createToken(tenant) {
      const id = randomUUID();
      const token = `zgev_${randomBytes(32).toString('base64url')}`;
      await records.run('INSERT INTO event_tokens (id, tenant, digest, created_at) VALUES ($1, $2, $3, $4)', [id, tenant, digestToken(token), now()]);
      return { id, tenant, token };
    },
    async tokenOwner(token) {
      // Looked up by its digest: an index lookup on a hash reveals nothing through timing.
      const row = await records.one<{ id: string; tenant: string }>('SELECT id, tenant FROM event_tokens WHERE digest = $1', [digestToken(token)]);
      return row && { id: row.id, tenant: row.tenant };
    },
    async revokeToken(id) {
      return (await records.run('DELETE FROM event_tokens WHERE id = $1', [id])) > 0;
    },
    async record(event) {
      const inserted = await records.run(
        'INSERT INTO events (tenant, id, name, data, occurred_at, fanned_out) VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (tenant, id) DO NOTHING',
        [event.tenant, event.id, event.name, event.data, event.occurredAt],
      );
      if (inserted > 0) return { fresh: true, fannedOut: false, event };
      const row = await records.one<EventRow & { fanned_out: number } & Record<string, unknown>>('SELECT * FROM events WHERE tenant = $1 AND id = $2', [event.tenant, event.id]);
      if (!row) throw new GatewayError('ZG_ERR_INTERNAL', 'An event vanished while it was published');
      return { fresh: false, fannedOut: Number(row.fanned_out) === 1, event: eventOf(row) };
    },
    async markFannedOut(tenant, id) {
      await records.run('UPDATE events SET fanned_out = 1 WHERE tenant = $1 AND id = $2', [tenant, id]);
    },
    async purgeBefore(before) {
      return records.run('DELETE FROM events WHERE occurred_at < $1', [before]);
    },
    async page(tenant, filter, page, per) {
      const where = ['tenant = $1'];
      const params: (string | number)[] = [tenant];
      if (filter.name !== undefined) where.push(`name = $${params.push(filter.name)}`);
      if (filter.from !== undefined) where.push(`occurred_at >= $${params.push(filter.from)}`);
      if (filter.to !== undefined) where.push(`occurred_at < $${params.push(filter.to)}`);
      // One row more than the page: whether a next page exists, without counting the whole table.
      const rows = await records.all<EventRow & Record<string, unknown>>(
        `SELECT tenant, id, name, data, occurred_at FROM events WHERE ${where.join(' AND ')} ORDER BY occurred_at, id LIMIT ${per + 1} OFFSET ${(page - 1) * per}`,
        params,
      );
      return { events: rows.slice(0, per).map(eventOf), more: rows.length > per };
    },
  };
}

/**
 * Removes everything of a tenant's webhooks and events (its webhooks, subscriptions, polling tokens
 * and events) when the tenant goes (unsubscription, zone deletion), as its sessions go: a tenant
 * subscribed again under the same subdomain starts with none of the old secrets or tokens. Its
 * deliveries still queued are dropped when they come up (their subscription is gone).
 */
export async function forgetTenantEvents(records: RecordsDatabase, tenant: string): Promise<void> {
  await records.transaction(async (tx) => {
    for (const table of ['webhooks', 'event_subscriptions', 'event_tokens', 'events']) await tx.run(`DELETE FROM ${table} WHERE tenant = $1`, [tenant]);
  });
}
