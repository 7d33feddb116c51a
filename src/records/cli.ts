/**
 * `zonegate db migrate|status`: the records database's schema (issue 19), for deployments that
 * migrate in a step of their own before the instances start (start-up migrates too, under the same
 * lock, so this step is optional). `zonegate db import`: the records of an earlier release's store
 * copied into the records database (./import.ts).
 *
 * Exit codes: 0 done (status: up to date), 1 refused or failed (message on `err`), 2 usage error,
 * 3 `status` with migrations pending: non-zero as `prisma migrate status` exits, and apart from 1
 * so a pipeline can tell "needs `db migrate`" from "cannot reach the database"; 4 `import` finished
 * but left records behind (conflicts, unreadable records), apart from 1 for the same reason.
 */
import fs from 'node:fs';
import { commandUsage, isHelp, parseCommand, pickSubcommand, UsageError, type CommandGroup, type CommandSpec, type HelpRequest } from '../cli/args.js';
import type { Logger } from '../log.js';
import { describeConnection, openStorage, StorageOpenError, type StorageConfig } from '../storage/index.js';
import { redactedUrl } from '../storage/open-problems.js';
import { redisConnectionFromUrl } from '../storage/redis.js';
import type { Storage } from '../storage/types.js';
import { IMPORT_KIND_LABELS, IMPORT_KINDS, importRecords, type ImportReport } from './import.js';
import { describeRecords, migrateRecords, openRecords, RecordsOpenError, type RecordsConfig } from './index.js';
import { migrationStatus, newerSchemaProblem } from './migrate.js';
import { MIGRATIONS, type Migration } from './schema.js';
import type { RecordsDatabase } from './types.js';

export const PENDING_EXIT_CODE = 3;
export const IMPORT_INCOMPLETE_EXIT_CODE = 4;

type DbCommandName = 'migrate' | 'status' | 'import';

const SPECS: Record<DbCommandName, CommandSpec> = {
  migrate: {
    name: 'db migrate',
    details: 'Applies the pending migrations of the records database (start-up does too) and prints them, or "Up to date".',
  },
  status: {
    name: 'db status',
    details: `Lists the applied and the pending migrations; exits ${PENDING_EXIT_CODE} when any are pending, 1 when the database cannot be reached.`,
  },
  import: {
    name: 'db import',
    synopsis: '[--from redis://HOST[:PORT][/DB] | --from FILE]',
    details: `Copies, once, what an earlier release kept in the store (REDIS_URL, else <data dir>/zonegate.db; or
--from) into the records database, never overwriting; exits ${IMPORT_INCOMPLETE_EXIT_CODE} when anything was left behind.`,
    options: { from: { type: 'string' } },
  },
};

export const DB_USAGE = `Usage:
${Object.values(SPECS).map((spec) => `  zonegate ${spec.name}${spec.synopsis ? ` ${spec.synopsis}` : ''}`).join('\n')}`;

export const DB_GROUP: CommandGroup = { name: 'db', subcommands: Object.keys(SPECS), usage: DB_USAGE };

export interface DbCliIo {
  records: RecordsConfig;
  logger?: Logger;
  out: (line: string) => void;
  err: (line: string) => void;
  /** The schema (default the build's); tests give their own. */
  migrations?: readonly Migration[];
  /** `db import`: the configured store (Settings.storage), read when no `--from` is given. */
  storage?: StorageConfig;
  /** `db import`: ZONEGATE_SECRET_KEY, which opens the store's sealed secrets and seals the clear ones. */
  secretKey?: Uint8Array;
}

/** `db import`, with `--from` when given: a redis:// or rediss:// URL, or a SQLite store file. */
export interface DbImportCommand {
  name: 'import';
  from?: string;
}

export type DbCommand = 'migrate' | 'status' | DbImportCommand;

/**
 * `args`: what follows `db`. The command to run, or help, before the settings are read: help needs
 * no valid environment. Throws UsageError.
 */
export function parseDbCommand(args: readonly string[]): DbCommand | HelpRequest {
  const picked = pickSubcommand(DB_GROUP, args);
  if (isHelp(picked)) return picked;
  const name = picked.name as DbCommandName;
  const parsed = parseCommand(SPECS[name], picked.rest);
  if (isHelp(parsed)) return parsed;
  if (name !== 'import') return name;
  const from = parsed.values.from as string | undefined;
  if (from === '') throw new UsageError('zonegate db import: --from needs a redis:// URL or a file', commandUsage(SPECS.import));
  return { name: 'import', ...(from !== undefined ? { from } : {}) };
}

