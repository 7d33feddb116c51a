import { GatewayError } from '../errors.js';

/**
 * The records contract: the relational database that holds what must never be lost (zones, users and
 * their password hashes, role collections and assignments, applications and clients, signing keys,
 * tenants). Two backends implement it: SQLite (embedded default, nothing to install) and PostgreSQL
 * (several instances; DATABASE_URL or a PostgreSQL service binding). What is shared and short-lived
 * (sessions, codes, pending logins, refresh-token families, throttles, locks, change notices) stays in
 * the key/TTL Storage (src/storage/), Redis or SQLite.
 *
 * SQL is written once for both dialects:
 * - placeholders are `$1`, `$2`, ... (PostgreSQL's; the SQLite backend rewrites them);
 * - column types TEXT, INTEGER and BIGINT (epoch milliseconds; both backends return numbers);
 *   booleans as INTEGER 0/1; structured values as JSON in TEXT;
 * - `INSERT ... ON CONFLICT ... DO NOTHING | DO UPDATE` and `RETURNING` (SQLite >= 3.35);
 * - `SELECT ... FOR UPDATE` locks the rows read in a PostgreSQL transaction; SQLite drops the clause
 *   (its transactions take the write lock up front, BEGIN IMMEDIATE).
 * Uniqueness is the database's: a UNIQUE or PRIMARY KEY constraint, violated, rejects with
 * UniqueViolation; never read-then-write.
 */
export type SqlValue = string | number | null;
export type Row = Record<string, unknown>;

export interface Queries {
  /** Every row of a query. */
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row, or undefined. */
  one<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface RecordsDatabase extends Queries {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it rejects (the
   * rejection is passed on). Statements of `work` must go through `tx`; the database handle itself
   * waits until the transaction ends (SQLite) or uses another connection (PostgreSQL).
   */
  transaction<T>(work: (tx: Queries) => Promise<T>): Promise<T>;
  /** Resolves when the database answers; rejects with ZG_ERR_DATABASE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A UNIQUE or PRIMARY KEY constraint refused a write; `constraint` names it where the backend says. */
export class UniqueViolation extends Error {
  readonly constraint: string | undefined;
  constructor(message: string, constraint: string | undefined, options: { cause: unknown }) {
    super(message, options);
    this.name = 'UniqueViolation';
    this.constraint = constraint;
  }
}

/** What every backend throws when it cannot reach its database: logins and admin calls answer 503. */
export function databaseUnavailable(cause: unknown): GatewayError {
  return new GatewayError('ZG_ERR_DATABASE_UNAVAILABLE', 'The records database is unavailable', { cause, expose: true });
}
