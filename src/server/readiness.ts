/**
 * What `/readyz` answers, and the log lines when that changes (issue 10).
 *
 * Readiness takes an instance out of the load balancer. An outage of something every instance
 * shares (the Redis store) would take all of them out at once and turn a partial outage (logins and
 * sessions fail, public routes and static files work) into a total one. So an unreachable store
 * keeps the instance ready, and says so in the body: `{"status":"ready","storage":"unavailable"}`.
 * Not ready (503) are only states in which this instance should not get traffic that another could
 * serve better, or that no traffic should reach:
 *  - draining after SIGTERM;
 *  - a store that lost its data (the initialisation marker is gone, src/storage/store-marker.ts):
 *    serving on would answer every tenant "not subscribed"; an operator must restore it.
 */
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { initialisedAt, type StoreMarker } from '../storage/store-marker.js';
import type { Storage } from '../storage/types.js';

export type StorageState = 'ok' | 'unavailable' | 'lost';

/**
 * How long the probe waits for the store. Below the probes' own timeouts (Cloud Foundry's
 * health-check-invocation-timeout defaults to 1 s, Kubernetes' timeoutSeconds to 1 s): a hung Redis
 * (its commands time out only after 2 s) must read as "unavailable", not as a probe that failed on
 * every instance at once.
 */
export const STORAGE_PROBE_TIMEOUT_MS = 500;

export interface ReadinessReport {
  status: 200 | 503;
  body: { status: 'ready' | 'draining' | 'store-lost'; storage?: StorageState };
}

export interface Readiness {
  report(draining: boolean): Promise<ReadinessReport>;
  /**
   * Throws ZG_ERR_STORAGE_LOST when the store has lost its data: a tenant the store does not know
   * is then not "not subscribed". Does nothing without a marker, or when the store cannot be asked
   * (the lookup that found nothing just worked, so that is a race with an outage, not a loss).
   */
  confirmStoreIntact(): Promise<void>;
}

export function createReadiness(options: { storage?: Storage; marker?: StoreMarker; logger: Logger }): Readiness {
  const { storage, marker, logger } = options;
  let last: StorageState = 'ok';

  /** Logs each change once, whichever of the probes or requests noticed it. */
  const observed = (state: StorageState): StorageState => {
    if (state === last) return state;
    const before = last;
    last = state;
    if (state === 'unavailable') {
      logger.warn('storage unavailable: this instance stays ready and serves public routes and static files; logins and routes that need a session answer 503 ZG_ERR_STORAGE_UNAVAILABLE', { storage: storage?.kind });
    } else if (state === 'lost') {
      logger.error(
        'the store lost its data: the marker written when it was initialised is gone (FLUSHALL, keys evicted under maxmemory-policy, or a Redis restarted without persistence), and with it zones, users, signing keys and tenants. This instance reports not ready and answers 503 ZG_ERR_STORAGE_LOST. Restore the store from a backup; or, to start empty, restart the instances (they register the application afresh) and have tenants subscribe again',
        { storage: storage?.kind, initialisedAt: marker && initialisedAt(marker) },
      );
    } else {
      logger.info(before === 'lost' ? 'the store has its data again (restored): ready' : 'storage available again', { storage: storage?.kind });
    }
    return state;
  };

  async function storageState(): Promise<StorageState | undefined> {
    if (!storage) return undefined;
    const asked = marker ? marker.intact().then((intact): StorageState => (intact ? 'ok' : 'lost')) : storage.ping().then((): StorageState => 'ok');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<StorageState>((resolve) => (timer = setTimeout(() => resolve('unavailable'), STORAGE_PROBE_TIMEOUT_MS)));
    try {
      return observed(await Promise.race([asked, late]));
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'ZG_ERR_STORAGE_UNAVAILABLE') return observed('unavailable');
      throw err;
    } finally {
      clearTimeout(timer);
      // A late answer still settles `asked`; its rejection is the timeout's, already reported.
      asked.catch(() => undefined);
    }
  }

  return {
    async report(draining) {
      if (draining) return { status: 503, body: { status: 'draining' } };
      const state = await storageState();
      if (state === 'lost') return { status: 503, body: { status: 'store-lost', storage: state } };
      return { status: 200, body: { status: 'ready', ...(state ? { storage: state } : {}) } };
    },
    async confirmStoreIntact() {
      if (!marker) return;
      let intact: boolean;
      try {
        intact = await marker.intact();
      } catch {
        return;
      }
      observed(intact ? 'ok' : 'lost');
      if (intact) return;
      throw new GatewayError('ZG_ERR_STORAGE_LOST', 'The store has lost its data; the operator must restore it', { expose: true });
    },
  };
}
