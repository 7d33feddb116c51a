/**
 * What `/readyz` answers, and the log lines when that changes (issues 10 and 19).
 *
 * Readiness takes an instance out of the load balancer. An outage of something every instance
 * shares (the Redis store, the PostgreSQL records database) would take all of them out at once and
 * turn a partial outage into a total one. So neither makes an instance unready; the body says what
 * is down: `{"status":"ready","storage":"ok"|"unavailable","records":"ok"|"unavailable"}`.
 *  - storage (Redis) down: public routes and static files work; logins and routes that need a
 *    session answer 503 ZG_ERR_STORAGE_UNAVAILABLE.
 *  - records down: sessions already established keep working from the store; what needs the
 *    database (logins at the zones, the token endpoint, the admin API, subscriptions) answers 503
 *    ZG_ERR_DATABASE_UNAVAILABLE.
 * A flushed Redis is no loss any more (issue 19): it held only sessions and other short-lived state,
 * so users log in again and nothing else changes. Not ready (503) are only:
 *  - draining after SIGTERM;
 *  - a records database that lost the installation this instance started with (its row or its schema
 *    is gone, or it is another database: src/records/installation.ts): serving on would answer every
 *    tenant "not subscribed"; an operator must restore it (`records-lost`).
 */
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Storage } from '../storage/types.js';

export type StorageState = 'ok' | 'unavailable';
export type RecordsState = 'ok' | 'unavailable' | 'lost';

/**
 * How long the probe waits for the store and for the records database. Below the probes' own
 * timeouts (Cloud Foundry's health-check-invocation-timeout defaults to 1 s, Kubernetes'
 * timeoutSeconds to 1 s): a hung Redis (its commands time out only after 2 s) or PostgreSQL (the
 * pool waits 3 s for a connection) must read as "unavailable", not as a probe that failed on every
 * instance at once.
 */
export const STORAGE_PROBE_TIMEOUT_MS = 500;

export interface ReadinessReport {
  status: 200 | 503;
  body: { status: 'ready' | 'draining' | 'records-lost'; storage?: StorageState; records?: RecordsState };
}

/**
 * The records database as readiness sees it: resolves true while it holds the installation this
 * instance started with, false once that is gone; rejects with ZG_ERR_DATABASE_UNAVAILABLE when it
 * cannot be asked.
 */
export type RecordsProbe = () => Promise<boolean>;

export interface Readiness {
  report(draining: boolean): Promise<ReadinessReport>;
  /**
   * Throws ZG_ERR_RECORDS_LOST when the records database has lost its installation: a tenant it does
   * not know is then not "not subscribed". Does nothing without a probe, or when the database cannot
   * be asked (the lookup that found nothing just worked, so that is a race with an outage, not a loss).
   */
  confirmRecordsIntact(): Promise<void>;
}

export function createReadiness(options: { storage?: Storage; records?: RecordsProbe; logger: Logger }): Readiness {
  const { storage, records, logger } = options;
  let lastStorage: StorageState = 'ok';
  let lastRecords: RecordsState = 'ok';

  /** Logs each change once, whichever of the probes or requests noticed it. */
  const observedStorage = (state: StorageState): StorageState => {
    if (state === lastStorage) return state;
    lastStorage = state;
    if (state === 'unavailable') {
      logger.warn('storage unavailable: this instance stays ready and serves public routes and static files; logins and routes that need a session answer 503 ZG_ERR_STORAGE_UNAVAILABLE', { storage: storage?.kind });
    } else {
      logger.info('storage available again', { storage: storage?.kind });
    }
    return state;
  };

  const observedRecords = (state: RecordsState): RecordsState => {
    if (state === lastRecords) return state;
    const before = lastRecords;
    lastRecords = state;
    if (state === 'unavailable') {
      logger.warn(
        'records database unavailable: this instance stays ready; sessions already established keep working, while logins at the zones, the token endpoint, the admin API and subscriptions answer 503 ZG_ERR_DATABASE_UNAVAILABLE',
      );
    } else if (state === 'lost') {
      logger.error(
        'the records database lost the installation this instance started with: its installation row or schema is gone, or it is another database (wiped, re-created, DATABASE_URL pointed elsewhere, another installation restored). This instance reports not ready (records-lost) and answers 503 ZG_ERR_RECORDS_LOST for tenants it cannot find. Restore the database from a backup, or point DATABASE_URL back at the right one; to start afresh on an empty database, restart the instances (they register the application again) and have tenants subscribe again',
      );
    } else {
      logger.info(before === 'lost' ? 'the records database has its installation again (restored): ready' : 'records database available again');
    }
    return state;
  };

  /** The answer of `asked`, or `fallback` once the probe timeout passes; ZG_ERR_<code> rejections are `fallback` too. */
  async function within<T>(asked: Promise<T>, fallback: T, unavailableCode: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), STORAGE_PROBE_TIMEOUT_MS)));
    try {
      return await Promise.race([asked, late]);
    } catch (err) {
      if (err instanceof GatewayError && err.code === unavailableCode) return fallback;
      throw err;
    } finally {
      clearTimeout(timer);
      // A late answer still settles `asked`; its rejection is the timeout's, already reported.
      asked.catch(() => undefined);
    }
  }

  async function storageState(): Promise<StorageState | undefined> {
    if (!storage) return undefined;
    const asked = storage.ping().then((): StorageState => 'ok');
    return observedStorage(await within(asked, 'unavailable', 'ZG_ERR_STORAGE_UNAVAILABLE'));
  }

  async function recordsState(): Promise<RecordsState | undefined> {
    if (!records) return undefined;
    const asked = records().then((intact): RecordsState => (intact ? 'ok' : 'lost'));
    return observedRecords(await within(asked, 'unavailable', 'ZG_ERR_DATABASE_UNAVAILABLE'));
  }

  return {
    async report(draining) {
      if (draining) return { status: 503, body: { status: 'draining' } };
      const [storageNow, recordsNow] = await Promise.all([storageState(), recordsState()]);
      const states = { ...(storageNow ? { storage: storageNow } : {}), ...(recordsNow ? { records: recordsNow } : {}) };
      if (recordsNow === 'lost') return { status: 503, body: { status: 'records-lost', ...states } };
      return { status: 200, body: { status: 'ready', ...states } };
    },
    async confirmRecordsIntact() {
      if (!records) return;
      let intact: boolean;
      try {
        intact = await records();
      } catch {
        return;
      }
      observedRecords(intact ? 'ok' : 'lost');
      if (intact) return;
      throw new GatewayError('ZG_ERR_RECORDS_LOST', 'The records database has lost its data; the operator must restore it', { expose: true });
    },
  };
}
