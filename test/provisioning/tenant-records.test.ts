/**
 * Issue 19: a subscription's tenant record is in the records database (table `tenants`), on SQLite
 * and PostgreSQL, for the built-in zones' provisioning and for the callbacks of a bound XSUAA; the
 * shared key/TTL store (a real Redis, a real SQLite store) keeps no tenant record and no signing key.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../src/log.js';
import { createBoundSubscriptions } from '../../src/provisioning/bound.js';
import { ProvisioningError } from '../../src/provisioning/errors.js';
import { createProvisioning } from '../../src/provisioning/service.js';
import { migrate } from '../../src/records/migrate.js';
import { openPostgresRecords } from '../../src/records/postgres.js';
import { openSqliteRecords } from '../../src/records/sqlite.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { openRedisStorage } from '../../src/storage/redis.js';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import type { Storage } from '../../src/storage/types.js';
import { createZoneDirectory } from '../../src/zones/directory/directory.js';
import { createKeyStore } from '../../src/zones/keys/keystore.js';
import { FAST_HASHING, securityFor } from '../zones/directory/fixtures.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';
import { guid, tenantUrlFor } from './support.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const redisPrefix = `zonegate-test:tenant-records:${randomUUID()}:`;
const dir = mkdtempSync(join(tmpdir(), 'zonegate-tenant-records-'));
let postgres: PostgresServerHandle | undefined;

beforeAll(async () => {
  postgres = await startPostgresServer();
}, 120_000);

afterAll(async () => {
  await postgres?.dispose();
  rmSync(dir, { recursive: true, force: true });
  const raw = new Redis(REDIS_URL);
  try {
    const keys = await raw.keys(`${redisPrefix}*`);
    if (keys.length > 0) await raw.del(...keys);
  } finally {
    raw.disconnect();
  }
});

let databases = 0;
const recordsBackends: [string, () => Promise<RecordsDatabase>][] = [
  ['SQLite', async () => openSqliteRecords({ file: join(dir, `${randomUUID()}.db`) })],
  ['PostgreSQL', async () => openPostgresRecords({ connectionString: await postgres!.createDatabase(`tenants_${++databases}`) })],
];

/** A real store, and every key it holds (as its backend names them, without Redis's prefix). */
type StoreUnderTest = { storage: Storage; keys(): Promise<string[]> };
const storageBackends: [string, () => Promise<StoreUnderTest>][] = [
  [
    'Redis',
    async () => {
      const prefix = `${redisPrefix}${randomUUID()}:`;
      const storage = await openRedisStorage({ url: REDIS_URL, keyPrefix: prefix });
      return {
        storage,
        keys: async () => {
          const raw = new Redis(REDIS_URL);
          try {
            return (await raw.keys(`${prefix}*`)).map((k) => k.slice(prefix.length));
          } finally {
            raw.disconnect();
          }
        },
      };
    },
  ],
  [
    'SQLite store',
    async () => {
      const file = join(dir, `store-${randomUUID()}.db`);
      const storage = openSqliteStorage({ file });
      return {
        storage,
        keys: async () => {
          const db = new Database(file, { readonly: true });
          try {
            return db.prepare<[], { key: string }>('SELECT key FROM kv').all().map((r) => r.key);
          } finally {
            db.close();
          }
        },
      };
    },
  ],
];

type TenantRow = { tenant_id: string; subdomain: string; subscribed_at: string; updated_at: string; global_account_id: string | null; subscription_app_name: string | null; admin: string | null };

