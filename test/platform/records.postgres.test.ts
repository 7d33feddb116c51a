import { afterAll, beforeAll } from 'vitest';
import { openPostgresRecords } from '../../src/records/postgres.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { describePlatformRecords } from './records-contract.js';

// A private PostgreSQL server for this file (test/support/postgres.ts).
let server: PostgresServerHandle;
beforeAll(async () => {
  server = await startPostgresServer();
}, 120_000);
afterAll(async () => {
  await server?.dispose();
});

describePlatformRecords('PostgreSQL', async () => openPostgresRecords({ connectionString: await server.createDatabase('platform_records') }));
