import { afterAll, beforeAll } from 'vitest';
import { openPostgresRecords } from '../../../src/records/postgres.js';
import { startPostgresServer, type PostgresServerHandle } from '../../support/postgres.js';
import { describeKeyStore } from './keystore-contract.js';

let server: PostgresServerHandle;
let url: string;
beforeAll(async () => {
  server = await startPostgresServer();
  url = await server.createDatabase('keystore');
}, 120_000);
// The suite closes its handles in its own afterAll, which runs before this file-level one.
afterAll(async () => {
  await server?.dispose();
});

// Each call its own pool: the "instances" race through the server as separate gateways would.
describeKeyStore('PostgreSQL', { open: async () => openPostgresRecords({ connectionString: url }) });
