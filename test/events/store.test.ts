import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEventStore, type EventStore } from '../../src/events/store.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { openTestRecords } from '../support/records.js';

let records: RecordsDatabase;
let store: EventStore;
beforeAll(async () => {
  records = await openTestRecords();
  store = createEventStore(records, new Uint8Array(32).fill(5));
});
afterAll(async () => {
  await records.close();
});

it('deletes events past their retention and keeps the others pollable', async () => {
  const day = 86_400_000;
  const now = Date.now();
  for (const [id, age] of [['old', 40], ['edge', 31], ['recent', 2]] as const) {
    await store.record({ tenant: 'acme', id, name: 'x', data: '{}', occurredAt: now - age * day });
  }
  expect(await store.purgeBefore(now - 30 * day)).toBe(2);
  expect((await store.page('acme', {}, 1, 10)).events.map((e) => e.id)).toEqual(['recent']);
});

it('keeps subscription secrets sealed with the secret key, and polling tokens only as digests', async () => {
  const { subscription, secret } = await store.subscribe('acme', 'https://example.com/hook', undefined);
  const row = await records.one<{ sealed_secret: string }>('SELECT sealed_secret FROM event_subscriptions WHERE id = $1', [subscription.id]);
  expect(row!.sealed_secret).not.toContain(secret);
  expect((await store.subscriptionWithSecret(subscription.id))!.secret).toBe(secret);
  // Another key cannot open it.
  await expect(createEventStore(records, new Uint8Array(32).fill(6)).subscriptionWithSecret(subscription.id)).rejects.toThrow(/cannot be opened/);
  const { token } = await store.createToken('acme');
  const tokens = await records.all<{ digest: string }>('SELECT digest FROM event_tokens');
  expect(tokens.some((t) => t.digest.includes(token) || token.includes(t.digest))).toBe(false);
  expect(await store.tokenOwner(token)).toMatchObject({ tenant: 'acme' });
});
