import { createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importRecords, IMPORT_KINDS, type ImportCounts, type ImportKind, type ImportReport } from '../../src/records/import.js';
import { migrate } from '../../src/records/migrate.js';
import { openPostgresRecords } from '../../src/records/postgres.js';
import { openSqliteRecords } from '../../src/records/sqlite.js';
import type { RecordsDatabase } from '../../src/records/types.js';
import { openRedisStorage } from '../../src/storage/redis.js';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import type { Storage } from '../../src/storage/types.js';
import { openSecret, type StoredSecret } from '../../src/zones/directory/client-secret.js';
import { createZoneDirectory } from '../../src/zones/directory/directory.js';
import { createZoneDirectory as createOldDirectory } from './legacy/directory-on-storage.js';
import { ALICE_PASSWORD, writeOldKeyspace, type OldKey, type OldKeyspace } from './legacy/keyspace.js';
import { FAST_HASHING, FAST_SCRYPT, securityFor } from '../zones/directory/fixtures.js';
import { startPostgresServer, type PostgresServerHandle } from '../support/postgres.js';

const SHARED_REDIS = 'redis://127.0.0.1:6379';
const runPrefix = `zonegate-test:import:${randomUUID()}:`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-import-'));
const secretKey = new Uint8Array(randomBytes(32));

let server: PostgresServerHandle;
beforeAll(async () => {
  server = await startPostgresServer();
}, 120_000);
afterAll(async () => {
  await server?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  // Only this run's keys: the shared Redis is never flushed.
  const raw = new Redis(SHARED_REDIS);
  try {
    const keys = await raw.keys(`${runPrefix}*`);
    if (keys.length > 0) await raw.del(...keys);
  } finally {
    raw.disconnect();
  }
});

let n = 0;

interface Source {
  storage: Storage;
  /** Every key and index of the store, read past the Storage contract: what "only read" is checked against. */
  dump(): Promise<string>;
}

const sources = {
  async sqlite(): Promise<Source> {
    const file = path.join(dir, `store-${++n}.db`);
    return {
      storage: openSqliteStorage({ file }),
      async dump() {
        const raw = new Database(file, { readonly: true });
        try {
          return JSON.stringify([raw.prepare('SELECT key, value, expires_at FROM kv ORDER BY key').all(), raw.prepare('SELECT name, member FROM idx ORDER BY name, member').all()]);
        } finally {
          raw.close();
        }
      },
    };
  },
  async redis(): Promise<Source> {
    const keyPrefix = `${runPrefix}${++n}:`;
    return {
      storage: await openRedisStorage({ url: SHARED_REDIS, keyPrefix }),
      async dump() {
        const raw = new Redis(SHARED_REDIS);
        try {
          const entries: unknown[] = [];
          for (const key of (await raw.keys(`${keyPrefix}*`)).sort()) {
            const type = await raw.type(key);
            entries.push([key, type, type === 'set' ? (await raw.smembers(key)).sort() : await raw.get(key), await raw.pttl(key)]);
          }
          return JSON.stringify(entries);
        } finally {
          raw.disconnect();
        }
      },
    };
  },
};

const targets = {
  async sqlite(): Promise<RecordsDatabase> {
    return openSqliteRecords({ file: path.join(dir, `records-${++n}.db`) });
  },
  async postgres(): Promise<RecordsDatabase> {
    return openPostgresRecords({ connectionString: await server.createDatabase(`import_${++n}`) });
  },
};

function counts(report: ImportReport, status: keyof ImportCounts): Record<ImportKind, number> {
  return Object.fromEntries(IMPORT_KINDS.map((k) => [k, report.counts[k][status]])) as Record<ImportKind, number>;
}

const everything = { zones: 3, users: 2, roleCollections: 1, applications: 3, subscriptions: 1, signingKeys: 3, tenants: 1 };
const nothing = { zones: 0, users: 0, roleCollections: 0, applications: 0, subscriptions: 0, signingKeys: 0, tenants: 0 };

