import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSettings } from '../../src/config/environment.js';
import { openRecords, RecordsOpenError, type RecordsConfig } from '../../src/records/index.js';
import type { Migration } from '../../src/records/schema.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { freePort } from '../support/free-port.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { makeTestTls, type TestTls } from '../support/tls.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-records-open-'));
const opened: RecordsDatabase[] = [];
let tls: TestTls;
let server: PostgresServerHandle;
beforeAll(async () => {
  tls = makeTestTls(['localhost']);
  server = await startPostgresServer({ tls });
}, 120_000);
afterAll(async () => {
  await Promise.all(opened.map((db) => db.close()));
  await server?.dispose();
  tls?.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

const migrations: readonly Migration[] = [
  { version: 1, name: 'notes', statements: ['CREATE TABLE notes (id TEXT PRIMARY KEY)'] },
  { version: 2, name: 'note text', statements: ['ALTER TABLE notes ADD COLUMN body TEXT'] },
];

async function open(config: RecordsConfig, options: Parameters<typeof openRecords>[2] = {}): Promise<RecordsDatabase> {
  const db = await openRecords(config, undefined, { migrations, ...options });
  opened.push(db);
  return db;
}

async function refusal(config: RecordsConfig, options: Parameters<typeof openRecords>[2] = {}): Promise<RecordsOpenError> {
  const err = await openRecords(config, undefined, { migrations, ...options }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(RecordsOpenError);
  return err as RecordsOpenError;
}

describe('openRecords', () => {
  it('opens the SQLite file, creating its directory, and migrates it', async () => {
    const file = path.join(dir, 'data', 'records.db');
    const db = await open({ kind: 'sqlite', file });
    await db.run("INSERT INTO notes (id, body) VALUES ('n1', 'kept')");
    await db.close();
    const again = await open({ kind: 'sqlite', file });
    expect(await again.all('SELECT id, body FROM notes')).toEqual([{ id: 'n1', body: 'kept' }]);
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
  });

  it('leaves the schema alone when told not to migrate', async () => {
    const db = await open({ kind: 'sqlite', file: path.join(dir, 'untouched.db') }, { migrate: false });
    expect(await db.all("SELECT name FROM sqlite_master WHERE name = 'notes'")).toEqual([]);
  });

  it('names the file and says why in words when SQLite cannot open it', async () => {
    fs.writeFileSync(path.join(dir, 'a-file'), '');
    const below = path.join(dir, 'a-file', 'data', 'records.db');
    expect((await refusal({ kind: 'sqlite', file: below })).message).toBe(
      `cannot open the records database ${below} (ZONEGATE_DATA_DIR): a part of the path is a file, not a directory at ${path.join(dir, 'a-file', 'data')} (ENOTDIR)`,
    );
    const file = path.join(dir, 'a-file', 'records.db');
    expect((await refusal({ kind: 'sqlite', file })).message).toBe(
      `cannot open the records database ${file} (ZONEGATE_DATA_DIR): a file stands where the directory should be at ${path.join(dir, 'a-file')} (EEXIST)`,
    );
  });

  it('refuses a database with a newer schema, naming both versions', async () => {
    const file = path.join(dir, 'newer.db');
    await (await open({ kind: 'sqlite', file })).close();
    const err = await refusal({ kind: 'sqlite', file }, { migrations: migrations.slice(0, 1) });
    expect(err.message).toBe(
      `cannot migrate the records database ${file} (ZONEGATE_DATA_DIR): the records database has schema version 2, newer than this zonegate knows (1): run the newer version, or restore a backup`,
    );
  });

  it('names an unreachable PostgreSQL without its password, promptly', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await refusal({ kind: 'postgres', connectionString: `postgres://zonegate:s3cret@127.0.0.1:${port}/records?password=s3cret` });
    expect(err.message).toBe(
      `cannot open the records database at postgres://***:***@127.0.0.1:${port}/records?password=***: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('says when PostgreSQL refuses the database', async () => {
    const err = await refusal({ kind: 'postgres', connectionString: `postgres://postgres@127.0.0.1:${server.port}/no_such_db` });
    expect(err.message).toBe(`cannot open the records database at postgres://***@127.0.0.1:${server.port}/no_such_db: database "no_such_db" does not exist`);
  });

  it('opens PostgreSQL from a VCAP_SERVICES binding with sslrootcert, over TLS, and migrates it', async () => {
    const url = await server.createDatabase('bound');
    const settings = readSettings(
      {
        ZONEGATE_SECRET_KEY: 'a'.repeat(64),
        VCAP_SERVICES: JSON.stringify({
          'postgresql-db': [{ label: 'postgresql-db', name: 'db', tags: ['postgres'], credentials: { uri: `${url}?sslmode=verify-full`, sslrootcert: tls.ca } }],
        }),
      },
      { cwd: dir },
    );
    expect(settings.records).toMatchObject({ kind: 'postgres', ssl: { verify: 'full', ca: tls.ca } });
    const db = await open(settings.records);
    expect(await db.one('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toEqual({ ssl: true });
    expect(await db.all('SELECT version FROM schema_migrations ORDER BY version')).toEqual([{ version: 1 }, { version: 2 }]);
  });

  it('refuses a TLS server whose certificate the binding\'s CA did not sign', async () => {
    const other = makeTestTls(['localhost']);
    try {
      const err = await refusal({ kind: 'postgres', connectionString: server.url, ssl: { verify: 'full', ca: other.ca } });
      expect(err.message).toMatch(new RegExp(`^cannot open the records database at postgres://\\*\\*\\*@127\\.0\\.0\\.1:${server.port}/postgres \\(TLS, verify full\\): .*certificate`));
    } finally {
      other.cleanup();
    }
  });
});