export async function runDbCommand(command: DbCommand, io: DbCliIo): Promise<number> {
  if (typeof command === 'object') return importCommand(command, io);
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

/**
 * The store `db import` reads: `--from` (a redis:// URL, or a SQLite store file), else the configured
 * one. A file must exist: opening a missing one would create an empty store and import nothing.
 */
export function importSource(from: string | undefined, configured: StorageConfig | undefined): StorageConfig {
  if (from === undefined) {
    if (!configured) throw new Error('no store is configured');
    return configured;
  }
  if (/^rediss?:/i.test(from)) {
    try {
      return { kind: 'redis', connection: redisConnectionFromUrl(from) };
    } catch (err) {
      throw new Error(`--from ${redactedUrl(from, '--from')}: ${(err as Error).message}`, { cause: err });
    }
  }
  return { kind: 'sqlite', file: from };
}

/** The store as the report names it, without a password. */
export function describeSource(config: StorageConfig): string {
  if (config.kind === 'sqlite') return `the SQLite store ${config.file}`;
  return `Redis at ${'url' in config ? redactedUrl(config.url, 'REDIS_URL') : describeConnection(config.connection)}`;
}

async function importCommand(command: DbImportCommand, io: DbCliIo): Promise<number> {
  let config: StorageConfig;
  try {
    config = importSource(command.from, io.storage);
  } catch (err) {
    io.err(`zonegate: db import: ${(err as Error).message}`);
    return 1;
  }
  if (config.kind === 'sqlite' && !fs.existsSync(config.file)) {
    io.err(`zonegate: db import: no store at ${config.file}${command.from === undefined ? ' (ZONEGATE_DATA_DIR)' : ''}: nothing to import`);
    return 1;
  }
  let storage: Storage | undefined;
  let db: RecordsDatabase | undefined;
  try {
    storage = await openStorage(config, io.logger);
    db = await openRecords(io.records, io.logger, { migrate: false });
    const applied = await migrateRecords(db, io.records, io.migrations ?? MIGRATIONS);
    io.out(`Importing from ${describeSource(config)} into the records database ${describeRecords(io.records)}`);
    for (const m of applied) io.out(`Applied ${m.version} ${m.name}`);
    const report = await importRecords(storage, db, io.secretKey ? { secretKey: io.secretKey } : {});
    for (const line of formatImportReport(report)) io.out(line);
    return report.conflicts.length > 0 || report.unreadable.length > 0 ? IMPORT_INCOMPLETE_EXIT_CODE : 0;
  } catch (err) {
    if (err instanceof RecordsOpenError || err instanceof StorageOpenError) {
      io.err(`zonegate: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await storage?.close();
    await db?.close();
  }
}

/**
 * The report of `db import`: a table of what was copied, found already present, or left in conflict,
 * per kind; then each conflict and unreadable record by name (never a secret), and what to do next.
 */
export function formatImportReport(report: ImportReport): string[] {
  const width = Math.max(...IMPORT_KINDS.map((k) => IMPORT_KIND_LABELS[k].length));
  const row = (label: string, a: string | number, b: string | number, c: string | number) =>
    `  ${label.padEnd(width)}  ${String(a).padStart(6)}  ${String(b).padStart(15)}  ${String(c).padStart(9)}`;
  const lines = [row('', 'copied', 'already present', 'conflicts')];
  const total = { copied: 0, present: 0, conflicts: 0 };
  for (const kind of IMPORT_KINDS) {
    const c = report.counts[kind];
    lines.push(row(IMPORT_KIND_LABELS[kind], c.copied, c.present, c.conflicts));
    total.copied += c.copied;
    total.present += c.present;
    total.conflicts += c.conflicts;
  }
  if (report.conflicts.length > 0) {
    lines.push('Conflicts, not copied (the database keeps its own):');
    for (const c of report.conflicts) lines.push(`  ${c.name}: ${c.reason}`);
  }
  if (report.unreadable.length > 0) {
    lines.push('Unreadable in the store, not copied:');
    for (const u of report.unreadable) lines.push(`  ${u.key}: ${u.reason}`);
  }
  if (report.lastInstanceNumber !== undefined) lines.push(`Instance numbers: the next application registered gets !t${report.lastInstanceNumber + 1}.`);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push(
    `Copied ${plural(total.copied, 'record')}, ${total.present} already present, ${plural(total.conflicts, 'conflict')}${report.unreadable.length > 0 ? `, ${report.unreadable.length} unreadable` : ''}.`,
  );
  lines.push(
    total.conflicts + report.unreadable.length > 0
      ? 'Resolve the records above and run `zonegate db import` again: what is already present is skipped.'
      : 'Nothing left behind: running it again copies nothing.',
  );
  lines.push('The store was only read: once the gateway runs on the records database, delete its dir:*, zkeys:* and prov:tenant:* keys yourself.');
  return lines;
}
