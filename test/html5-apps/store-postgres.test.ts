import { afterAll, beforeAll } from 'vitest';
import { migrate } from '../../src/records/migrate.js';
import { openPostgresRecords } from '../../src/records/postgres.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { describeHtml5AppStore } from './store-contract.js';

let server: PostgresServerHandle;
const opened: RecordsDatabase[] = [];
beforeAll(async () => {
  server = await startPostgresServer();
}, 120_000);
afterAll(async () => {
  for (const db of opened) await db.close();
  await server?.dispose();
});

let n = 0;
describeHtml5AppStore('postgres', async () => {
  const db = openPostgresRecords({ connectionString: await server.createDatabase(`apps_${++n}`) });
  opened.push(db);
  await migrate(db);
  return db;
});
