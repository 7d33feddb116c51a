/**
 * Publishing an event for a tenant: recorded (for polling, and so a publisher's retry with the same
 * id is recognised), then one delivery queued per subscription of the tenant that wants its name.
 * Delivery ids are derived from the event and the subscription, so queuing an event again (a
 * publisher's retry after a crash between the two steps) gives its subscribers the same idempotency
 * keys: they see a repeat, never a second event.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { EventQueue, DeliveryMessage } from './queue.js';
import type { EventStore, StoredEvent } from './store.js';

export interface PublishRequest {
  tenant: string;
  name: string;
  /** JSON text. */
  data: string;
  /** The publisher's id (its idempotency key); a new one when absent. */
  id?: string;
  occurredAt?: number;
}

export interface Published {
  event: StoredEvent;
  /** False when the tenant already had an event with this id: nothing new was recorded. */
  fresh: boolean;
  /** Deliveries queued by this call. */
  deliveries: number;
}

export const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function deliveryIdOf(tenant: string, eventId: string, subscriptionId: string): string {
  return createHash('sha256').update(`${tenant}\n${eventId}\n${subscriptionId}`).digest('base64url').slice(0, 32);
}

export async function publishEvent(store: EventStore, queue: EventQueue, request: PublishRequest, now: () => number = Date.now): Promise<Published> {
  const recorded = await store.record({
    tenant: request.tenant,
    id: request.id ?? randomUUID(),
    name: request.name,
    data: request.data,
    occurredAt: request.occurredAt ?? now(),
  });
  const { event } = recorded;
  if (recorded.fannedOut) return { event, fresh: false, deliveries: 0 };
  const subscriptions = (await store.subscriptions(event.tenant)).filter((s) => s.events === undefined || s.events.includes(event.name));
  const messages: DeliveryMessage[] = subscriptions.map((s) => ({
    deliveryId: deliveryIdOf(event.tenant, event.id, s.id),
    subscriptionId: s.id,
    tenant: event.tenant,
    event: { id: event.id, name: event.name, occurredAt: event.occurredAt, data: event.data },
    attempt: 0,
  }));
  await queue.enqueue(messages);
  await store.markFannedOut(event.tenant, event.id);
  return { event, fresh: recorded.fresh, deliveries: messages.length };
}
