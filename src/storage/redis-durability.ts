/**
 * Whether a Redis keeps what zonegate shares in it (issues 10 and 19). Records (zones, users, keys,
 * tenants) are in the records database; Redis holds sessions, login state, single-use codes,
 * refresh-token families and throttles. A Redis that does not persist logs every user out on its
 * next restart; one with an evicting `maxmemory-policy` drops sessions under memory pressure, and
 * with them what is remembered for security (a revoked refresh-token family, a throttle's count).
 * Both are common defaults of caches, so start-up says so, one line each.
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
          'Redis persistence and eviction policy could not be checked: make sure this Redis persists its data (append-only file or snapshots) and has maxmemory-policy noeviction; it holds the sessions, login state, refresh-token families and throttles',
        fields: { reason: found },
      },
    ];
  }
  const warnings: DurabilityWarning[] = [];
  if (found.persists === false) {
    warnings.push({
      message:
        'Redis does not persist its data (appendonly no, no save snapshots): its next restart ends every session (users log in again; zones, users and keys are in the records database). Turn on appendonly (or save)',
      fields: { save: found.save, appendonly: 'no' },
    });
  } else if (found.persists === undefined) {
    warnings.push({
      message: 'Redis persistence could not be checked (CONFIG refused, and the append-only file is off): make sure this Redis takes snapshots, or every restart ends all sessions',
      fields: { reason: found.reason },
    });
  }
  if (found.maxmemoryPolicy !== 'noeviction') {
    warnings.push({
      message: `Redis may evict keys (maxmemory-policy ${found.maxmemoryPolicy}): an evicted key is a session ended, or a revoked refresh-token family or throttle count forgotten, not a cache miss. Set maxmemory-policy noeviction`,
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