describe.each(recordsBackends)('tenant records on %s', (_name, openRecords) => {
  describe.each(storageBackends)('with %s as the shared store', (_storeName, openStore) => {
    let records: RecordsDatabase;
    let store: StoreUnderTest;
    beforeAll(async () => {
      records = await openRecords();
      await migrate(records);
      store = await openStore();
    });
    afterAll(async () => {
      await store?.storage.close();
      await records?.close();
    });

    const tenantRow = (tenantId: string) => records.one<TenantRow>('SELECT * FROM tenants WHERE tenant_id = $1', [tenantId]);

    it('a subscription writes the tenants row, an unsubscription removes it; the store holds no tenant record and no key', async () => {
      let clock = new Date('2025-01-01T10:00:00.000Z');
      const directory = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
      const provider = await directory.createZone({ subdomain: `provider-${randomUUID().slice(0, 8)}` });
      const application = (await directory.registerApplication(securityFor(`app${randomUUID().slice(0, 8)}`), provider.id)).application;
      const keys = createKeyStore({ records, notices: store.storage, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600 });
      const provisioning = createProvisioning({
        directory,
        records,
        storage: store.storage,
        application,
        adminRoleCollection: `${application.xsappname}_Administrator`,
        tenantUrlFor,
        deleteZoneKeys: (zoneId) => keys.deleteKeys(zoneId),
        logger: createMemoryLogger(),
        now: () => clock,
      });
      const tenantId = guid(Math.floor(Math.random() * 1e9));
      const subdomain = `tenant-${randomUUID().slice(0, 8)}`;

      await provisioning.subscribe({ tenantId, subdomain, userInfo: { userName: 'ada@tenant.example' }, globalAccountId: 'ga-1', subscriptionAppName: 'saas' });
      expect(await tenantRow(tenantId)).toEqual({
        tenant_id: tenantId,
        subdomain,
        subscribed_at: '2025-01-01T10:00:00.000Z',
        updated_at: '2025-01-01T10:00:00.000Z',
        global_account_id: 'ga-1',
        subscription_app_name: 'saas',
        admin: 'ada@tenant.example',
      });
      // The tenant's zone signs a token: its key goes to the records too.
      const kid = (await keys.signingKey(tenantId)).kid;
      expect(await records.all('SELECT kid FROM signing_keys WHERE zone_id = $1', [tenantId])).toEqual([{ kid }]);

      // An UPDATE refreshes updated_at and keeps the rest.
      clock = new Date('2025-01-02T10:00:00.000Z');
      await provisioning.subscribe({ tenantId, subdomain, eventType: 'UPDATE' });
      expect(await tenantRow(tenantId)).toMatchObject({ subscribed_at: '2025-01-01T10:00:00.000Z', updated_at: '2025-01-02T10:00:00.000Z', global_account_id: 'ga-1', admin: 'ada@tenant.example' });
      expect(await provisioning.findTenant(subdomain)).toMatchObject({ tenantId, globalAccountId: 'ga-1', admin: 'ada@tenant.example', updatedAt: '2025-01-02T10:00:00.000Z' });
      expect(await provisioning.listTenants()).toEqual([expect.objectContaining({ tenantId, subscribedAt: '2025-01-01T10:00:00.000Z' })]);

      const held = await store.keys();
      expect(held.filter((k) => k.includes('prov:tenant:') || k.includes('zkeys:'))).toEqual([]);
      // The per-tenant lock is short-lived state of the store, and released.
      expect(held.filter((k) => k.includes('lock:prov:'))).toEqual([]);

      expect(await provisioning.unsubscribe(tenantId)).toEqual({ removed: true, subdomain });
      expect(await tenantRow(tenantId)).toBeUndefined();
      expect(await records.all('SELECT kid FROM signing_keys WHERE zone_id = $1', [tenantId])).toEqual([]);
      expect(await provisioning.unsubscribe(tenantId)).toEqual({ removed: false });
    });

    it('a bound XSUAA\'s callbacks keep the tenant in the same table: PUT writes it, DELETE ends the sessions and removes it', async () => {
      const revoked: string[] = [];
      const bound = createBoundSubscriptions({
        records,
        application: { xsappname: 'bound!t1', instanceName: 'bound!t1', providerZoneId: guid(1) },
        tenantUrlFor,
        revokeTenantSessions: async (subdomain) => void revoked.push(subdomain),
        logger: createMemoryLogger(),
      });
      const tenantId = guid(Math.floor(Math.random() * 1e9));
      const subdomain = `bound-${randomUUID().slice(0, 8)}`;
      expect(await bound.subscribe({ tenantId, subdomain, globalAccountId: 'ga-b' })).toMatchObject({ created: true, subdomain });
      expect(await tenantRow(tenantId)).toMatchObject({ tenant_id: tenantId, subdomain, global_account_id: 'ga-b', admin: null });
      expect(await bound.subscribe({ tenantId, subdomain })).toMatchObject({ created: false });
      expect(await tenantRow(tenantId)).toMatchObject({ global_account_id: 'ga-b' });
      const moved = await bound.subscribe({ tenantId, subdomain: 'elsewhere' }).catch((e: unknown) => e);
      expect(moved).toBeInstanceOf(ProvisioningError);
      expect((moved as ProvisioningError).code).toBe('ZG_ERR_TENANT_CONFLICT');

      expect(await bound.unsubscribe(tenantId)).toEqual({ removed: true, subdomain });
      expect(revoked).toEqual([subdomain]);
      expect(await tenantRow(tenantId)).toBeUndefined();
      expect(await bound.unsubscribe(tenantId)).toEqual({ removed: false });
    });
  });
});
