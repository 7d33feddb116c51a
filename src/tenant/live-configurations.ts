/**
 * The tenant configurations as a running gateway serves them: all read once at start (a small
 * table), kept in memory, replaced whole when one changes, so a request looks its tenant up in a map
 * and nothing else (a tenant without a document costs one failed lookup). Changes come as the
 * storage's change notices (`tenantcfg:<subdomain>`, announced by every writer: the CLI, the admin
 * API, the subscription callbacks, another instance). A notice that names nothing (notices may have
 * been missed: SQLite's change log moved past this process, Redis's subscription was interrupted)
 * reloads them all, at most once a second.
 */
import type { Logger } from '../log.js';
import type { Storage } from '../storage/types.js';
import type { Destination } from '../config/types.js';
import { NOTICE_PREFIX, tenantDestinations, type TenantConfiguration, type TenantConfigurations } from './configuration.js';

export interface LiveTenantConfigurations {
  /** The documents by subdomain: the same map until something changes (a snapshot may keep it). */
  current(): ReadonlyMap<string, TenantConfiguration>;
  /** `listener` runs after each change, with the new map in place. */
  onChange(listener: () => void): void;
  /** Stops the pending reload, if any. */
  close(): void;
}

export async function loadTenantConfigurations(options: {
  store: TenantConfigurations;
  notices?: Pick<Storage, 'onForeignChange' | 'changesTracked'>;
  logger: Logger;
  /** The least time between two reloads of everything (default 1000 ms). */
  reloadEveryMs?: number;
}): Promise<LiveTenantConfigurations> {
  const { store, logger } = options;
  const reloadEveryMs = options.reloadEveryMs ?? 1000;
  const listeners: (() => void)[] = [];
  let map: ReadonlyMap<string, TenantConfiguration> = await readAll();
  let fingerprint = fingerprintOf(map);
  let timer: NodeJS.Timeout | undefined;
  let lastFullReload = Date.now();

  async function readAll(): Promise<Map<string, TenantConfiguration>> {
    return new Map((await store.all()).filter((s) => !isEmpty(s.configuration)).map((s) => [s.subdomain, s.configuration]));
  }

  function replace(next: ReadonlyMap<string, TenantConfiguration>): void {
    const nextFingerprint = fingerprintOf(next);
    if (nextFingerprint === fingerprint) return;
    map = next;
    fingerprint = nextFingerprint;
    logger.info('tenant configurations changed', { tenants: map.size });
    for (const listener of listeners) listener();
  }

  async function reloadTenant(subdomain: string): Promise<void> {
    try {
      const stored = await store.get(subdomain);
      const next = new Map(map);
      if (stored === undefined || isEmpty(stored.configuration)) next.delete(subdomain);
      else next.set(subdomain, stored.configuration);
      replace(next);
    } catch (err) {
      logger.warn('tenant configuration could not be reloaded; the one read before is served', { tenant: subdomain, error: String(err) });
    }
  }

  function scheduleFullReload(): void {
    if (timer !== undefined) return;
    const wait = Math.max(0, lastFullReload + reloadEveryMs - Date.now());
    timer = setTimeout(() => {
      lastFullReload = Date.now();
      void readAll().then(
        (next) => {
          timer = undefined;
          replace(next);
        },
        (err: unknown) => {
          timer = undefined;
          logger.warn('tenant configurations could not be reloaded; the ones read before are served', { error: String(err) });
        },
      );
    }, wait);
    timer.unref();
  }

  options.notices?.onForeignChange((key) => {
    if (key === undefined) scheduleFullReload();
    else if (key.startsWith(NOTICE_PREFIX)) void reloadTenant(key.slice(NOTICE_PREFIX.length));
  });
  // SQLite notices other processes' changes only when asked (changesTracked reads its change log),
  // and only requests that a session cache serves ask: asked here too, once a second, so that a
  // change the CLI made reaches an idle gateway. Redis answers from its subscription, without I/O.
  const poll = options.notices && setInterval(() => options.notices!.changesTracked(), reloadEveryMs);
  poll?.unref();

  return {
    current: () => map,
    onChange: (listener) => void listeners.push(listener),
    close() {
      clearTimeout(timer);
      timer = undefined;
      clearInterval(poll);
    },
  };
}

function isEmpty(c: TenantConfiguration): boolean {
  return Object.keys(c.destinations).length === 0 && Object.keys(c.settings).length === 0;
}

function fingerprintOf(map: ReadonlyMap<string, TenantConfiguration>): string {
  return JSON.stringify([...map].filter(([, c]) => !isEmpty(c)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The destinations tenants' overrides make: by tenant and name, and all of them (for the proxy). */
export interface TenantDestinations {
  readonly byTenant: ReadonlyMap<string, ReadonlyMap<string, Destination>>;
  readonly all: readonly Destination[];
}

export const NO_TENANT_DESTINATIONS: TenantDestinations = Object.freeze({ byTenant: new Map(), all: [] });

/** The overrides of every tenant applied to the application's destinations `base`; those that no longer fit are logged and left out. */
export function tenantDestinationsOf(configurations: ReadonlyMap<string, TenantConfiguration>, base: readonly Destination[], logger: Logger): TenantDestinations {
  const byTenant = new Map<string, ReadonlyMap<string, Destination>>();
  const all: Destination[] = [];
  for (const [tenant, configuration] of configurations) {
    const made = tenantDestinations(tenant, configuration, base, (t, problems) =>
      logger.warn("a tenant's destination override does not fit the application's destinations; the application's is used", { tenant: t, problems }),
    );
    if (made.size === 0) continue;
    byTenant.set(tenant, made);
    all.push(...made.values());
  }
  return byTenant.size === 0 ? NO_TENANT_DESTINATIONS : { byTenant, all };
}
