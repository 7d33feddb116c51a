import { migrate } from '../../src/records/migrate.js';
import { openSqliteRecords } from '../../src/records/sqlite.js';
import type { RecordsDatabase } from '../../src/records/types.js';

/** A private, migrated records database in memory (SQLite), for tests whose subject is not the database. */
export async function openTestRecords(): Promise<RecordsDatabase> {
  const records = openSqliteRecords({ file: ':memory:' });
  await migrate(records);
  return records;
}
