/**
 * A marker that says "this store was initialised", written once, before the application is
 * registered in it. With Redis the store is the system of record (zones, users, signing keys,
 * tenants); a FLUSHALL, an evicting `maxmemory-policy` or a Redis restarted without persistence
 * empties it under running instances. Without a marker that looks exactly like "no tenant is
 * subscribed": every tenant would answer 404, and nobody would be told why. With it, an instance
 * can tell "this tenant is not subscribed" from "the store lost everything" (issue 10).
 *
 * Each instance remembers the marker it found (or wrote) at start; a store whose marker is gone or
 * different has lost the data this instance started with. A store restored from a backup brings
 * the same marker back, and then nothing is reported any more.
 */
import { randomUUID } from 'node:crypto';
import type { Storage } from './types.js';

export const STORE_MARKER_KEY = 'store:initialised';

export interface StoreMarker {
  /** The marker this instance started with. */
  readonly value: string;
  /** True when this start wrote it: the store was empty. */
  readonly created: boolean;
  /** False when the store has lost it; rejects with ZG_ERR_STORAGE_UNAVAILABLE when the store cannot be asked. */
  intact(): Promise<boolean>;
}

/** Writes the marker if the store has none (the first start against it) and reads the one that counts. */
export async function claimStoreMarker(storage: Storage, now: () => Date = () => new Date()): Promise<StoreMarker> {
  // setIfAbsent: instances starting together against an empty store agree on one marker.
  const created = await storage.setIfAbsent(STORE_MARKER_KEY, JSON.stringify({ id: randomUUID(), initialisedAt: now().toISOString() }));
  const value = await storage.get(STORE_MARKER_KEY);
  if (value === undefined) {
    // Gone between the write and the read: only an evicting Redis does that, and it would go on
    // deleting zones and keys the same way.
    throw new Error('The store dropped a key written a moment ago: it evicts keys (maxmemory-policy), and cannot hold zones, users and keys');
  }
  return {
    value,
    created,
    intact: async () => (await storage.get(STORE_MARKER_KEY)) === value,
  };
}

/** What the initialisation marker says about when the store was set up, for log lines. */
export function initialisedAt(marker: StoreMarker): string | undefined {
  try {
    const at = (JSON.parse(marker.value) as { initialisedAt?: unknown }).initialisedAt;
    return typeof at === 'string' ? at : undefined;
  } catch {
    return undefined;
  }
}
