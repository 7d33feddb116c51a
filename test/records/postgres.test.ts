import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { openPostgresRecords, type PostgresRecordsOptions } from '../../src/records/postgres.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { makeTestTls, type TestTls } from '../support/tls.js';
import { describeRecordsContract } from './database-contract.js';

let server: PostgresServerHandle;
beforeAll(async () => {
  server = await startPostgresServer();
}, 120_000);
afterAll(async () => {
  await server?.dispose();
});

let n = 0;
describeRecordsContract('postgres', async () => {
  const url = await server.createDatabase(`contract_${++n}`);
  return { open: async () => openPostgresRecords({ connectionString: url }) };
});

async function expectUnavailable(call: () => Promise<unknown>): Promise<GatewayError> {
  const err = await call().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(GatewayError);
  expect((err as GatewayError).code).toBe('ZG_ERR_DATABASE_UNAVAILABLE');
  expect((err as GatewayError).status).toBe(503);
  return err as GatewayError;
}

describe('PostgreSQL records: outages', () => {
  // Its own server: stopping it must not disturb the contract's.
  let outage: PostgresServerHandle;
  let url: string;
  const handles: RecordsDatabase[] = [];
  const open = (options: Partial<PostgresRecordsOptions> = {}) => {
    const db = openPostgresRecords({ connectionString: url, connectTimeoutMs: 1000, ...options });
    handles.push(db);
    return db;
  };
  beforeAll(async () => {
    outage = await startPostgresServer();
    url = await outage.createDatabase('outage');
  }, 120_000);
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.close()));
    await outage?.dispose();
  });

  it('answers 503 promptly while the server is down, and the same handle works again once it is back', async () => {
    const connectionErrors: Error[] = [];
    const db = open({ onConnectionError: (err) => connectionErrors.push(err) });
    await db.run('CREATE TABLE IF NOT EXISTS marks (id TEXT PRIMARY KEY)');
    await db.run("INSERT INTO marks (id) VALUES ('before')");

    await outage.stop();
    for (const call of [() => db.ping(), () => db.all('SELECT id FROM marks'), () => db.transaction((tx) => tx.run("INSERT INTO marks (id) VALUES ('during')"))]) {
      const started = Date.now();
      await expectUnavailable(call);
      // Within the connect timeout (1000 ms), with room for a loaded machine.
      expect(Date.now() - started).toBeLessThan(2500);
    }

    await outage.start();
    await expect(db.ping()).resolves.toBeUndefined();
    await db.run("INSERT INTO marks (id) VALUES ('after')");
    expect(await db.all('SELECT id FROM marks ORDER BY id')).toEqual([{ id: 'after' }, { id: 'before' }]);
    // The pooled connection the stop broke was reported, not thrown at the process.
    expect(connectionErrors.length).toBeGreaterThan(0);
  }, 120_000);

  it('keeps working across a restart: the pool replaces the connections the restart ended', async () => {
    const db = open();
    await db.ping();
    await Promise.all([db.ping(), db.ping(), db.ping()]); // several pooled connections
    await outage.restart();
    await expect(db.all('SELECT 1 AS one')).resolves.toEqual([{ one: 1 }]);
    await expect(db.transaction((tx) => tx.one('SELECT 2 AS two'))).resolves.toEqual({ two: 2 });
  }, 120_000);

  it('answers 503 within the connect timeout when the server accepts no connection at all', async () => {
    await outage.kill();
    try {
      const db = open({ connectTimeoutMs: 800 });
      const started = Date.now();
      await expectUnavailable(() => db.ping());
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await outage.start();
    }
  }, 120_000);

  it('answers 503 within the connect timeout when the server hangs, and works once it answers again', async () => {
    const db = open({ connectTimeoutMs: 1000 });
    outage.pause();
    try {
      const started = Date.now();
      await expectUnavailable(() => db.ping());
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(900);
      expect(waited).toBeLessThan(3000);
    } finally {
      outage.resume();
    }
    await expect(db.ping()).resolves.toBeUndefined();
  }, 120_000);

  it('rejects a transaction in flight when the server dies, rolls nothing half in, and recovers', async () => {
    const db = open();
    await db.run('CREATE TABLE IF NOT EXISTS flights (id TEXT PRIMARY KEY)');
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    const flight = db
      .transaction(async (tx) => {
        await tx.run("INSERT INTO flights (id) VALUES ('half')");
        inside();
        await resumed;
        await tx.run("INSERT INTO flights (id) VALUES ('other half')");
      })
      .catch((e: unknown) => e);
    await entered;
    await outage.kill();
    resume();
    const err = await flight;
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('ZG_ERR_DATABASE_UNAVAILABLE');
    await outage.start();
    expect(await db.all('SELECT id FROM flights')).toEqual([]);
  }, 120_000);
});

describe('PostgreSQL records over TLS', () => {
  let tls: TestTls;
  let secure: PostgresServerHandle;
  const handles: RecordsDatabase[] = [];
  beforeAll(async () => {
    tls = makeTestTls(['localhost']);
    secure = await startPostgresServer({ tls });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.close()));
    await secure?.dispose();
    tls?.cleanup();
  });
  const usesTls = async (db: RecordsDatabase) => {
    handles.push(db);
    return (await db.one<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))!.ssl;
  };

  it('connects with the ssl option and the CA (a service binding\'s sslrootcert)', async () => {
    expect(await usesTls(openPostgresRecords({ connectionString: secure.url, ssl: { ca: tls.ca } }))).toBe(true);
  });

  it('connects with sslmode and sslrootcert in the URL', async () => {
    const url = `${secure.url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(tls.caFile)}`;
    expect(await usesTls(openPostgresRecords({ connectionString: url }))).toBe(true);
  });

  it('refuses a server certificate it cannot verify, as a 503', async () => {
    const db = openPostgresRecords({ connectionString: secure.url, ssl: { rejectUnauthorized: true }, connectTimeoutMs: 2000 });
    handles.push(db);
    const err = await expectUnavailable(() => db.ping());
    expect(String((err.cause as Error).message)).toMatch(/certificate/i);
  });

  it('is plain without TLS settings (the test server also takes plain connections)', async () => {
    expect(await usesTls(openPostgresRecords({ connectionString: secure.url }))).toBe(false);
  });
});
