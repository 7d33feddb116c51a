import { afterAll, beforeAll } from 'vitest';
import { openPostgresRecords } from '../../../src/records/postgres.js';
import { startPostgresServer, type PostgresServerHandle } from '../../support/postgres.js';
import { describeClientStore } from './store-contract.js';

// A private PostgreSQL server (test/support/postgres.ts); nothing of the machine's own is used.
let server: PostgresServerHandle;
let url: string;
beforeAll(async () => {
  server = await startPostgresServer();
  url = await server.createDatabase('clients');
});
afterAll(() => server?.dispose());

describeClientStore('PostgreSQL', async () => openPostgresRecords({ connectionString: url }));
