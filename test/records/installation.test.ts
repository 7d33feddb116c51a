/**
 * The installation row (src/records/installation.ts) on both backends: one row however many instances
 * start at once, the secret-key check, and "is this still the database I started on".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimInstallation, installationIntact, SecretKeyMismatch, secretKeyCheck } from '../../src/records/installation.js';
import { migrate } from '../../src/records/migrate.js';
import { openPostgresRecords } from '../../src/records/postgres.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { openTestRecords } from '../support/records.js';

const KEY = new Uint8Array(32).fill(1);
const OTHER = new Uint8Array(32).fill(2);

let server: PostgresServerHandle;
beforeAll(async () => {
  server = await startPostgresServer();
}, 120_000);
afterAll(() => server?.dispose());

let databases = 0;
const backends: [string, () => Promise<RecordsDatabase[]>][] = [
  ['sqlite', async () => [await openTestRecords()]],
  [
    'postgres',
    async () => {
      const url = await server.createDatabase(`installation_${++databases}`);
      const dbs = [0, 1, 2].map(() => openPostgresRecords({ connectionString: url }));
      await migrate(dbs[0]!);
      return dbs;
    },
  ],
];

describe.each(backends)('the installation row (%s)', (_, open) => {
  let dbs: RecordsDatabase[];
  beforeAll(async () => {
    dbs = await open();
  });
  afterAll(() => Promise.all(dbs.map((db) => db.close())));
  const each = (i: number) => dbs[i % dbs.length]!;

  it('instances starting at once agree on one row; the first wrote it', async () => {
    const claims = await Promise.all([0, 1, 2, 3].map((i) => claimInstallation(each(i), { secretKey: KEY })));
    expect(new Set(claims.map((c) => c.id)).size).toBe(1);
    expect(claims.filter((c) => c.created)).toHaveLength(1);
    expect(await each(0).all('SELECT * FROM installation')).toHaveLength(1);
  });

  it('keeps an HMAC of a fixed label, never the key; another key is refused, the same one accepted', async () => {
    const row = await each(0).one<{ secret_key_check: string }>('SELECT secret_key_check FROM installation');
    expect(row!.secret_key_check).toBe(secretKeyCheck(KEY));
    expect(row!.secret_key_check).not.toContain(Buffer.from(KEY).toString('base64url'));
    await expect(claimInstallation(each(1), { secretKey: OTHER })).rejects.toBeInstanceOf(SecretKeyMismatch);
    await expect(claimInstallation(each(1), { secretKey: KEY })).resolves.toMatchObject({ created: false });
    // An instance that seals nothing (an external XSUAA) checks nothing.
    await expect(claimInstallation(each(2))).resolves.toMatchObject({ created: false });
  });

  it('is intact while the row is there; lost when it is deleted, replaced, or its table is gone', async () => {
    const installation = await claimInstallation(each(0), { secretKey: KEY });
    expect(await installationIntact(each(1), installation)).toBe(true);
    expect(await installationIntact(each(1), { id: 'another' })).toBe(false);
    await each(0).run('ALTER TABLE installation RENAME TO installation_gone');
    expect(await installationIntact(each(1), installation)).toBe(false);
    await each(0).run('DROP TABLE installation_gone');
    expect(await installationIntact(each(1), installation)).toBe(false);
  });
});

describe('a row written without a secret key', () => {
  it('takes the first key that comes along, then refuses another', async () => {
    const db = await openTestRecords();
    try {
      await claimInstallation(db);
      expect((await db.one('SELECT secret_key_check FROM installation'))!.secret_key_check).toBeNull();
      await claimInstallation(db, { secretKey: KEY });
      expect((await db.one('SELECT secret_key_check FROM installation'))!.secret_key_check).toBe(secretKeyCheck(KEY));
      await expect(claimInstallation(db, { secretKey: OTHER })).rejects.toThrow(/set up on .* with another secret key/);
    } finally {
      await db.close();
    }
  });

  it('an unreachable database is an outage, not a loss', async () => {
    const db = await openTestRecords();
    const installation = await claimInstallation(db);
    await db.close();
    await expect(installationIntact(db, installation)).rejects.toMatchObject({ code: 'ZG_ERR_DATABASE_UNAVAILABLE' });
  });
});