describe.each([
  ['sqlite', 'sqlite'],
  ['redis', 'postgres'],
  ['sqlite', 'postgres'],
  ['redis', 'sqlite'],
] as const)('db import from a %s store into %s records', (sourceKind, targetKind) => {
  let source: Source;
  let records: RecordsDatabase;
  let old: OldKeyspace;

  beforeEach(async () => {
    source = await sources[sourceKind]();
    old = await writeOldKeyspace(source.storage, secretKey);
    records = await targets[targetKind]();
    await migrate(records);
  }, 30_000);
  afterEach(async () => {
    await source.storage.close();
    await records.close();
  });

  const keyRows = (zoneId: string) =>
    records.all<{ kid: string; sealed_pem: string; created_at: number; publish_until: number | null; active: number }>(
      'SELECT kid, sealed_pem, created_at, publish_until, active FROM signing_keys WHERE zone_id = $1 ORDER BY created_at, kid',
      [zoneId],
    );

  function expectKeys(rows: Awaited<ReturnType<typeof keyRows>>, zoneId: string, keys: OldKey[]): void {
    expect(rows.map((r) => ({ kid: r.kid, createdAt: Number(r.created_at), publishUntil: r.publish_until === null ? undefined : Number(r.publish_until), active: r.active === 1 }))).toEqual(
      [...keys].sort((a, b) => a.createdAt - b.createdAt).map((k) => ({ kid: k.kid, createdAt: k.createdAt, publishUntil: k.publishUntil, active: k.active })),
    );
    for (const row of rows) {
      const sealed = JSON.parse(row.sealed_pem) as StoredSecret;
      // Sealed, whatever the store held: never a PEM in the database.
      expect(sealed.alg).toBe('A256GCM');
      expect(row.sealed_pem).not.toContain('PRIVATE KEY');
      const pem = openSecret(sealed, secretKey, `zkeys:${zoneId}:${row.kid}`);
      expect(pem).toBe(keys.find((k) => k.kid === row.kid)!.pem);
      expect(createPrivateKey(pem).asymmetricKeyType).toBe('rsa');
    }
  }

  it('copies every record, and the directory on the records answers for them as the old one did', async () => {
    const before = await source.dump();
    const report = await importRecords(source.storage, records, { secretKey });
    expect(report.conflicts).toEqual([]);
    expect(report.unreadable).toEqual([]);
    expect(counts(report, 'copied')).toEqual(everything);
    expect(counts(report, 'present')).toEqual(nothing);
    expect(await source.dump()).toBe(before);

    const oldDirectory = createOldDirectory(source.storage, { secretKey, passwordHashing: FAST_SCRYPT });
    const directory = createZoneDirectory(records, { secretKey, passwordHashing: FAST_HASHING });
    expect(await directory.listZones()).toEqual(await oldDirectory.listZones());
    expect(await directory.getZoneBySubdomain('acme')).toEqual(old.acme);
    // The password hash came along: Alice logs in with her password, by any case of her name.
    expect(await directory.verifyPassword(old.acme.id, 'alice@example.com', ALICE_PASSWORD)).toEqual(old.alice);
    expect(await directory.verifyPassword(old.acme.id, 'alice@example.com', 'wrong password')).toBeUndefined();
    expect(old.alice.roleCollections).toEqual(['shop_Administrator', 'Auditors']);
    expect(await directory.getUser(old.acme.id, old.alice.id)).toEqual(old.alice);
    expect(await directory.listUsers(old.provider.id)).toEqual([old.bob]);
    expect(await directory.hasPassword(old.provider.id, old.bob.id)).toBe(false);
    expect(await directory.listRoleCollections(old.acme.id, { includeBuiltIn: true })).toEqual(await oldDirectory.listRoleCollections(old.acme.id, { includeBuiltIn: true }));

    // Clients keep their ids, instance numbers and secrets; a subscription still admits shop in acme.
    const shop = await directory.getApplicationByClientId(old.shop.application.clientId);
    expect(shop).toEqual(old.shop.application);
    expect(await directory.verifyClientSecret(old.shop.application.clientId, old.shop.clientSecret)).toBe(true);
    expect(await directory.verifyClientSecret(old.legacy.application.clientId, old.legacy.clientSecret)).toBe(true);
    expect(await directory.isClientAllowedInZone(shop!, old.acme.id)).toBe(true);
    expect(await directory.isClientAllowedInZone(shop!, old.empty.id)).toBe(false);
    expect(await directory.listSubscriptions(shop!)).toEqual([old.acme.id]);
    expect(await directory.ensureAdminClient()).toEqual({ application: old.admin.application, clientSecret: old.admin.clientSecret });
    expect(await directory.registerApplication(securityFor('shop', 'shared'), old.provider.id)).toEqual(old.shop);
    expect(await directory.registerApplication(securityFor('legacy', 'dedicated'), old.provider.id)).toEqual(old.legacy);

    // The secret stored in clear by a release without a key is sealed now; the sealed one is as it was.
    const secrets = await records.all<{ xsappname: string; sealed_secret: string; instance_number: number | null }>(
      'SELECT xsappname, sealed_secret, instance_number FROM applications ORDER BY xsappname',
    );
    expect(secrets.map((s) => [s.xsappname, s.instance_number === null ? null : Number(s.instance_number), (JSON.parse(s.sealed_secret) as StoredSecret).alg])).toEqual([
      ['legacy', 2, 'A256GCM'],
      ['shop', 1, 'A256GCM'],
      ['zonegate-admin', null, 'A256GCM'],
    ]);
    for (const s of secrets) expect(s.sealed_secret).not.toContain(s.xsappname === 'legacy' ? old.legacy.clientSecret : s.xsappname === 'shop' ? old.shop.clientSecret : old.admin.clientSecret);

    // N handed out by the old store (dir:app-seq, 3) is never handed out again.
    expect(old.appSeq).toBe(3);
    expect(report.lastInstanceNumber).toBe(3);
    const next = await directory.registerApplication(securityFor('next', 'dedicated'), old.provider.id);
    expect(next.application.instanceName).toBe('next!t4');

    // Keys: the provider's as they were sealed, acme's clear ones sealed now; the active key stays the active one.
    expectKeys(await keyRows(old.provider.id), old.provider.id, old.providerKeys);
    expectKeys(await keyRows(old.acme.id), old.acme.id, old.acmeKeys);
    expect(await keyRows(old.empty.id)).toEqual([]);

    expect(await records.all('SELECT tenant_id, subdomain, subscribed_at, updated_at, global_account_id, subscription_app_name, admin FROM tenants')).toEqual([
      {
        tenant_id: old.acme.id,
        subdomain: 'acme',
        subscribed_at: old.tenant.subscribedAt,
        updated_at: old.tenant.updatedAt,
        global_account_id: 'ga-1',
        subscription_app_name: 'shop',
        admin: 'Alice@Example.com',
      },
    ]);
  });

  it('copies nothing the second time: everything is already present', async () => {
    await importRecords(source.storage, records, { secretKey });
    const again = await importRecords(source.storage, records, { secretKey });
    expect(counts(again, 'copied')).toEqual(nothing);
    expect(counts(again, 'present')).toEqual(everything);
    expect(again.conflicts).toEqual([]);
    expect(again.lastInstanceNumber).toBe(3);
  });

  it('leaves a record the database holds otherwise as it is, names the conflict, and copies the rest', async () => {
    // Started on the database before the import: another zone took the subdomain acme.
    const directory = createZoneDirectory(records, { secretKey, passwordHashing: FAST_HASHING });
    const squatter = await directory.createZone({ subdomain: 'acme' });
    const report = await importRecords(source.storage, records, { secretKey });
    expect(report.conflicts).toEqual([
      { kind: 'zones', name: `zone acme (id ${old.acme.id})`, reason: `its subdomain is taken by zone ${squatter.id} in the database` },
      { kind: 'tenants', name: `tenant ${old.acme.id} (acme)`, reason: 'its zone is not in the database' },
      { kind: 'roleCollections', name: 'role collection "Auditors" in zone acme', reason: 'its zone is not in the database' },
      { kind: 'users', name: `user Alice@Example.com (id ${old.alice.id}) in zone acme`, reason: 'its zone is not in the database' },
      { kind: 'subscriptions', name: 'subscription of shop in zone acme', reason: 'its zone is not in the database' },
      { kind: 'signingKeys', name: `signing key ${old.acmeKeys[0]!.kid} (active) in zone acme`, reason: 'its zone is not in the database' },
    ]);
    expect(counts(report, 'copied')).toEqual({ zones: 2, users: 1, roleCollections: 0, applications: 3, subscriptions: 0, signingKeys: 2, tenants: 0 });
    expect(await directory.getZoneBySubdomain('acme')).toEqual(squatter);
    expect(await records.all('SELECT kid FROM signing_keys WHERE zone_id = $1', [old.acme.id])).toEqual([]);

    // Changed in the database after a first import: never overwritten by the next.
    await records.run('DELETE FROM zones WHERE id = $1', [squatter.id]);
    await records.run("UPDATE users SET email = 'bob@elsewhere.example' WHERE id = $1", [old.bob.id]);
    const again = await importRecords(source.storage, records, { secretKey });
    expect(again.conflicts).toEqual([{ kind: 'users', name: `user bob (id ${old.bob.id}) in zone provider`, reason: 'the database holds it with other content' }]);
    expect(counts(again, 'copied')).toEqual({ zones: 1, users: 1, roleCollections: 1, applications: 0, subscriptions: 1, signingKeys: 1, tenants: 1 });
    expect((await directory.getUser(old.provider.id, old.bob.id))!.email).toBe('bob@elsewhere.example');
    expect(await directory.verifyPassword(old.acme.id, 'alice@example.com', ALICE_PASSWORD)).toEqual(old.alice);
  });

  it('a second active key of a zone is a conflict; the zone and its other keys still come', async () => {
    await records.run("INSERT INTO signing_keys (zone_id, kid, sealed_pem, created_at, publish_until, active) VALUES ($1, 'new-kid', '{}', 1, NULL, 1)", [old.provider.id]);
    const report = await importRecords(source.storage, records, { secretKey });
    expect(report.conflicts).toEqual([
      {
        kind: 'signingKeys',
        name: `signing key ${old.providerKeys[1]!.kid} (active) in zone provider`,
        reason: 'the database has another active key for the zone (new-kid)',
      },
    ]);
    expect(report.counts.signingKeys).toEqual({ copied: 2, present: 0, conflicts: 1 });
    expect(report.counts.zones.copied).toBe(3);
  });
});

