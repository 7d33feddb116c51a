// better-sqlite3 ships no type declarations and @types/better-sqlite3 is not installed; this covers
// only the part of its API that src/storage/sqlite.ts and src/records/sqlite.ts use. Delete it if @types/better-sqlite3 is added.
declare module 'better-sqlite3' {
  namespace Database {
    interface RunResult {
      changes: number;
      lastInsertRowid: number | bigint;
    }
    interface Statement<Params extends unknown[] = unknown[], Row = unknown> {
      run(...params: Params): RunResult;
      get(...params: Params): Row | undefined;
      all(...params: Params): Row[];
      /** Whether the statement returns rows (a SELECT, or a write with RETURNING). */
      readonly reader: boolean;
      /** Rows become their first column's value. */
      pluck(toggle?: boolean): this;
    }
    interface Transaction<F extends (...args: never[]) => unknown> {
      (...args: Parameters<F>): ReturnType<F>;
      deferred(...args: Parameters<F>): ReturnType<F>;
      immediate(...args: Parameters<F>): ReturnType<F>;
      exclusive(...args: Parameters<F>): ReturnType<F>;
    }
    interface Options {
      readonly?: boolean;
      fileMustExist?: boolean;
      /** Milliseconds to wait on a locked database before SQLITE_BUSY (default 5000). */
      timeout?: number;
    }
    interface Database {
      readonly open: boolean;
      readonly name: string;
      readonly inTransaction: boolean;
      prepare<Params extends unknown[] = unknown[], Row = unknown>(sql: string): Statement<Params, Row>;
      exec(sql: string): this;
      pragma(source: string, options?: { simple?: boolean }): unknown;
      transaction<F extends (...args: never[]) => unknown>(fn: F): Transaction<F>;
      close(): this;
    }
    interface SqliteErrorLike extends Error {
      code: string;
    }
  }
  interface DatabaseConstructor {
    new (filename: string, options?: Database.Options): Database.Database;
    SqliteError: new (message: string, code: string) => Database.SqliteErrorLike;
  }
  const Database: DatabaseConstructor;
  export = Database;
}
