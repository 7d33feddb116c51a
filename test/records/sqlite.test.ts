import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openSqliteRecords } from '../../src/records/sqlite.js';
import { describeRecordsContract } from './database-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'zonegate-records-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
// Several handles on one file: what several processes on one host do (each its own connection).
describeRecordsContract('sqlite file', async () => {
  const file = join(dir, `records-${++n}.db`);
  return { open: async () => openSqliteRecords({ file }) };
});

// A :memory: database lives in its one connection: every open() is that handle.
describeRecordsContract('sqlite :memory:', async () => {
  const db = openSqliteRecords({ file: ':memory:' });
  return { open: async () => db };
});
