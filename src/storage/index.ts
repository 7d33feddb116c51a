import type { Logger } from '../log.js';
import { openRedisStorage, type RedisConnection } from './redis.js';
import { openSqliteStorage } from './sqlite.js';
import type { Storage } from './types.js';

export type StorageConfig =
  | { kind: 'sqlite'; file: string }
  | ({ kind: 'redis'; keyPrefix?: string; connectTimeoutMs?: number; commandTimeoutMs?: number } & (
      | { url: string }
      | { connection: RedisConnection }
    ));

/** Default Redis key prefix, so zonegate can share a Redis instance with other applications. */
export const DEFAULT_REDIS_KEY_PREFIX = 'zonegate:';

/**
 * The store could not be opened at start-up. Its message is the one line an operator needs: which
 * file or URL, and why, in words (start-up prints it instead of a stack trace, src/cli.ts).
 */
export class StorageOpenError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'StorageOpenError';
  }
}

export interface OpenOptions {
  /**
   * Warn when the store cannot be the system of record: a Redis without persistence or with an
   * evicting maxmemory-policy. For the long-running servers; one-shot commands stay quiet.
   */
  checkDurability?: boolean;
}

/** Opens the configured backend; rejects with a StorageOpenError naming the file or URL and the cause. */
export async function openStorage(config: StorageConfig, logger?: Logger, options: OpenOptions = {}): Promise<Storage> {
  try {
    return await openBackend(config, logger, options);
  } catch (err) {
    throw new StorageOpenError(
      config.kind === 'sqlite'
        ? `cannot open the SQLite store ${config.file} (ZONEGATE_DATA_DIR): ${fileProblem(err)}`
        : `cannot use Redis at ${'url' in config ? redactedUrl(config.url) : describeConnection(config.connection)}: ${rootCause(err).message}`,
      { cause: err },
    );
  }
}

async function openBackend(config: StorageConfig, logger: Logger | undefined, options: OpenOptions): Promise<Storage> {
  switch (config.kind) {
    case 'sqlite':
      return openSqliteStorage({ file: config.file });
    case 'redis':
      return openRedisStorage({
        ...('connection' in config ? { connection: config.connection } : { url: config.url }),
        keyPrefix: config.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX,
        connectTimeoutMs: config.connectTimeoutMs,
        commandTimeoutMs: config.commandTimeoutMs,
        logger,
        ...(options.checkDurability ? { checkDurability: true } : {}),
      });
  }
}

export type { Storage, TtlOptions } from './types.js';
export { storageUnavailable } from './types.js';
export type { RedisConnection } from './redis.js';

/** The innermost cause: storageUnavailable() wraps what the driver threw. */
function rootCause(err: unknown): Error {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e : new Error(String(e));
}

// What the file system and SQLite say, in the words an operator acts on. SQLite reports a full disk
// or a read-only file system as its own result codes (https://sqlite.org/rescode.html).
const FILE_PROBLEMS: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
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

function fileProblem(err: unknown): string {
  const cause = rootCause(err) as NodeJS.ErrnoException;
  const code = typeof cause.code === 'string' ? cause.code : undefined;
  const known = code === undefined ? undefined : (FILE_PROBLEMS[code] ?? FILE_PROBLEMS[code.replace(/_[A-Z]+$/, '')]);
  const where = cause.path ? ` at ${cause.path}` : '';
  return known ? `${known}${where} (${code})` : `${cause.message}${where && !cause.message.includes(cause.path!) ? where : ''}`;
}

/** Where a connection goes, without its credentials: `sentinel mymaster via h1:26379,h2:26379`. */
function describeConnection(connection: RedisConnection): string {
  const nodes = connection.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  const scheme = connection.tls ? 'rediss' : 'redis';
  if (connection.mode === 'sentinel') return `${scheme} sentinel ${connection.sentinelMaster ?? ''} via ${nodes}`;
  if (connection.mode === 'cluster') return `${scheme} cluster ${nodes}`;
  return `${scheme}://${nodes}${connection.db ? `/${connection.db}` : ''}`;
}

/** The URL without its password (and user name): start-up lines end up in shared logs. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.username) parsed.username = '***';
    return parsed.toString();
  } catch {
    return '(REDIS_URL is not a URL)';
  }
}
