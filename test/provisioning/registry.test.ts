import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantRegistry } from '../../src/provisioning/registry.js';
import { migrate } from '../../src/records/migrate.js';
import { openSqliteRecords } from '../../src/records/sqlite.js';
import type { RecordsDatabase, SqlValue } from '../../src/records/types.js';
import { createZoneDirectory } from '../../src/zones/directory/directory.js';
import type { Application, ZoneDirectory } from '../../src/zones/directory/types.js';
import { FAST_HASHING, securityFor } from '../zones/directory/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'zonegate-registry-'));
let records: RecordsDatabase;
let reads = 0;
let directory: ZoneDirectory;
let app: Application;

beforeAll(async () => {
  const real = openSqliteRecords({ file: join(dir, 'registry.db') });
  await migrate(real);
  // Counts reads, to see which answers came from the cache; everything else is the real SQLite database.
  records = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'one' || prop === 'all') {
        return (sql: string, params?: readonly SqlValue[]) => (reads++, target[prop](sql, params));
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  directory = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
  const provider = await directory.createZone({ subdomain: 'provider' });
  app = (await directory.registerApplication(securityFor('regapp'), provider.id)).application;
  for (const sub of ['acme', 'globex']) await directory.subscribe(app, (await directory.createZone({ subdomain: sub })).id);
  await directory.createZone({ subdomain: 'stranger' }); // a zone, but not subscribed
});
afterAll(async () => {
  await records.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('createTenantRegistry', () => {
  it('knows subscribed tenants and the provider; refuses unsubscribed zones, unknown names and non-labels without a lookup', async () => {
    const registry = createTenantRegistry({ directory, application: app });
    expect(await registry.isSubscribed('acme')).toBe(true);
    expect(await registry.isSubscribed('ACME')).toBe(true);
    expect(await registry.isSubscribed('provider')).toBe(true);
    expect(await registry.isSubscribed('stranger')).toBe(false);
    expect(await registry.isSubscribed('nobody')).toBe(false);
    const before = reads;
    expect(await registry.isSubscribed('a.b')).toBe(false);
    expect(await registry.isSubscribed('-x')).toBe(false);
    expect(await registry.isSubscribed('')).toBe(false);
    expect(reads).toBe(before);
  });

  it('costs nothing at start-up and answers a hot tenant from memory', async () => {
    const before = reads;
    const registry = createTenantRegistry({ directory, application: app });
    expect(reads).toBe(before);
    expect(registry.size).toBe(0);
    await registry.isSubscribed('globex');
    const afterFirst = reads;
    expect(afterFirst).toBeGreaterThan(before);
    for (let i = 0; i < 100; i++) expect(await registry.isSubscribed('globex')).toBe(true);
    expect(reads).toBe(afterFirst);
    // From memory means no promise either: the gateway waits for nothing on a hot tenant.
    expect(registry.isSubscribed('globex')).toBe(true);
    expect(registry.isSubscribed('GLOBEX')).toBe(true);
    expect(registry.isSubscribed('stranger')).toBeInstanceOf(Promise);
  });

  it('shares one lookup among concurrent requests for the same tenant', async () => {
    const registry = createTenantRegistry({ directory, application: app });
    const before = reads;
    await Promise.all(Array.from({ length: 20 }, () => registry.isSubscribed('acme')));
    const oneLookup = reads - before;
    const single = createTenantRegistry({ directory, application: app });
    const beforeSingle = reads;
    await single.isSubscribed('acme');
    expect(oneLookup).toBe(reads - beforeSingle);
  });

  it('does not cache refusals: a tenant subscribed elsewhere is served at once', async () => {
    const registry = createTenantRegistry({ directory, application: app });
    expect(await registry.isSubscribed('newco')).toBe(false);
    await directory.subscribe(app, (await directory.createZone({ subdomain: 'newco' })).id);
    expect(await registry.isSubscribed('newco')).toBe(true);
  });

  it('refuses a tenant deleted through another instance within a second (real clock)', async () => {
    const zone = await directory.createZone({ subdomain: 'fleeting' });
    await directory.subscribe(app, zone.id);
    const registry = createTenantRegistry({ directory, application: app });
    expect(await registry.isSubscribed('fleeting')).toBe(true);
    // Another instance deletes it: this registry is not told.
    await createZoneDirectory(records).deleteZone(zone.id);
    const started = Date.now();
    while (await registry.isSubscribed('fleeting')) await sleep(20);
    expect(Date.now() - started).toBeLessThanOrEqual(1100);
  });

  it('expires positive answers after ttlMs and forgets on demand', async () => {
    let now = 0;
    const registry = createTenantRegistry({ directory, application: app, ttlMs: 500, now: () => now });
    await registry.isSubscribed('acme');
    const cached = reads;
    now = 499;
    await registry.isSubscribed('acme');
    expect(reads).toBe(cached);
    now = 500;
    await registry.isSubscribed('acme');
    expect(reads).toBeGreaterThan(cached);
    const again = reads;
    registry.forget('ACME');
    await registry.isSubscribed('acme');
    expect(reads).toBeGreaterThan(again);
  });

  it('is bounded: the least recently used entry goes first', async () => {
    const registry = createTenantRegistry({ directory, application: app, maxEntries: 2 });
    await registry.isSubscribed('acme');
    await registry.isSubscribed('globex');
    await registry.isSubscribed('acme'); // acme is now the most recent
    await registry.isSubscribed('provider'); // evicts globex
    expect(registry.size).toBe(2);
    const before = reads;
    await registry.isSubscribed('acme');
    expect(reads).toBe(before);
    await registry.isSubscribed('globex');
    expect(reads).toBeGreaterThan(before);
  });

  it('while the database is unreachable: a tenant subscribed when last asked stays subscribed; others still fail', async () => {
    // A handle of its own on the same file, closed below: its calls then reject with
    // ZG_ERR_DATABASE_UNAVAILABLE, as an unreachable PostgreSQL's do.
    const own = openSqliteRecords({ file: join(dir, 'registry.db') });
    const ownDirectory = createZoneDirectory(own, { passwordHashing: FAST_HASHING });
    let now = 0;
    const registry = createTenantRegistry({ directory: ownDirectory, application: app, ttlMs: 500, now: () => now });
    expect(await registry.isSubscribed('acme')).toBe(true);
    expect(await registry.isSubscribed('stranger')).toBe(false);
    await own.close();
    expect(registry.isSubscribed('acme')).toBe(true); // still fresh
    now = 10_000;
    // Issue 19: served in full (its sessions are in the store); only what needs the database fails.
    expect(await registry.isSubscribed('acme')).toBe(true);
    await expect(registry.isSubscribed('stranger')).rejects.toMatchObject({ code: 'ZG_ERR_DATABASE_UNAVAILABLE' });
    await expect(registry.isSubscribed('globex')).rejects.toMatchObject({ code: 'ZG_ERR_DATABASE_UNAVAILABLE' });
    registry.forget('acme'); // unsubscribed by this instance: nothing to fall back on
    await expect(registry.isSubscribed('acme')).rejects.toMatchObject({ code: 'ZG_ERR_DATABASE_UNAVAILABLE' });
  });

  it('once the database is found unreachable, answers from memory at once instead of waiting on it per request, until a probe finds it back', async () => {
    // A hung PostgreSQL answers nothing until the pool's connect timeout (3 s): every request would
    // wait that long for its remembered answer if each one asked the database again.
    const own = openSqliteRecords({ file: join(dir, 'registry.db') });
    const ownDirectory = createZoneDirectory(own, { passwordHashing: FAST_HASHING });
    let now = 0;
    const registry = createTenantRegistry({ directory: ownDirectory, application: app, ttlMs: 500, now: () => now });
    expect(await registry.isSubscribed('acme')).toBe(true);
    await own.close();
    now = 10_000;
    expect(await registry.isSubscribed('acme')).toBe(true); // asked the database, found it down
    // From now on the answer is there at once, not a promise waiting on the database.
    expect(registry.isSubscribed('acme')).toBe(true);
    now += 500;
    expect(registry.isSubscribed('acme')).toBe(true);
    await expect(registry.isSubscribed('stranger')).rejects.toMatchObject({ code: 'ZG_ERR_DATABASE_UNAVAILABLE' });
  });

  it('refuses a cache longer than a second', () => {
    expect(() => createTenantRegistry({ directory, application: app, ttlMs: 5000 })).toThrow(/within a second/);
    expect(() => createTenantRegistry({ directory, application: app, maxEntries: 0 })).toThrow(RangeError);
  });
});
