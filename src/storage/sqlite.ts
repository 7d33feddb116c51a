import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { GatewayError } from '../errors.js';
import { storageUnavailable } from './types.js';
import type { AnnounceOptions, Storage, TtlOptions } from './types.js';
import { ttlMsOf } from './ttl.js';
import { PRIVATE_FILE_MODE, createPrivateFile, makePrivateDir } from './private-files.js';

export interface SqliteStorageOptions {
  /** Database file; `:memory:` for a private in-process store (tests). */
  file: string;
  /** How often expired rows are deleted (default 60 s). Reads never see them either way. */
  sweepIntervalMs?: number;
  /**
   * How long a call waits for another process's write lock before failing with
   * ZG_ERR_STORAGE_UNAVAILABLE (default 1000). better-sqlite3 waits synchronously, blocking the event
   * loop, so this stays short; writes here are single rows and finish in microseconds.
   */
  busyTimeoutMs?: number;
  /**
   * How long the change log keeps an announced change (default 2 min; the sweep prunes it): a process
   * that has not looked for changes for longer forgets everything it keeps instead
   * (Storage.onForeignChange). A gateway looks at least once a second (src/tenant/live-configurations.ts).
   */
  changeLogMs?: number;
  /** Clock, for tests of expiry; epoch milliseconds. */
  now?: () => number;
}

interface ValueRow {
  value: string;
  expires_at: number | null;
}

// SQLite result codes that mean "the store cannot serve right now", answered with a 503 like an
// unreachable Redis, as opposed to a programming error. https://sqlite.org/rescode.html
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|NOMEM|PROTOCOL)/;

/** How often another connection's writes are looked for (see changesTracked). */
const CHANGE_POLL_MS = 20;
const CHANGE_LOG_MS = 2 * 60_000;
/** A reader further behind than this many changes forgets everything instead of reading them one by one. */
const CHANGE_BACKLOG = 10_000;

// A rowid table, not WITHOUT ROWID: a WITHOUT ROWID row keeps at most about 1 KB on its b-tree page
// (https://sqlite.org/withoutrowid.html#when_to_use_without_rowid), so a session (~2.7 KB) spilled
// onto overflow pages, which SQLite reads with a system call each, bypassing its page cache: 23 µs
// per read of one of 10,000 sessions, against 7 µs from a rowid table (issue 18).
const KV_TABLE = (name: string) => `
  CREATE TABLE IF NOT EXISTS ${name} (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    expires_at INTEGER
  )`;

const SCHEMA = `
  ${KV_TABLE('kv')};
  CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
  CREATE TABLE IF NOT EXISTS idx (
    name TEXT NOT NULL,
    member TEXT NOT NULL,
    PRIMARY KEY (name, member)
  ) WITHOUT ROWID;
  -- The change log: every announced change, so that other processes on the file (zonegate start
  -- --workers) forget only what changed. A new row's seq is one more than the largest in the table
  -- (https://sqlite.org/autoinc.html), and pruning always keeps the newest row, so a sequence number
  -- is never handed out twice (without AUTOINCREMENT's extra page write per insert).
  CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    writer TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  -- The last sequence number pruned: a reader behind it may have missed changes.
  CREATE TABLE IF NOT EXISTS changes_pruned (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL
  );
`;

/**
 * Moves the rows of a store made by an earlier release, whose `kv` table was WITHOUT ROWID, into a
 * rowid table of the same name and columns (once, under the write lock: processes opening the file
 * together move it once; one of an earlier release still running re-reads the schema by itself).
 */
