import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../log.js';
import { fileProblem, redactedUrl, rootCause } from '../storage/open-problems.js';
import { claimInstallation, SecretKeyMismatch, type Installation } from './installation.js';
import { migrate } from './migrate.js';
import { openPostgresRecords } from './postgres.js';
import { MIGRATIONS, type Migration } from './schema.js';
import { openSqliteRecords } from './sqlite.js';
import type { RecordsDatabase } from './types.js';

/**
 * TLS to PostgreSQL, with libpq's levels of checking (sslmode): `full` the chain and the host name
 * (verify-full), `ca` the chain only (verify-ca), `none` encryption only (require without a CA).
 */
export interface PostgresTls {
  /** PEM certificates trusted instead of the system's (a binding's `sslrootcert`). */
  ca?: string;
  /** PEM client certificate and its key (a binding's `sslcert` and `sslkey`). */
  cert?: string;
  key?: string;
  verify: 'full' | 'ca' | 'none';
}

/**
 * Where the records are (Settings.records): the embedded SQLite file by default, PostgreSQL from
 * DATABASE_URL or a PostgreSQL binding (src/config/records.ts). With `ssl`, the connection string
 * carries no TLS parameters: they would override it (pg lets the URL win).
 */
export type RecordsConfig =
  | { kind: 'sqlite'; file: string }
  | { kind: 'postgres'; connectionString: string; ssl?: PostgresTls };

/**
 * The records database could not be opened or brought to this build's schema. Its message is the one
 * line an operator needs: which file or URL (password hidden), and why (start-up and `zonegate db`
 * print it instead of a stack trace, as StorageOpenError).
 */
export class RecordsOpenError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'RecordsOpenError';
  }
}

export interface OpenRecordsOptions {
  /** Apply pending migrations (default true); `zonegate db status` and `db migrate` look first. */
  migrate?: boolean;
  /** The schema to migrate to (default the build's, MIGRATIONS); tests give their own. */
  migrations?: readonly Migration[];
}

/**
 * Opens the configured records database, checks that it answers, and applies pending migrations
 * (safe when several instances start at once). Rejects with a RecordsOpenError; nothing stays open.
 */
export async function openRecords(config: RecordsConfig, logger?: Logger, options: OpenRecordsOptions = {}): Promise<RecordsDatabase> {
  let db: RecordsDatabase | undefined;
  try {
    db = openBackend(config, logger);
    await db.ping();
  } catch (err) {
    await db?.close().catch(() => undefined);
    throw new RecordsOpenError(`cannot open the records database ${describeRecords(config)}: ${openProblem(config, err)}`, { cause: err });
  }
  if (options.migrate !== false) {
    try {
      const applied = await migrateRecords(db, config, options.migrations);
      if (applied.length > 0) logger?.info('records database migrated', { kind: config.kind, applied: applied.map((m) => `${m.version} ${m.name}`) });
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
  }
  return db;
}

/**
 * Applies the pending migrations (src/records/migrate.ts) of an open database; resolves with those it
 * applied. Rejects with a RecordsOpenError: a schema newer than this build, a failing migration.
 */
export async function migrateRecords(db: RecordsDatabase, config: RecordsConfig, migrations: readonly Migration[] = MIGRATIONS): Promise<Migration[]> {
  try {
    return await migrate(db, migrations);
  } catch (err) {
    throw new RecordsOpenError(`cannot migrate the records database ${describeRecords(config)}: ${openProblem(config, err)}`, { cause: err });
  }
}

/**
 * Claims the installation row at start (./installation.ts), before the server listens. `secretKey` is
 * the key this instance seals with, if it seals anything, and `keySource` what the operator calls it
 * (ZONEGATE_SECRET_KEY, or the generated development key's file). Rejects with a RecordsOpenError
 * that names the variable, never the key, when the database was set up with another one.
 */
export async function claimRecordsInstallation(
  db: RecordsDatabase,
  config: RecordsConfig,
  options: { secretKey?: Uint8Array; keySource?: string } = {},
): Promise<Installation> {
  try {
    return await claimInstallation(db, options.secretKey ? { secretKey: options.secretKey } : {});
  } catch (err) {
    if (err instanceof SecretKeyMismatch) {
      throw new RecordsOpenError(
        `refusing to start: the records database ${describeRecords(config)} was set up on ${err.initialisedAt} with another secret key than ` +
          `${options.keySource ?? 'ZONEGATE_SECRET_KEY'}, so this instance cannot open the signing keys and client secrets sealed in it. ` +
          'Start every instance with the ZONEGATE_SECRET_KEY the database was set up with',
        { cause: err },
      );
    }
    throw new RecordsOpenError(`cannot read the installation row of the records database ${describeRecords(config)}: ${openProblem(config, err)}`, { cause: err });
  }
}

/** The database as an operator names it: the file, or the URL without its password. */
export function describeRecords(config: RecordsConfig): string {
  return config.kind === 'sqlite'
    ? `${config.file} (ZONEGATE_DATA_DIR)`
    : `at ${redactedUrl(config.connectionString, 'DATABASE_URL')}${config.ssl ? ` (TLS, verify ${config.ssl.verify})` : ''}`;
}

function openProblem(config: RecordsConfig, err: unknown): string {
  return config.kind === 'sqlite' ? fileProblem(err) : rootCause(err).message;
}

function openBackend(config: RecordsConfig, logger: Logger | undefined): RecordsDatabase {
  switch (config.kind) {
    case 'sqlite':
      return openSqliteRecords({ file: config.file });
    case 'postgres':
      return openPostgresRecords({
        connectionString: config.connectionString,
        ...(config.ssl ? { ssl: tlsOptions(config.ssl) } : {}),
        onConnectionError: (err) => logger?.warn('records database connection lost', { error: err.message }),
      });
  }
}

/** libpq's sslmode levels as Node's TLS options. */
export function tlsOptions(tls: PostgresTls): ConnectionOptions {
  return {
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
    rejectUnauthorized: tls.verify !== 'none',
    // verify-ca: a certificate of the trusted CA, whatever host name it carries.
    ...(tls.verify === 'ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

export { installationIntact, secretKeyCheck, type Installation } from './installation.js';
export { migrate, migrationStatus, type MigrationStatus } from './migrate.js';
export { MIGRATIONS, type Migration } from './schema.js';
export { databaseUnavailable, UniqueViolation, type Queries, type RecordsDatabase, type Row, type SqlValue } from './types.js';
