import type { Queries, RecordsDatabase } from './types.js';
import { MIGRATIONS, type Migration } from './schema.js';

export interface MigrationStatus {
  applied: { version: number; name: string; appliedAt: string }[];
  pending: { version: number; name: string }[];
}

// One fixed key for PostgreSQL's advisory lock: every instance starting at once queues on it, and the
// first applies the migrations while the others wait and then find nothing left to do.
const ADVISORY_LOCK_KEY = 0x7a67_0001; // "zg" 1

const CREATE_LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`;

async function lockAndReadLedger(tx: Queries, dialect: RecordsDatabase['dialect']): Promise<Set<number>> {
  // SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE). PostgreSQL: DDL is
  // transactional, and the transaction-scoped advisory lock is released by COMMIT or ROLLBACK.
  if (dialect === 'postgres') await tx.one('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCK_KEY]);
  await tx.run(CREATE_LEDGER);
  const rows = await tx.all<{ version: number }>('SELECT version FROM schema_migrations');
  return new Set(rows.map((r) => Number(r.version)));
}

/**
 * Applies the pending migrations, in order, in one transaction: all of them or none. Safe when several
 * instances start at once. Returns the migrations this call applied. A database whose schema is newer
 * than this build (a version this build does not know) is refused: an older instance must not write
 * records it no longer understands.
 */
export async function migrate(db: RecordsDatabase, migrations: readonly Migration[] = MIGRATIONS): Promise<Migration[]> {
  return db.transaction(async (tx) => {
    const applied = await lockAndReadLedger(tx, db.dialect);
    const newer = newerSchemaProblem(applied, migrations);
    if (newer !== undefined) throw new Error(newer);
    const pending = migrations.filter((m) => !applied.has(m.version)).sort((a, b) => a.version - b.version);
    for (const migration of pending) {
      for (const statement of migration.statements) await tx.run(statement);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        new Date().toISOString(),
      ]);
    }
    return pending;
  });
}

/**
 * Why a database is refused, when the ledger holds versions this build does not know (a newer
 * zonegate migrated it); undefined when it holds none.
 */
export function newerSchemaProblem(applied: Iterable<number>, migrations: readonly Migration[]): string | undefined {
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...applied].filter((v) => !known.has(v));
  if (unknown.length === 0) return undefined;
  return `the records database has schema version ${Math.max(...unknown)}, newer than this zonegate knows (${Math.max(0, ...known)}): run the newer version, or restore a backup`;
}

/**
 * What is applied and what is pending (`zonegate db status`); changes nothing but the ledger table's
 * existence. Takes the migration lock like migrate(): a status read while another instance migrates
 * waits for it (and PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent one).
 */
export async function migrationStatus(db: RecordsDatabase, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationStatus> {
  const rows = await db.transaction(async (tx) => {
    await lockAndReadLedger(tx, db.dialect);
    return tx.all<{ version: number; name: string; applied_at: string }>('SELECT version, name, applied_at FROM schema_migrations ORDER BY version');
  });
  const applied = new Set(rows.map((r) => Number(r.version)));
  return {
    applied: rows.map((r) => ({ version: Number(r.version), name: r.name, appliedAt: r.applied_at })),
    pending: migrations.filter((m) => !applied.has(m.version)).map(({ version, name }) => ({ version, name })),
  };
}
