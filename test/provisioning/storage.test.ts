/**
 * Provisioning on both storage backends: 50 concurrent subscriptions of distinct tenants, a race of
 * tenants for one subdomain, and (SQLite) a subscription surviving a restart of the process's storage.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../src/log.js';
import { ProvisioningError } from '../../src/provisioning/errors.js';
import { createTenantRegistry } from '../../src/provisioning/registry.js';
import { createProvisioning, type Provisioning } from '../../src/provisioning/service.js';
import { openRedisStorage } from '../../src/storage/redis.js';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import type { Storage } from '../../src/storage/types.js';
import { createZoneDirectory } from '../../src/zones/directory/directory.js';
import { migrate } from '../../src/records/migrate.js';
import { openSqliteRecords } from '../../src/records/sqlite.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { createKeyStore } from '../../src/zones/keys/keystore.js';
import type { Application, ZoneDirectory } from '../../src/zones/directory/types.js';
import { FAST_HASHING, securityFor } from '../zones/directory/fixtures.js';
import { guid, tenantUrlFor } from './support.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `zonegate-test:provisioning:${randomUUID()}:`;
const dir = mkdtempSync(join(tmpdir(), 'zonegate-provisioning-'));

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  // Only this run's keys; never FLUSHDB on the shared Redis.
  const raw = new Redis(REDIS_URL);
  try {
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
  } finally {
    raw.disconnect();
  }
});

interface Setup {
  storage: Storage;
  records: RecordsDatabase;
  directory: ZoneDirectory;
  application: Application;
  provisioning: Provisioning;
}

/** Provisioning on the storage under test; the directory on its own records database (in memory unless a file is given). */
async function setUp(storage: Storage, existing?: Application, recordsFile = ':memory:'): Promise<Setup> {
  const records = openSqliteRecords({ file: recordsFile });
  await migrate(records);
  const directory = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
  let application = existing;
  if (!application) {
    const provider = await directory.createZone({ subdomain: 'provider' });
    application = (await directory.registerApplication(securityFor('saasapp'), provider.id)).application;
  }
  const provisioning = createProvisioning({
    directory,
    records,
    storage,
    application,
    adminRoleCollection: 'saasapp_Administrator',
    tenantUrlFor,
    deleteZoneKeys: (zoneId) => createKeyStore({ records, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, notices: storage }).deleteKeys(zoneId),
    logger: createMemoryLogger(),
  });
  return { storage, records, directory, application, provisioning };
}

async function close(s: Setup): Promise<void> {
  await s.storage.close();
  await s.records.close();
}

const backends: [string, () => Promise<Storage>][] = [
  ['sqlite', async () => openSqliteStorage({ file: join(dir, `${randomUUID()}.db`) })],
  ['redis', async () => openRedisStorage({ url: REDIS_URL, keyPrefix: `${prefix}${randomUUID()}:` })],
];

describe.each(backends)('on %s', (_name, open) => {
  it('50 concurrent subscriptions of distinct tenants all succeed, with distinct zones, subscriptions and administrators', async () => {
    const s = await setUp(await open());
    try {
      const n = 50;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          s.provisioning.subscribe({ tenantId: guid(1000 + i), subdomain: `tenant-${i}`, userInfo: { userName: `admin-${i}@t${i}.example` } }),
        ),
      );
      expect(results.every((r) => r.created)).toBe(true);
      expect(new Set(results.map((r) => r.url)).size).toBe(n);
      const tenants = await s.provisioning.listTenants();
      expect(tenants).toHaveLength(n);
      expect(new Set(tenants.map((t) => t.tenantId)).size).toBe(n);
      const registry = createTenantRegistry({ directory: s.directory, application: s.application });
      for (let i = 0; i < n; i++) {
        const zone = await s.directory.getZoneBySubdomain(`tenant-${i}`);
        expect(zone?.id).toBe(guid(1000 + i));
        expect(await registry.isSubscribed(`tenant-${i}`)).toBe(true);
        const users = await s.directory.listUsers(zone!.id);
        expect(users.map((u) => [u.userName, u.roleCollections])).toEqual([[`admin-${i}@t${i}.example`, ['saasapp_Administrator']]]);
      }
      expect((await s.directory.listZones()).length).toBe(n + 1);
    } finally {
      await close(s);
    }
  });

  it('of tenants racing for one subdomain exactly one wins; the others get 409 and leave nothing behind', async () => {
    const s = await setUp(await open());
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => s.provisioning.subscribe({ tenantId: guid(2000 + i), subdomain: 'contested' })));
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      expect(refusals.every((r) => r instanceof ProvisioningError && r.code === 'ZG_ERR_TENANT_SUBDOMAIN_TAKEN')).toBe(true);
      expect(await s.provisioning.listTenants()).toHaveLength(1);
      expect((await s.directory.listZones()).map((z) => z.subdomain).sort()).toEqual(['contested', 'provider']);
    } finally {
      await close(s);
    }
  });

  it('a registry retry racing its own first attempt creates the tenant once', async () => {
    const s = await setUp(await open());
    try {
      const input = { tenantId: guid(3000), subdomain: 'twice', userInfo: { userName: 'a@twice.example' } };
      const results = await Promise.all([s.provisioning.subscribe(input), s.provisioning.subscribe(input), s.provisioning.subscribe(input)]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.url))).toEqual(new Set(['https://twice.app.example.com']));
      expect(await s.directory.listUsers(guid(3000))).toHaveLength(1);
    } finally {
      await close(s);
    }
  });
});

describe('restart', () => {
  it('a subscription survives reopening the SQLite file, and is then unsubscribed', async () => {
    const file = join(dir, 'restart.db');
    const recordsFile = join(dir, 'restart-records.db');
    const before = await setUp(openSqliteStorage({ file }), undefined, recordsFile);
    await before.provisioning.subscribe({ tenantId: guid(4000), subdomain: 'phoenix', userInfo: { userName: 'jean@phoenix.example' }, globalAccountId: 'ga-x' });
    await close(before);

    const after = await setUp(openSqliteStorage({ file }), before.application, recordsFile);
    try {
      const registry = createTenantRegistry({ directory: after.directory, application: after.application });
      expect(await registry.isSubscribed('phoenix')).toBe(true);
      expect(await after.provisioning.listTenants()).toEqual([
        expect.objectContaining({ tenantId: guid(4000), subdomain: 'phoenix', url: 'https://phoenix.app.example.com', globalAccountId: 'ga-x', admin: 'jean@phoenix.example' }),
      ]);
      expect(await after.provisioning.unsubscribe(guid(4000))).toEqual({ removed: true, subdomain: 'phoenix' });
      registry.forget('phoenix'); // this instance's own unsubscribe; others wait out the ≤1 s cache
      expect(await registry.isSubscribed('phoenix')).toBe(false);
    } finally {
      await close(after);
    }
  });
});