function moveToRowidTable(db: Database.Database): void {
  const isWithoutRowid = () =>
    /WITHOUT\s+ROWID/i.test(db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'kv'").get()?.sql ?? '');
  if (!isWithoutRowid()) return;
  db.transaction(() => {
    if (!isWithoutRowid()) return;
    db.exec(`${KV_TABLE('kv_rowid')};
      INSERT INTO kv_rowid (key, value, expires_at) SELECT key, value, expires_at FROM kv;
      DROP TABLE kv;
      ALTER TABLE kv_rowid RENAME TO kv;
      CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;`);
  }).immediate();
}

/**
 * The embedded backend: one SQLite file, usable by several processes on the same host (WAL lets
 * readers run beside the one writer; multi-statement updates take the write lock up front).
 * Rows carry an absolute expiry; an expired row is treated as absent by every read and deleted by a
 * periodic sweep, so correctness never depends on the sweep having run.
 */
export function openSqliteStorage(options: SqliteStorageOptions): Storage {
  const now = options.now ?? Date.now;
  const inMemory = options.file === ':memory:';
  // The file holds every zone, user and session: 0700 directory, 0600 file (./private-files.ts).
  // SQLite creates the -wal and -shm files with the database file's mode, so creating the database
  // file ourselves first settles all three.
  let created = false;
  if (!inMemory) {
    makePrivateDir(dirname(options.file));
    created = createPrivateFile(options.file);
  }

  let db: Database.Database;
  try {
    db = new Database(options.file, { timeout: options.busyTimeoutMs ?? 1000 });
    if (!inMemory) {
      db.pragma('journal_mode = WAL');
      // In WAL mode NORMAL stays consistent; a power loss may drop the last commits, which for
      // sessions and login state means a user logs in again, never a corrupt store.
      db.pragma('synchronous = NORMAL');
      if (created) {
        // SQLite's own rule, stated: a store this process created never has wider companions.
        for (const companion of ['-wal', '-shm']) {
          if (existsSync(options.file + companion)) chmodSync(options.file + companion, PRIVATE_FILE_MODE);
        }
      }
    }
    db.exec(SCHEMA);
    moveToRowidTable(db);
  } catch (err) {
    throw isUnavailable(err) ? storageUnavailable(err) : err;
  }

  const live = '(expires_at IS NULL OR expires_at > ?)';
  const q = {
    get: db.prepare<[string, number], ValueRow>(`SELECT value, expires_at FROM kv WHERE key = ? AND ${live}`),
    set: db.prepare<[string, string, number | null]>(
      `INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    ),
    // One statement: inserts, or replaces only a row that has already expired. `changes` is 1 exactly
    // when this call claimed the key.
    setIfAbsent: db.prepare<[string, string, number | null, number]>(
      `INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
       WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= ?`,
    ),
    // One statement: replaces only a live row; `changes` is 1 exactly when this call stored it.
    setIfPresent: db.prepare<[string, number | null, string, number]>(`UPDATE kv SET value = ?, expires_at = ? WHERE key = ? AND ${live}`),
    // One statement, so no other connection can write the row between the comparison and the update.
    setIfEquals: db.prepare<[string, number | null, string, string, number]>(`UPDATE kv SET value = ?, expires_at = ? WHERE key = ? AND value = ? AND ${live}`),
    // DELETE ... RETURNING reads and removes in one statement, so of two connections racing for a
    // single-use code only one gets a row back.
    take: db.prepare<[string], ValueRow>('DELETE FROM kv WHERE key = ? RETURNING value, expires_at'),
    // One statement, so no other connection can replace the row between the comparison and the delete;
    // an expired row counts as absent, as everywhere else.
    deleteIfEquals: db.prepare<[string, string, number]>(`DELETE FROM kv WHERE key = ? AND value = ? AND ${live}`),
    increment: db.prepare<[string, string, number | null]>(
      `INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    sweep: db.prepare<[number]>('DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?'),
    addToIndex: db.prepare<[string, string]>('INSERT OR IGNORE INTO idx (name, member) VALUES (?, ?)'),
    removeFromIndex: db.prepare<[string, string]>('DELETE FROM idx WHERE name = ? AND member = ?'),
    listIndex: db.prepare<[string], { member: string }>('SELECT member FROM idx WHERE name = ?'),
    deleteIndex: db.prepare<[string]>('DELETE FROM idx WHERE name = ?'),
    ping: db.prepare<[], { ok: number }>('SELECT 1 AS ok'),
    // Changes whenever another connection (another process) commits; never for this one's own
    // commits. https://sqlite.org/pragma.html#pragma_data_version
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    logChange: db.prepare<[string, string, number]>('INSERT INTO changes (key, writer, at) VALUES (?, ?, ?)'),
    changesSince: db.prepare<[number, number], { seq: number; key: string; writer: string }>('SELECT seq, key, writer FROM changes WHERE seq > ? ORDER BY seq LIMIT ?'),
    prunedThrough: db.prepare<[], number>('SELECT coalesce((SELECT through FROM changes_pruned WHERE id = 1), 0)').pluck(),
    lastChange: db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM changes').pluck(),
    lastPrunable: db.prepare<[number], number | null>('SELECT max(seq) FROM changes WHERE at <= ? AND seq < (SELECT max(seq) FROM changes)').pluck(),
    // Never the newest row: the next seq follows the largest one left.
    prune: db.prepare<[number]>('DELETE FROM changes WHERE seq <= ? AND seq < (SELECT max(seq) FROM changes)'),
    markPruned: db.prepare<[number]>('INSERT INTO changes_pruned (id, through) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET through = excluded.through'),
  };

  const expiresAt = (opts: TtlOptions | undefined): number | null => {
    const ttlMs = ttlMsOf(opts);
    return ttlMs === undefined ? null : now() + ttlMs;
  };
  const isLive = (row: ValueRow | undefined, at: number): row is ValueRow =>
    row !== undefined && (row.expires_at === null || row.expires_at > at);

  // IMMEDIATE takes the write lock before the read, so two processes incrementing the same counter
  // cannot both read n and both write n+1 (and cannot deadlock upgrading a read lock).
  const increment = db.transaction((key: string, ttl: TtlOptions | undefined): number => {
    const at = now();
    const row = q.get.get(key, at);
    if (row === undefined) {
      q.set.run(key, '1', expiresAt(ttl));
      return 1;
    }
    const current = Number(row.value);
    if (!Number.isSafeInteger(current) || String(current) !== row.value) {
      throw new TypeError(`increment: the value of ${JSON.stringify(key)} is not an integer`);
    }
    q.increment.run(key, String(current + 1), row.expires_at);
    return current + 1;
  });

  const decrement = db.transaction((key: string): number => {
    const at = now();
    const row = q.get.get(key, at);
    if (row === undefined) return 0;
    const current = Number(row.value);
    if (!Number.isSafeInteger(current) || String(current) !== row.value) {
      throw new TypeError(`decrement: the value of ${JSON.stringify(key)} is not an integer`);
    }
    if (current <= 1) {
      q.take.get(key);
      return 0;
    }
    q.increment.run(key, String(current - 1), row.expires_at);
    return current - 1;
  });

  // Changes older than the log keeps are dropped; the mark says up to where, so that a reader still
  // behind it knows it may have missed some (and forgets everything).
  const changeLogMs = options.changeLogMs ?? CHANGE_LOG_MS;
  const pruneChanges = db.transaction((before: number) => {
    const through = q.lastPrunable.get(before);
    if (through === null || through === undefined) return;
    q.prune.run(through);
    q.markPruned.run(through);
  });

  const sweep = () => {
    try {
      if (!db.open) return;
      q.sweep.run(now());
      pruneChanges.immediate(now() - changeLogMs);
    } catch {
      // A busy or failing store is reported by the next request that needs it; the sweep retries.
    }
  };
  const sweeper = setInterval(sweep, options.sweepIntervalMs ?? 60_000);
  sweeper.unref();

  // Change notices. Every announced change is written to the change log in the same transaction as
  // the change itself, and this process's listeners hear of it at once. Other connections' commits
  // show in data_version (it never moves for this connection's own): read at most every
  // CHANGE_POLL_MS (each read is a read transaction: two file-lock system calls), and only when it
  // moved is the log read, from where this handle left it. So another process's change is heard of,
  // by key, within that much, and writes nobody announced (logins, codes, counters) cost a cache
  // nothing; forget-everything is left for a reader that fell behind what the log keeps.
  const writer = randomUUID();
  const changeListeners: ((key: string | undefined) => void)[] = [];
  const tell = (key: string | undefined) => {
    for (const listener of changeListeners) listener(key);
  };
  let seenVersion = q.dataVersion.get();
  let seenChange = Math.max(q.lastChange.get()!, q.prunedThrough.get()!);
  let polledAt = 0;
  /** The changes logged since seenChange (at most one more than CHANGE_BACKLOG), read in one snapshot with the prune mark and the newest. */
  const readLog = db.transaction(() => ({ prunedThrough: q.prunedThrough.get()!, last: q.lastChange.get()!, rows: q.changesSince.all(seenChange, CHANGE_BACKLOG + 1) }));
  const changesTracked = (): boolean => {
    if (!db.open) return false;
    const at = performance.now();
    if (at - polledAt < CHANGE_POLL_MS) return true;
    try {
      const version = q.dataVersion.get()!;
      if (version !== seenVersion) {
        const { prunedThrough, last, rows } = readLog();
        // Only once the log has been read: a failed read is tried again at the next poll.
        seenVersion = version;
        if (prunedThrough > seenChange || rows.length > CHANGE_BACKLOG) {
          // Changes this handle did not read (pruned), or too many to go through one by one.
          seenChange = Math.max(prunedThrough, last);
          tell(undefined);
        } else {
          for (const row of rows) {
            seenChange = row.seq;
            if (row.writer !== writer) tell(row.key);
          }
        }
      }
    } catch {
      return false;
    }
    polledAt = at;
    return true;
  };

  // A write here is synchronous: it has landed, with its line in the change log, when the listeners
  // hear of it.
  const log = (key: string) => {
    q.logChange.run(key, writer, now());
  };
  /** Runs `write`, and logs `key` in the same transaction when it changed something (true). */
  const logged = db.transaction((key: string, write: () => boolean) => {
    if (write()) log(key);
  });
  const announced = <T>(key: string, opts: AnnounceOptions | undefined, write: () => T, changed: (result: T) => boolean): T => {
    if (!opts?.announce) return write();
    let result!: T;
    logged.immediate(key, () => changed((result = write())));
    if (changed(result)) tell(key);
    return result;
  };

  /** Runs `fn` as an async storage call: store failures become ZG_ERR_STORAGE_UNAVAILABLE. */
  const call = <T>(fn: () => T): Promise<T> => {
    try {
      if (!db.open) throw storageUnavailable(new Error('The SQLite storage is closed'));
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof GatewayError || !isUnavailable(err) ? err : storageUnavailable(err));
    }
  };

  return {
    kind: 'sqlite',
    get: (key) => call(() => q.get.get(key, now())?.value),
    set: (key, value, opts) =>
      call(() => {
        q.set.run(key, value, expiresAt(opts));
      }),
    setIfAbsent: (key, value, opts) =>
      call(() => {
        const at = now();
        const exp = expiresAt(opts);
        return q.setIfAbsent.run(key, value, exp, at).changes === 1;
      }),
    setIfPresent: (key, value, opts) =>
      call(() => {
        const at = now();
        const exp = expiresAt(opts);
        return announced(key, opts, () => q.setIfPresent.run(value, exp, key, at).changes === 1, (stored) => stored);
      }),
    setIfEquals: (key, expected, value, opts) =>
      call(() => {
        const at = now();
        const exp = expiresAt(opts);
        return announced(key, opts, () => q.setIfEquals.run(value, exp, key, expected, at).changes === 1, (stored) => stored);
      }),
    take: (key, opts) =>
      call(() => {
        const at = now();
        const row = announced(key, opts, () => q.take.get(key), (taken) => taken !== undefined);
        return isLive(row, at) ? row.value : undefined;
      }),
    delete: (key, opts) =>
      call(() => {
        const at = now();
        return isLive(
          announced(key, opts, () => q.take.get(key), (taken) => taken !== undefined),
          at,
        );
      }),
    deleteIfEquals: (key, expected) => call(() => q.deleteIfEquals.run(key, expected, now()).changes === 1),
    increment: (key, opts) => call(() => increment.immediate(key, opts)),
    decrement: (key) => call(() => decrement.immediate(key)),
    ttl: (key) =>
      call(() => {
        const at = now();
        const row = q.get.get(key, at);
        if (row === undefined) return undefined;
        return row.expires_at === null ? Infinity : row.expires_at - at;
      }),
    addToIndex: (index, member) =>
      call(() => {
        q.addToIndex.run(index, member);
      }),
    removeFromIndex: (index, member) =>
      call(() => {
        q.removeFromIndex.run(index, member);
      }),
    listIndex: (index) => call(() => q.listIndex.all(index).map((r) => r.member)),
    deleteIndex: (index) =>
      call(() => {
        q.deleteIndex.run(index);
      }),
    // A line in the change log, which other connections read once data_version moves.
    announce: (key) => {
      try {
        if (db.open) log(key);
      } catch {
        // The store cannot be written right now: the caller's own change could not have been either,
        // or it landed and this line did not; other processes then keep what they read for at most
        // their caches' own limits. Never a rejection (Storage.announce).
      }
      tell(key);
      return Promise.resolve();
    },
    onForeignChange: (listener) => {
      changeListeners.push(listener);
    },
    changesTracked,
    // data_version was read at polledAt (changesTracked reads it again when it is older than
    // CHANGE_POLL_MS): every other connection's commit before then has been heard of.
    changesHeardUntil: () => (db.open ? polledAt : -Infinity),
    ping: () =>
      call(() => {
        q.ping.get();
      }),
    close: async () => {
      clearInterval(sweeper);
      if (db.open) db.close();
    },
  };
}

function isUnavailable(err: unknown): boolean {
  return err instanceof Database.SqliteError && UNAVAILABLE_CODES.test(err.code);
}
