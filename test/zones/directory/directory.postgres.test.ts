import { afterAll, beforeAll } from 'vitest';
import { openPostgresRecords } from '../../../src/records/postgres.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { startPostgresServer, type PostgresServerHandle } from '../../support/postgres.js';
import { describeDirectory } from './directory-contract.js';

// A private PostgreSQL server (Debian's binaries, test/support/postgres.ts): nothing of the
// machine's own is used, and nothing is left behind.
let server: PostgresServerHandle;
let url: string;

beforeAll(async () => {
  server = await startPostgresServer();
  url = await server.createDatabase('directory');
});
// The suite closes its handles in its own afterAll, which runs before this file-level one.
afterAll(() => server?.dispose());

describeDirectory('PostgreSQL', {
  // Each call its own pool: the three "instances" race through the server as separate gateways would.
  open: async (): Promise<RecordsDatabase> => openPostgresRecords({ connectionString: url }),
});
