/**
 * What went wrong opening a store, in the words an operator acts on: start-up prints one line
 * (StorageOpenError, RecordsOpenError) instead of a stack trace, and never a password.
 */

/** The innermost cause: storageUnavailable() and databaseUnavailable() wrap what the driver threw. */
export function rootCause(err: unknown): Error {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e : new Error(String(e));
}

// What the file system and SQLite say, in the words an operator acts on. SQLite reports a full disk
// or a read-only file system as its own result codes (https://sqlite.org/rescode.html).
const FILE_PROBLEMS: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  // mkdir of the data directory itself, where a file is.
  EEXIST: 'a file stands where the directory should be',
  ENOENT: 'the directory does not exist and cannot be created',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  SQLITE_FULL: 'no space left on the device',
  SQLITE_READONLY: 'the file is read-only',
  SQLITE_CANTOPEN: 'the file cannot be opened',
  SQLITE_NOTADB: 'the file is not an SQLite database',
  SQLITE_CORRUPT: 'the database file is corrupt',
};

export function fileProblem(err: unknown): string {
  const cause = rootCause(err) as NodeJS.ErrnoException;
  const code = typeof cause.code === 'string' ? cause.code : undefined;
  const known = code === undefined ? undefined : (FILE_PROBLEMS[code] ?? FILE_PROBLEMS[code.replace(/_[A-Z]+$/, '')]);
  const where = cause.path ? ` at ${cause.path}` : '';
  return known ? `${known}${where} (${code})` : `${cause.message}${where && !cause.message.includes(cause.path!) ? where : ''}`;
}

/** The URL without its password (and user name): start-up lines end up in shared logs. */
export function redactedUrl(url: string, variable: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.username) parsed.username = '***';
    // libpq takes them as parameters too: postgres://db.example.com/app?password=...
    for (const name of ['password', 'sslpassword']) if (parsed.searchParams.has(name)) parsed.searchParams.set(name, '***');
    return parsed.toString();
  } catch {
    return `(${variable} is not a URL)`;
  }
}