describe('db import with another secret key than the store was sealed with', () => {
  it('copies no secret or key it cannot open, and says which', async () => {
    const source = await sources.sqlite();
    const records = await targets.sqlite();
    try {
      const old = await writeOldKeyspace(source.storage, secretKey);
      await migrate(records);
      const report = await importRecords(source.storage, records, { secretKey: new Uint8Array(randomBytes(32)) });
      expect(report.unreadable).toEqual([
        { key: 'dir:app:shop', reason: `the client secret of ${old.shop.application.clientId} does not open with the configured ZONEGATE_SECRET_KEY` },
        { key: 'dir:app:zonegate-admin', reason: 'the client secret of zonegate-admin does not open with the configured ZONEGATE_SECRET_KEY' },
        { key: `zkeys:${old.provider.id}`, reason: `the signing key ${old.providerKeys[0]!.kid} does not open with the configured ZONEGATE_SECRET_KEY` },
        { key: `zkeys:${old.provider.id}`, reason: `the signing key ${old.providerKeys[1]!.kid} does not open with the configured ZONEGATE_SECRET_KEY` },
      ]);
      // The clear ones open with any key: the legacy client and acme's key are copied, sealed with this one.
      expect(report.counts.applications.copied).toBe(1);
      expect(report.counts.signingKeys.copied).toBe(1);
      expect(report.counts.subscriptions).toEqual({ copied: 0, present: 0, conflicts: 1 });
      expect(report.conflicts).toEqual([{ kind: 'subscriptions', name: 'subscription of shop in zone acme', reason: 'application shop was not imported' }]);
    } finally {
      await source.storage.close();
      await records.close();
    }
  });
});
