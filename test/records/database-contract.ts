import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { migrate, migrationStatus } from '../../src/records/migrate.js';
import type { Migration } from '../../src/records/schema.js';
import { UniqueViolation, type RecordsDatabase } from '../../src/records/types.js';

/** A new, empty database; `open()` opens another handle to it (its own connection or pool). */
export interface FreshDatabase {
  open(): Promise<RecordsDatabase>;
}

/**
 * The records database contract (src/records/types.ts), run against every backend: what the SQL zone
 * directory, keystore and tenant records rely on. `fresh()` gives each test its own empty database, so
 * tests that read schema_migrations never see each other's. A backend whose databases exist only in
 * one handle (SQLite `:memory:`) returns that one handle from every `open()`.
 */
export function describeRecordsContract(name: string, fresh: () => Promise<FreshDatabase>): void {
  describe(`records database contract: ${name}`, () => {
    const opened: RecordsDatabase[] = [];
    afterAll(async () => {
      await Promise.all(opened.map((db) => db.close()));
    });
    const database = async (): Promise<{ db: RecordsDatabase; another: () => Promise<RecordsDatabase> }> => {
      const target = await fresh();
      const another = async () => {
        const db = await target.open();
        opened.push(db);
        return db;
      };
      return { db: await another(), another };
    };
    const items = (db: RecordsDatabase) =>
      db.run('CREATE TABLE items (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, n INTEGER NOT NULL DEFAULT 0, at BIGINT)');

    it('binds $n placeholders by number: reordered and repeated', async () => {
      const { db } = await database();
      await items(db);
      await db.run('INSERT INTO items (email, id, n) VALUES ($2, $1, $3)', ['a', 'a@example.com', 7]);
      await db.run('INSERT INTO items (id, email, n) VALUES ($1, $1, $2)', ['b', 8]);
      const rows = await db.all<{ id: string; email: string; n: number }>(
        'SELECT id, email, n FROM items WHERE id = $2 OR email = $1 OR id = $2 ORDER BY id',
        ['a@example.com', 'b'],
      );
      expect(rows).toEqual([
        { id: 'a', email: 'a@example.com', n: 7 },
        { id: 'b', email: 'b', n: 8 },
      ]);
      expect(await db.one('SELECT id FROM items WHERE id = $1', ['none'])).toBeUndefined();
      expect(await db.run('UPDATE items SET n = n + $1 WHERE n > $2', [1, 0])).toBe(2);
    });

    it('returns BIGINT epoch milliseconds and counts as numbers', async () => {
      const { db } = await database();
      await items(db);
      const at = Date.UTC(2026, 11, 3, 1, 2, 3, 456); // beyond 32 bits
      const far = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
      await db.run('INSERT INTO items (id, email, at) VALUES ($1, $2, $3), ($4, $5, $6)', ['x', 'x@e', at, 'y', 'y@e', far]);
      const rows = await db.all<{ at: unknown }>('SELECT at FROM items ORDER BY at');
      expect(rows.map((r) => r.at)).toEqual([at, far]);
      expect(typeof rows[0]!.at).toBe('number');
      const count = await db.one<{ c: unknown }>('SELECT COUNT(*) AS c FROM items');
      expect(count!.c).toBe(2);
    });

    it('rejects a duplicate primary key and a duplicate UNIQUE column with UniqueViolation naming the constraint', async () => {
      const { db } = await database();
      await items(db);
      await db.run('INSERT INTO items (id, email) VALUES ($1, $2)', ['k', 'k@example.com']);
      const pk = await db.run('INSERT INTO items (id, email) VALUES ($1, $2)', ['k', 'other@example.com']).catch((e: unknown) => e);
      expect(pk).toBeInstanceOf(UniqueViolation);
      // PostgreSQL names the constraint (items_pkey), SQLite the columns (items.id).
      expect((pk as UniqueViolation).constraint).toMatch(db.dialect === 'postgres' ? /^items_pkey$/ : /^items\.id$/);
      const unique = await db.run('INSERT INTO items (id, email) VALUES ($1, $2)', ['k2', 'k@example.com']).catch((e: unknown) => e);
      expect(unique).toBeInstanceOf(UniqueViolation);
      expect((unique as UniqueViolation).constraint).toMatch(db.dialect === 'postgres' ? /^items_email_key$/ : /^items\.email$/);
      expect(await db.one('SELECT COUNT(*) AS c FROM items')).toEqual({ c: 1 });
      // ON CONFLICT is the way to not fail.
      expect(await db.run('INSERT INTO items (id, email) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', ['k', 'z@e'])).toBe(0);
      const upserted = await db.one('INSERT INTO items (id, email) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET n = items.n + 1 RETURNING n', ['k', 'z@e']);
      expect(upserted).toEqual({ n: 1 });
    });

    it('commits a transaction that resolves, with its result', async () => {
      const { db, another } = await database();
      await items(db);
      const result = await db.transaction(async (tx) => {
        await tx.run('INSERT INTO items (id, email) VALUES ($1, $2)', ['t1', 't1@e']);
        await tx.run('INSERT INTO items (id, email) VALUES ($1, $2)', ['t2', 't2@e']);
        return tx.one<{ c: number }>('SELECT COUNT(*) AS c FROM items');
      });
      expect(result).toEqual({ c: 2 });
      const other = await another();
      expect(await other.all('SELECT id FROM items ORDER BY id')).toEqual([{ id: 't1' }, { id: 't2' }]);
    });

    it('rolls back a transaction whose work rejects, passing its own error on unchanged', async () => {
      const { db } = await database();
      await items(db);
      await db.run('INSERT INTO items (id, email, n) VALUES ($1, $2, $3)', ['keep', 'keep@e', 1]);
      // The work's own errors, whatever they look like: a plain one, a coded one, one carrying a
      // driver-like code (rethrown from elsewhere): none is the database's to translate.
      const own = [new Error('the caller changed its mind'), new GatewayError('ZG_ERR_TENANT_UNKNOWN'), Object.assign(new Error('from elsewhere'), { code: 'SQLITE_BUSY' }), Object.assign(new Error('from elsewhere'), { code: 'ECONNRESET' })];
      for (const error of own) {
        const seen = await db
          .transaction(async (tx) => {
            await tx.run('INSERT INTO items (id, email) VALUES ($1, $2)', ['gone', 'gone@e']);
            await tx.run('UPDATE items SET n = 99 WHERE id = $1', ['keep']);
            throw error;
          })
          .catch((e: unknown) => e);
        expect(seen).toBe(error);
      }
      expect(await db.all('SELECT id, n FROM items')).toEqual([{ id: 'keep', n: 1 }]);
      // A failed statement inside: its UniqueViolation reaches the caller, nothing of the work stays.
      const violation = await db
        .transaction(async (tx) => {
          await tx.run('UPDATE items SET n = 5 WHERE id = $1', ['keep']);
          await tx.run('INSERT INTO items (id, email) VALUES ($1, $2)', ['keep', 'dup@e']);
        })
        .catch((e: unknown) => e);
      expect(violation).toBeInstanceOf(UniqueViolation);
      expect(await db.all('SELECT id, n FROM items')).toEqual([{ id: 'keep', n: 1 }]);
      // And the handle is usable afterwards.
      await db.transaction((tx) => tx.run('UPDATE items SET n = 2 WHERE id = $1', ['keep']));
      expect(await db.one('SELECT n FROM items WHERE id = $1', ['keep'])).toEqual({ n: 2 });
    });

    it('loses no update when 20 concurrent transactions read-modify-write one row with SELECT ... FOR UPDATE', async () => {
      const { db, another } = await database();
      await db.run('CREATE TABLE counters (id TEXT PRIMARY KEY, n INTEGER NOT NULL)');
      await db.run('INSERT INTO counters (id, n) VALUES ($1, 0)', ['c']);
      const handles = [db, await another(), await another()];
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          handles[i % handles.length]!.transaction(async (tx) => {
            const row = await tx.one<{ n: number }>('SELECT n FROM counters WHERE id = $1 FOR UPDATE', ['c']);
            await sleep(2); // others run meanwhile: a lost update would show
            await tx.run('UPDATE counters SET n = $1 WHERE id = $2', [row!.n + 1, 'c']);
          }),
        ),
      );
      expect(await db.one('SELECT n FROM counters WHERE id = $1', ['c'])).toEqual({ n: 20 });
    });

    const testMigrations: readonly Migration[] = [
      { version: 1, name: 'widgets', statements: ['CREATE TABLE widgets (id TEXT PRIMARY KEY, applied_by TEXT)'] },
      // Not idempotent on purpose: applied twice, the primary key refuses it.
      { version: 2, name: 'first widget', statements: ["INSERT INTO widgets (id) VALUES ('w1')"] },
      { version: 3, name: 'widget size', statements: ['ALTER TABLE widgets ADD COLUMN size INTEGER'] },
    ];

    it('applies each migration exactly once when 3 handles migrate at the same time', async () => {
      const { db, another } = await database();
      const handles = [db, await another(), await another()];
      const results = await Promise.all(handles.map((h) => migrate(h, testMigrations)));
      const applied = results.flat().map((m) => m.version).sort();
      expect(applied).toEqual([1, 2, 3]);
      // All of them in one transaction: one handle applied all three, the others found nothing to do.
      expect(results.map((r) => r.length).sort()).toEqual([0, 0, 3]);
      expect(await db.all('SELECT id, size FROM widgets')).toEqual([{ id: 'w1', size: null }]);
      expect(await migrate(handles[1]!, testMigrations)).toEqual([]);
      const status = await migrationStatus(db, testMigrations);
      expect(status.pending).toEqual([]);
      expect(status.applied.map(({ version, name }) => ({ version, name }))).toEqual(testMigrations.map(({ version, name }) => ({ version, name })));
    });

    it('reports applied and pending migrations', async () => {
      const { db } = await database();
      expect(await migrationStatus(db, testMigrations)).toEqual({
        applied: [],
        pending: testMigrations.map(({ version, name }) => ({ version, name })),
      });
      const before = Date.now();
      expect((await migrate(db, testMigrations.slice(0, 1))).map((m) => m.version)).toEqual([1]);
      const status = await migrationStatus(db, testMigrations);
      expect(status.applied).toEqual([{ version: 1, name: 'widgets', appliedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }]);
      expect(Date.parse(status.applied[0]!.appliedAt)).toBeGreaterThanOrEqual(before - 1000);
      expect(status.pending).toEqual([{ version: 2, name: 'first widget' }, { version: 3, name: 'widget size' }]);
      expect((await migrate(db, testMigrations)).map((m) => m.version)).toEqual([2, 3]);
    });

    it('rolls back every migration of a run when one fails', async () => {
      const { db } = await database();
      const broken: Migration[] = [...testMigrations.slice(0, 2), { version: 3, name: 'broken', statements: ['ALTER TABLE no_such_table ADD COLUMN x INTEGER'] }];
      await expect(migrate(db, broken)).rejects.toThrow();
      expect((await migrationStatus(db, testMigrations)).applied).toEqual([]);
      expect((await migrate(db, testMigrations)).map((m) => m.version)).toEqual([1, 2, 3]);
    });

    it('refuses a database whose schema is newer than this build, changing nothing', async () => {
      const { db } = await database();
      await migrate(db, testMigrations);
      const older = testMigrations.slice(0, 2);
      const refused = await migrate(db, older).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error).message).toBe(
        'the records database has schema version 3, newer than this zonegate knows (2): run the newer version, or restore a backup',
      );
      expect((await migrationStatus(db, testMigrations)).applied.map((m) => m.version)).toEqual([1, 2, 3]);
    });

    it('answers ping, and rejects with ZG_ERR_DATABASE_UNAVAILABLE once closed', async () => {
      const { db } = await database();
      await expect(db.ping()).resolves.toBeUndefined();
      await db.close();
      await db.close(); // idempotent
      for (const call of [() => db.ping(), () => db.one('SELECT 1 AS ok'), () => db.transaction((tx) => tx.run('SELECT 1'))]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(GatewayError);
        expect((err as GatewayError).code).toBe('ZG_ERR_DATABASE_UNAVAILABLE');
        expect((err as GatewayError).status).toBe(503);
      }
    });
  });
}
