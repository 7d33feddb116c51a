/**
 * Issues 10 and 19: Redis holds the sessions, login state, refresh-token families and throttles. The
 * gateway's start-up says, one line each, when that Redis would lose them: no persistence, an evicting
 * maxmemory-policy; and says so when a managed Redis refuses to be asked. Real redis-servers
 * configured each way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

let redis: RedisServerHandle | undefined;
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  await redis?.stop();
  gw = redis = undefined;
});

/** The start-up warnings about this Redis, by their first words. */
async function warningsWith(extraArgs: string[]): Promise<string[]> {
  redis = await startRedisServer(extraArgs);
  gw = await startTestGateway({
    routes: { routes: [{ source: '^/(.*)$', destination: 'echo', authenticationType: 'none' }] },
    env: { REDIS_URL: redis.url, ZONEGATE_SECRET_KEY: 'e'.repeat(64) },
  });
  return gw.logs
    .filter((l) => l.includes('"level":"warn"') && l.includes('"msg":"Redis '))
    .map((l) => JSON.parse(l).msg as string);
}

describe('start-up checks that Redis can hold the system of record', () => {
  it('no persistence (save "" and appendonly no): one warning', async () => {
    const warnings = await warningsWith(['--maxmemory-policy', 'noeviction']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Redis does not persist its data \(appendonly no, no save snapshots\): its next restart ends every session/);
  });

  it('an evicting maxmemory-policy: one warning naming it', async () => {
    const warnings = await warningsWith(['--appendonly', 'yes', '--maxmemory-policy', 'allkeys-lru']);
    expect(warnings).toEqual([expect.stringMatching(/^Redis may evict keys \(maxmemory-policy allkeys-lru\).*Set maxmemory-policy noeviction$/)]);
  });

  it('snapshots alone count as persistence; noeviction: no warning', async () => {
    expect(await warningsWith(['--save', '3600 1', '--maxmemory-policy', 'noeviction'])).toEqual([]);
  });

  it('CONFIG refused (as managed plans do): INFO still tells the policy; what it cannot tell is said', async () => {
    const onlyInfo = await warningsWith(['--rename-command', 'CONFIG', '', '--appendonly', 'yes', '--maxmemory-policy', 'volatile-lru']);
    expect(onlyInfo).toEqual([expect.stringMatching(/^Redis may evict keys \(maxmemory-policy volatile-lru\)/)]);
    await gw!.stop();
    await redis!.stop();
    const unknown = await warningsWith(['--rename-command', 'CONFIG', '', '--maxmemory-policy', 'noeviction']);
    expect(unknown).toEqual([expect.stringMatching(/^Redis persistence could not be checked \(CONFIG refused, and the append-only file is off\)/)]);
  });
});
