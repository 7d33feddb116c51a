import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { openPostgresRecords } from '../../../src/records/postgres.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { describeDirectory } from './directory-contract.js';

// The machine's own PostgreSQL (trust authentication) until test/support has a private server; a
// database of this file's own, so parallel test files never see each other's rows.
const SERVER = 'postgres://postgres@127.0.0.1:5432';
const database = `zonegate_directory_${randomUUID().replaceAll('-', '')}`;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${SERVER}/test` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(() => admin(`CREATE DATABASE ${database}`));
// The suite closes its handles in its own afterAll, which runs before this file-level one.
afterAll(() => admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));

describeDirectory('PostgreSQL', {
  // Each call its own pool: the three "instances" race through the server as separate gateways would.
  open: async (): Promise<RecordsDatabase> => openPostgresRecords({ connectionString: `${SERVER}/${database}` }),
});
