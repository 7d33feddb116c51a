/**
 * Whether a Redis can be the system of record it is for zonegate (issue 10). With REDIS_URL set,
 * zones, users, signing keys and tenants live only there: a Redis that does not persist loses them
 * all on its next restart, and one with an evicting `maxmemory-policy` deletes them under memory
 * pressure. Both are common defaults of caches, so start-up says so, one line each.
 *
 * Managed plans often refuse CONFIG; INFO still tells the eviction policy and whether the
 * append-only file is on. What cannot be found out is said, not guessed.
 */
import type { Redis } from 'ioredis';

export interface DurabilityWarning {
  message: string;
  fields: Record<string, unknown>;
}

export async function checkRedisDurability(client: Redis): Promise<DurabilityWarning[]> {
  const found = await fromConfig(client).catch((err: unknown) => fromInfo(client, err));
  if (typeof found === 'string') {
    return [
      {
        message:
          'Redis persistence and eviction policy could not be checked: make sure this Redis persists its data (append-only file or snapshots), is backed up, and has maxmemory-policy noeviction; it holds zones, users, signing keys and tenants',
        fields: { reason: found },
      },
    ];
  }
  const warnings: DurabilityWarning[] = [];
  if (found.persists === false) {
    warnings.push({
      message:
        'Redis does not persist its data (appendonly no, no save snapshots): its next restart empties the store, and with it zones, users, signing keys and tenants. Turn on appendonly (or save) and take backups',
      fields: { save: found.save, appendonly: 'no' },
    });
  } else if (found.persists === undefined) {
    warnings.push({
      message: 'Redis persistence could not be checked (CONFIG refused, and the append-only file is off): make sure this Redis takes snapshots and is backed up',
      fields: { reason: found.reason },
    });
  }
  if (found.maxmemoryPolicy !== 'noeviction') {
    warnings.push({
      message: `Redis may evict keys (maxmemory-policy ${found.maxmemoryPolicy}): an evicted zone, user or signing key is lost data, not a cache miss. Set maxmemory-policy noeviction`,
      fields: { maxmemoryPolicy: found.maxmemoryPolicy },
    });
  }
  return warnings;
}

interface Found {
  /** Undefined when it could not be told (no CONFIG, append-only file off: snapshots unknown). */
  persists: boolean | undefined;
  save?: string;
  reason?: string;
  maxmemoryPolicy: string;
}

async function fromConfig(client: Redis): Promise<Found> {
  const value = async (name: string) => ((await client.config('GET', name)) as string[])[1] ?? '';
  const save = (await value('save')).trim();
  const appendonly = await value('appendonly');
  return { persists: save !== '' || appendonly === 'yes', save, maxmemoryPolicy: await value('maxmemory-policy') };
}

/** INFO's view, when CONFIG is refused; or why nothing could be checked. */
async function fromInfo(client: Redis, configError: unknown): Promise<Found | string> {
  const reason = `CONFIG refused: ${(configError as Error).message}`;
  let info: string;
  try {
    info = `${await client.info('persistence')}\n${await client.info('memory')}`;
  } catch (err) {
    return `${reason}; INFO refused: ${(err as Error).message}`;
  }
  const field = (name: string) => new RegExp(`^${name}:(.*?)\\r?$`, 'm').exec(info)?.[1];
  const maxmemoryPolicy = field('maxmemory_policy');
  if (maxmemoryPolicy === undefined) return `${reason}; INFO names no maxmemory_policy`;
  return field('aof_enabled') === '1' ? { persists: true, maxmemoryPolicy } : { persists: undefined, reason, maxmemoryPolicy };
}
