import type { Logger } from '../log.js';
import { openRedisStorage, type RedisConnection } from './redis.js';
import { fileProblem, redactedUrl, rootCause } from './open-problems.js';
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
        : `cannot use Redis at ${'url' in config ? redactedUrl(config.url, 'REDIS_URL') : describeConnection(config.connection)}: ${rootCause(err).message}`,
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

/** Where a connection goes, without its credentials: `sentinel mymaster via h1:26379,h2:26379`. */
export function describeConnection(connection: RedisConnection): string {
  const nodes = connection.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  const scheme = connection.tls ? 'rediss' : 'redis';
  if (connection.mode === 'sentinel') return `${scheme} sentinel ${connection.sentinelMaster ?? ''} via ${nodes}`;
  if (connection.mode === 'cluster') return `${scheme} cluster ${nodes}`;
  return `${scheme}://${nodes}${connection.db ? `/${connection.db}` : ''}`;
}
