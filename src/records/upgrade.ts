/**
 * The upgrade from a release that kept records in the store (issue 19): at start, before the
 * identity zones create anything, a records database without zones and a store that still holds an
 * earlier release's zone directory (`dir:zones`) are joined by `zonegate db import`'s copy, so an
 * upgraded deployment keeps its tenants, users, keys and the application's client without a manual
 * step (and without the new start registering a second client that would then conflict).
 *
 * Instances starting together queue on one lock in the shared store and check again once they hold
 * it: the first copies, the others find the zones there and go on. What the copy could not bring
 * over (a conflict, a secret that does not open) is logged by name and does not stop the start:
 * `zonegate db import` reports the same and may be run again.
 */
import type { Logger } from '../log.js';
import { withLock } from '../storage/lock.js';
import type { Storage } from '../storage/types.js';
import { IMPORT_KINDS, importRecords, type ImportReport } from './import.js';
import type { RecordsDatabase } from './types.js';

// A copy of 10,000 tenants takes a while; the lock outlives a slow one, and the waiters wait as long.
const LOCK = { ttlMs: 10 * 60_000, waitMs: 10 * 60_000 };

/** Imports the store's earlier records when the records database has no zone yet; the report, or undefined when there was nothing to do. */
export async function importEarlierRecords(storage: Storage, records: RecordsDatabase, options: { secretKey?: Uint8Array; logger: Logger }): Promise<ImportReport | undefined> {
  const needed = async () => (await records.one('SELECT id FROM zones LIMIT 1')) === undefined && (await storage.listIndex('dir:zones')).length > 0;
  if (!(await needed())) return undefined;
  return withLock(storage, 'records:import', LOCK, async () => {
    if (!(await needed())) return undefined;
    const { logger } = options;
    logger.info('the store holds the records of an earlier release and the records database has none: copying them (zonegate db import)');
    const report = await importRecords(storage, records, options.secretKey ? { secretKey: options.secretKey } : {});
    const copied = Object.fromEntries(IMPORT_KINDS.map((kind) => [kind, report.counts[kind].copied]));
    logger.info('records copied from the store into the records database; delete its dir:*, zkeys:* and prov:tenant:* keys once satisfied', copied);
    for (const conflict of report.conflicts) logger.warn('record not copied: the records database holds another', { kind: conflict.kind, name: conflict.name, reason: conflict.reason });
    for (const unreadable of report.unreadable) logger.warn('record not copied: unreadable in the store', { key: unreadable.key, reason: unreadable.reason });
    return report;
  });
}
