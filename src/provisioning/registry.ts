/**
 * The gateway's TenantRegistry (src/server/gateway.ts) over the zone directory: a tenant is served
 * while its zone exists and the application is subscribed there (or it is the provider's own zone).
 *
 * Asked on every request, so answers are cached, but only positive ones and only briefly:
 *  - a positive answer lives at most `ttlMs` (≤ 1 s), so a tenant deleted through any instance is
 *    refused by every instance within a second, with no cross-instance invalidation channel;
 *  - negative answers are not cached, so a tenant subscribed through another instance can log in at
 *    once (issue 5: "within the same second");
 *  - the cache is filled lazily and bounded (LRU), so 10,000 tenants cost nothing at start-up and a
 *    flood of random host names cannot grow it.
 * Concurrent lookups of one subdomain share one database round trip.
 *
 * While the records database is unreachable (issue 19) a tenant that was subscribed when last asked
 * stays subscribed: the gateway serves it in full, since what a served request needs then is in the
 * store (sessions, in Redis) or in the request (routes, static files); what needs the database
 * (logins at the zone, the token endpoint, the admin API, subscriptions) answers 503
 * ZG_ERR_DATABASE_UNAVAILABLE by itself. A tenant unsubscribed or removed just before the outage is
 * no risk there: its sessions went with it (revokeTenantSessions), and a new one needs a login. A
 * subdomain never seen, or last seen unsubscribed, still fails with ZG_ERR_DATABASE_UNAVAILABLE: no
 * answer is invented. Remembered answers are kept past their TTL for this (bounded by `maxEntries`),
 * and dropped when the database says no or `forget` is called.
 *
 * Once a lookup has found the database unreachable, the registry does not ask it again for every
 * request: a hung PostgreSQL answers nothing until the pool's connect timeout (3 s), and each request
 * would wait that long for its remembered answer. Until one lookup succeeds, it answers at once from
 * what it remembers and lets a single lookup at a time, at most one per PROBE_INTERVAL_MS, find out
 * whether the database is back.
 */
import { GatewayError } from '../errors.js';
import { LruMap } from '../lru-map.js';
import { normaliseSubdomain } from '../zones/directory/validation.js';
import type { Application, ZoneDirectory } from '../zones/directory/types.js';

export interface TenantRegistryOptions {
  directory: ZoneDirectory;
  application: Application;
  /** How long a positive answer is trusted, ms; at most 1000 (default 1000). */
  ttlMs?: number;
  /** Most subdomains remembered (default 10,000). */
  maxEntries?: number;
  now?: () => number;
}

export interface CachedTenantRegistry {
  /**
   * True or false itself while a recent answer is remembered, or while the database is down and the
   * tenant was subscribed when last asked; a promise when the database must be asked.
   */
  isSubscribed(subdomain: string): boolean | Promise<boolean>;
  /** Drops a cached answer (this instance's own unsubscribe; others expire within `ttlMs`). */
  forget(subdomain: string): void;
  readonly size: number;
}

const PROBE_INTERVAL_MS = 1000;

// The directory answers from the records database: ZG_ERR_DATABASE_UNAVAILABLE when it is down is an
// outage, not an unknown tenant.
const unavailable = (err: unknown) => err instanceof GatewayError && err.code === 'ZG_ERR_DATABASE_UNAVAILABLE';

export function createTenantRegistry(options: TenantRegistryOptions): CachedTenantRegistry {
  const { directory, application } = options;
  const ttlMs = options.ttlMs ?? 1000;
  const maxEntries = options.maxEntries ?? 10_000;
  if (!(ttlMs >= 0 && ttlMs <= 1000)) throw new RangeError('ttlMs must be within 0..1000: a deleted tenant must be refused within a second');
  if (!(Number.isInteger(maxEntries) && maxEntries >= 1)) throw new RangeError('maxEntries must be a positive integer');
  const now = options.now ?? Date.now;

  // Subdomains whose last answer was "subscribed", with the time that answer stops being fresh.
  const positive = new LruMap<string, number>(maxEntries);
  const inFlight = new Map<string, Promise<boolean>>();
  // The last lookup found the database unreachable: answer from memory, and probe in the background.
  let databaseDown: GatewayError | undefined;
  let probing = false;
  let lastProbe = 0;

  async function lookup(subdomain: string): Promise<boolean> {
    const zone = await directory.getZoneBySubdomain(subdomain);
    return zone !== undefined && (await directory.isClientAllowedInZone(application, zone.id));
  }

  function settle(subdomain: string, subscribed: boolean): void {
    databaseDown = undefined;
    if (subscribed && ttlMs > 0) remember(subdomain);
    else positive.delete(subdomain);
  }

  /** One lookup at a time while the database is down; its success ends the outage for every tenant. */
  function probe(subdomain: string): void {
    if (probing || now() - lastProbe < PROBE_INTERVAL_MS) return;
    probing = true;
    lastProbe = now();
    lookup(subdomain).then(
      (subscribed) => settle(subdomain, subscribed),
      (err: unknown) => {
        if (!unavailable(err)) databaseDown = undefined;
      },
    ).finally(() => (probing = false));
  }

  function remember(subdomain: string): void {
    positive.set(subdomain, now() + ttlMs);
  }

  return {
    isSubscribed(hostSubdomain) {
      let subdomain: string;
      try {
        subdomain = normaliseSubdomain(hostSubdomain);
      } catch {
        // TENANT_HOST_PATTERN may capture anything (`a.b`, `-x`); no zone can have such a subdomain.
        return false;
      }
      const expires = positive.get(subdomain);
      if (expires !== undefined && expires > now()) return true;
      if (databaseDown !== undefined) {
        probe(subdomain);
        return positive.has(subdomain) ? true : Promise.reject(databaseDown);
      }
      let pending = inFlight.get(subdomain);
      if (!pending) {
        pending = lookup(subdomain).finally(() => inFlight.delete(subdomain));
        inFlight.set(subdomain, pending);
      }
      return pending.then(
        (subscribed) => {
          settle(subdomain, subscribed);
          return subscribed;
        },
        (err: unknown) => {
          if (!unavailable(err)) throw err;
          databaseDown = err as GatewayError;
          lastProbe = now();
          if (positive.has(subdomain)) return true;
          throw err;
        },
      );
    },
    forget(subdomain) {
      positive.delete(subdomain.toLowerCase());
    },
    get size() {
      return positive.size;
    },
  };
}
