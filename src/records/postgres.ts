import pg from 'pg';
import { databaseUnavailable, UniqueViolation } from './types.js';
import type { Queries, RecordsDatabase, Row, SqlValue } from './types.js';

export interface PostgresRecordsOptions {
  /** `postgres://user:password@host:5432/db?sslmode=require` */
  connectionString: string;
  /** TLS for the connection (a PostgreSQL service binding's CA and client certificate); unset: as the URL says. */
  ssl?: pg.PoolConfig['ssl'];
  /** Connections per instance (default 10). */
  maxConnections?: number;
  /** How long to wait for a connection before answering 503 (default 3000 ms). */
  connectTimeoutMs?: number;
  /** A statement running longer is cancelled by the server (default 10000 ms). */
  statementTimeoutMs?: number;
  /** Idle connections that fail (the server restarted) are reported here; the pool replaces them. */
  onConnectionError?: (err: Error) => void;
}

// SQLSTATE classes that mean "the database cannot serve now", not a bug in the statement:
// 08 connection exception, 28 invalid authorization (the credentials were rotated or revoked),
// 3D invalid catalog name (the database is gone), 53 insufficient resources, 57 operator
// intervention (admin shutdown, crash shutdown, cannot connect now), 58 system error.
// https://www.postgresql.org/docs/current/errcodes-appendix.html
const UNAVAILABLE_SQLSTATE = /^(08|28|3D|53|57|58)/;
// Five characters, digits among them (`42P01`, `XX000`); Node's socket codes (`EPIPE`) have none.
const SQLSTATE = /^(?=.*\d)[0-9A-Z]{5}$/;

function translateError(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (code === '23505') {
    return new UniqueViolation((err as Error).message, (err as { constraint?: string }).constraint, { cause: err });
  }
  // Errors without a SQLSTATE come from the socket, TLS or the pool: refused, reset, timed out,
  // terminated, a certificate that does not verify (UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_TLS_*).
  if (typeof code !== 'string' || !SQLSTATE.test(code) || UNAVAILABLE_SQLSTATE.test(code)) return databaseUnavailable(err);
  return err;
}

// BIGINT (int8) arrives as a string by default; epoch milliseconds fit a double exactly.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function queriesOf(client: pg.Pool | pg.PoolClient): Queries {
  const query = async (sql: string, params: readonly SqlValue[] = []) => {
    try {
      return await client.query(sql, params as SqlValue[]);
    } catch (err) {
      throw translateError(err);
    }
  };
  return {
    all: async <T extends Row>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows as T[],
    one: async <T extends Row>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rowCount ?? 0,
  };
}

/** Records in PostgreSQL, through a connection pool; nothing is cached in the process. */
export function openPostgresRecords(options: PostgresRecordsOptions): RecordsDatabase {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
    statement_timeout: options.statementTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'zonegate',
    types,
  });
  // An idle connection that breaks (server restart) emits 'error' on the pool; unhandled, it would end
  // the process. The pool drops that connection and opens a new one on the next query.
  pool.on('error', (err) => options.onConnectionError?.(err));
  const direct = queriesOf(pool);

  return {
    dialect: 'postgres',
    ...direct,
    async transaction<T>(work: (tx: Queries) => Promise<T>): Promise<T> {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw translateError(err);
      }
      const tx = queriesOf(client);
      let broken: Error | undefined;
      // A checked-out connection has no listener of the pool's: when the server goes away it emits
      // 'error', which unheard would end the process. The statement in flight rejects by itself.
      const onError = (err: Error) => {
        broken = err;
        options.onConnectionError?.(err);
      };
      client.on('error', onError);
      try {
        await tx.run('BEGIN');
        const result = await work(tx);
        await tx.run('COMMIT');
        return result;
      } catch (err) {
        // Statements of `tx` already rejected with translated errors; anything else is the caller's own.
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError as Error;
        }
        throw err;
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: destroy it rather than reuse it.
        client.off('error', onError);
        client.release(broken);
      }
    },
    async ping() {
      await direct.one('SELECT 1 AS ok');
    },
    async close() {
      if (pool.ended) return;
      await pool.end();
    },
  };
}
