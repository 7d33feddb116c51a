import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { createPrivateFile, makePrivateDir } from '../storage/private-files.js';
import { databaseUnavailable, UniqueViolation } from './types.js';
import type { Queries, RecordsDatabase, Row, SqlValue } from './types.js';

export interface SqliteRecordsOptions {
  /** Database file; `:memory:` for a private in-process database (tests). */
  file: string;
  /**
   * How long a statement waits for another process's write lock (default 2000 ms). better-sqlite3
   * waits synchronously; record writes are a few rows and finish in well under a millisecond.
   */
  busyTimeoutMs?: number;
}

// Result codes that mean "the database cannot serve now" (503), not a bug. https://sqlite.org/rescode.html
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|NOMEM|PROTOCOL)/;
const UNIQUE_CODES = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);

/**
 * `$n` placeholders to SQLite's anonymous `?`, with the parameters in the order they appear; and
 * `FOR UPDATE` dropped (a SQLite transaction holds the write lock from its start, BEGIN IMMEDIATE).
 */
export function toSqlite(sql: string, params: readonly SqlValue[]): { sql: string; params: SqlValue[] } {
  const ordered: SqlValue[] = [];
  const text = sql
    .replace(/\s+FOR\s+UPDATE\b/gi, '')
    .replace(/\$(\d+)/g, (_, n: string) => {
      const index = Number(n) - 1;
      if (index < 0 || index >= params.length) throw new RangeError(`SQL parameter $${n} is not supplied (${params.length} given)`);
      ordered.push(params[index]!);
      return '?';
    });
  return { sql: text, params: ordered };
}

function translateError(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err;
  if (UNIQUE_CODES.has(code)) {
    // "UNIQUE constraint failed: users.zone_id, users.origin, users.user_name_lower"
    const columns = /failed: (.+)$/.exec((err as Error).message)?.[1];
    return new UniqueViolation((err as Error).message, columns, { cause: err });
  }
  if (UNAVAILABLE_CODES.test(code)) return databaseUnavailable(err);
  return err;
}

/**
 * The embedded records database: one SQLite file (WAL, several processes on one host may share it).
 * better-sqlite3 is synchronous, so one connection serves every caller of this process; a transaction
 * runs alone (the others queue behind it), since statements of concurrent callers on one connection
 * would otherwise land inside it.
 */
export function openSqliteRecords(options: SqliteRecordsOptions): RecordsDatabase {
  const inMemory = options.file === ':memory:';
  if (!inMemory) {
    // Users' password hashes and sealed keys: 0700 directory, 0600 file.
    makePrivateDir(dirname(options.file));
    createPrivateFile(options.file);
  }
  let db: Database.Database;
  try {
    db = new Database(options.file, { timeout: options.busyTimeoutMs ?? 2000 });
    if (!inMemory) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
  } catch (err) {
    throw translateError(err);
  }

  let closed = false;
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      if (statements.size > 500) statements.clear();
      statements.set(sql, statement);
    }
    return statement;
  };

  const direct: Queries = {
    async all<T extends Row>(sql: string, params: readonly SqlValue[] = []) {
      const q = toSqlite(sql, params);
      try {
        const statement = prepare(q.sql);
        return (statement.reader ? statement.all(...q.params) : (statement.run(...q.params), [])) as T[];
      } catch (err) {
        throw translateError(err);
      }
    },
    async one<T extends Row>(sql: string, params: readonly SqlValue[] = []) {
      const q = toSqlite(sql, params);
      try {
        const statement = prepare(q.sql);
        if (!statement.reader) {
          statement.run(...q.params);
          return undefined;
        }
        return statement.get(...q.params) as T | undefined;
      } catch (err) {
        throw translateError(err);
      }
    },
    async run(sql: string, params: readonly SqlValue[] = []) {
      const q = toSqlite(sql, params);
      try {
        return prepare(q.sql).run(...q.params).changes;
      } catch (err) {
        throw translateError(err);
      }
    },
  };

  // The tail of the queue: every call outside a transaction and every transaction waits for the one
  // before it, so nothing runs on the connection while a transaction is open but that transaction.
  let tail: Promise<unknown> = Promise.resolve();
  // A closed handle answers as an unreachable database does (503), not with better-sqlite3's TypeError:
  // callers that outlive it (a tenant registry falling back on what it last knew) tell the two apart.
  const queued = <T>(work: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(databaseUnavailable(new Error('the records database is closed')));
    const result = tail.then(work, work);
    tail = result.catch(() => undefined);
    return result;
  };

  return {
    dialect: 'sqlite',
    all: (sql, params) => queued(() => direct.all(sql, params)),
    one: (sql, params) => queued(() => direct.one(sql, params)),
    run: (sql, params) => queued(() => direct.run(sql, params)),
    transaction<T>(work: (tx: Queries) => Promise<T>): Promise<T> {
      return queued(async () => {
        try {
          db.exec('BEGIN IMMEDIATE');
        } catch (err) {
          throw translateError(err);
        }
        try {
          const result = await work(direct);
          db.exec('COMMIT');
          return result;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw translateError(err);
        }
      });
    },
    async ping() {
      if (closed) throw databaseUnavailable(new Error('the records database is closed'));
      await direct.one('SELECT 1 AS ok');
    },
    async close() {
      if (closed) return;
      closed = true;
      await tail;
      db.close();
    },
  };
}
