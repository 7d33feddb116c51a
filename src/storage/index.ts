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

/** Opens the configured backend; rejects with ZG_ERR_STORAGE_UNAVAILABLE if it cannot be reached. */
export async function openStorage(config: StorageConfig, logger?: Logger): Promise<Storage> {
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
      });
  }
}

export type { Storage, TtlOptions } from './types.js';
export { storageUnavailable } from './types.js';
export type { RedisConnection } from './redis.js';
