/**
 * `zonegate db migrate|status`: the records database's schema (issue 19), for deployments that
 * migrate in a step of their own before the instances start (start-up migrates too, under the same
 * lock, so this step is optional).
 *
 * Exit codes: 0 done (status: up to date), 1 refused or failed (message on `err`), 2 usage error,
 * 3 `status` with migrations pending: non-zero as `prisma migrate status` exits, and apart from 1
 * so a pipeline can tell "needs `db migrate`" from "cannot reach the database".
 */
import type { Logger } from '../log.js';
import { describeRecords, migrateRecords, openRecords, RecordsOpenError, type RecordsConfig } from './index.js';
import { migrationStatus, newerSchemaProblem } from './migrate.js';
import { MIGRATIONS, type Migration } from './schema.js';
import type { RecordsDatabase } from './types.js';

export const DB_USAGE = `Usage:
  zonegate db migrate
  zonegate db status`;

export const PENDING_EXIT_CODE = 3;

export interface DbCliIo {
  records: RecordsConfig;
  logger?: Logger;
  out: (line: string) => void;
  err: (line: string) => void;
  /** The schema (default the build's); tests give their own. */
  migrations?: readonly Migration[];
}

export type DbCommand = 'migrate' | 'status';

/**
 * `args`: what follows `db`. The command, or the exit code when there is none to run (help, usage
 * error), before the settings are read: help needs no valid environment.
 */
export function parseDbCommand(args: readonly string[], io: Pick<DbCliIo, 'out' | 'err'>): DbCommand | number {
  const [command, ...rest] = args;
  if (command === 'help' || command === '--help' || command === '-h' || rest.some((a) => a === '--help' || a === '-h')) {
    io.out(DB_USAGE);
    return 0;
  }
  if (command !== 'migrate' && command !== 'status') {
    io.err(`zonegate: ${command === undefined ? 'No command given' : `Unknown command: db ${command}`}\n${DB_USAGE}`);
    return 2;
  }
  if (rest.length > 0) {
    io.err(`zonegate: db ${command} takes no arguments, got "${rest.join(' ')}"\n${DB_USAGE}`);
    return 2;
  }
  return command;
}

export async function runDbCommand(command: DbCommand, io: DbCliIo): Promise<number> {
  const migrations = io.migrations ?? MIGRATIONS;
  let db: RecordsDatabase | undefined;
  try {
    db = await openRecords(io.records, io.logger, { migrate: false });
    return command === 'migrate' ? await migrateCommand(db, io, migrations) : await statusCommand(db, io, migrations);
  } catch (err) {
    if (err instanceof RecordsOpenError) {
      io.err(`zonegate: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await db?.close();
  }
}

async function migrateCommand(db: RecordsDatabase, io: DbCliIo, migrations: readonly Migration[]): Promise<number> {
  const applied = await migrateRecords(db, io.records, migrations);
  io.out(`Records database ${describeRecords(io.records)}`);
  for (const m of applied) io.out(`Applied ${m.version} ${m.name}`);
  io.out(applied.length === 0 ? `Up to date: ${schemaVersion(migrations)}.` : `Up to date now: ${schemaVersion(migrations)}.`);
  return 0;
}

async function statusCommand(db: RecordsDatabase, io: DbCliIo, migrations: readonly Migration[]): Promise<number> {
  const status = await migrationStatus(db, migrations);
  const known = new Set(migrations.map((m) => m.version));
  io.out(`Records database ${describeRecords(io.records)}`);
  io.out(status.applied.length === 0 ? 'Applied: none' : 'Applied:');
  for (const m of status.applied) io.out(`  ${m.version} ${m.name}  ${m.appliedAt}${known.has(m.version) ? '' : '  (unknown to this zonegate)'}`);
  io.out(status.pending.length === 0 ? 'Pending: none' : 'Pending:');
  for (const m of status.pending) io.out(`  ${m.version} ${m.name}`);
  const newer = newerSchemaProblem(status.applied.map((m) => m.version), migrations);
  if (newer !== undefined) {
    io.err(`zonegate: ${newer}`);
    return 1;
  }
  if (status.pending.length > 0) {
    io.out(`${status.pending.length} migration${status.pending.length === 1 ? '' : 's'} pending: run \`zonegate db migrate\` (start-up applies them too).`);
    return PENDING_EXIT_CODE;
  }
  io.out(`Up to date: ${schemaVersion(migrations)}.`);
  return 0;
}

function schemaVersion(migrations: readonly Migration[]): string {
  return migrations.length === 0 ? 'no migrations in this build' : `schema version ${Math.max(...migrations.map((m) => m.version))}`;
}
