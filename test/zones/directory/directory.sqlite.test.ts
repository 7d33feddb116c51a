import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStorage } from '../../../src/storage/sqlite.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import { DirectoryError } from '../../../src/zones/directory/errors.js';
import { FAST_SCRYPT, securityFor } from './fixtures.js';
import { describeDirectory } from './suite.js';

const tmp = mkdtempSync(join(tmpdir(), 'zonegate-directory-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function dumpSqlite(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[], { value: string }>('SELECT value FROM kv').all().map((r) => r.value);
  } finally {
    db.close();
  }
}

const suiteFile = join(tmp, 'suite.db');
describeDirectory('SQLite', {
  open: async () => openSqliteStorage({ file: suiteFile }),
  dumpValues: async () => dumpSqlite(suiteFile),
});

describe('zone directory on a SQLite file across restarts', () => {
  it('keeps N, the client secret, zones and users when the file is reopened', async () => {
    const file = join(tmp, 'restart.db');
    let storage = openSqliteStorage({ file });
    let dir = createZoneDirectory(storage, { passwordHashing: FAST_SCRYPT });
    const zone = await dir.createZone({ subdomain: 'provider' });
    const first = await dir.registerApplication(securityFor('myapp'), zone.id);
    const second = await dir.registerApplication(securityFor('otherapp'), zone.id);
    await dir.createUser(zone.id, { userName: 'admin', email: 'admin@example.com', password: 'admin-pass-1', roleCollections: ['myapp_Administrator'] });
    await storage.close();

    storage = openSqliteStorage({ file });
    dir = createZoneDirectory(storage, { passwordHashing: FAST_SCRYPT });
    const again = await dir.registerApplication(securityFor('myapp'), zone.id);
    expect(again.application.instanceName).toBe(first.application.instanceName);
    expect(again.clientSecret).toBe(first.clientSecret);
    expect(await dir.verifyClientSecret(first.application.clientId, first.clientSecret)).toBe(true);
    // The counter survived too: a new application gets a number not used before.
    const third = await dir.registerApplication(securityFor('thirdapp'), zone.id);
    const n = (a: { application: { instanceName: string } }) => Number(a.application.instanceName.split('!t')[1]);
    expect(new Set([n(first), n(second), n(third)]).size).toBe(3);
    const user = await dir.verifyPassword(zone.id, 'admin', 'admin-pass-1');
    expect(user?.roleCollections).toEqual(['myapp_Administrator']);
    expect((await dir.getZoneBySubdomain('provider'))?.id).toBe(zone.id);
    await storage.close();
  });

  it('with a secret key stores the client secret only sealed, and refuses to open it with another key', async () => {
    const file = join(tmp, 'sealed.db');
    const key = randomBytes(32);
    let storage = openSqliteStorage({ file });
    const dir = createZoneDirectory(storage, { secretKey: key, passwordHashing: FAST_SCRYPT });
    const zone = await dir.createZone({ subdomain: 'sealed' });
    const { application, clientSecret } = await dir.registerApplication(securityFor('sealedapp'), zone.id);
    await storage.close();
    expect(dumpSqlite(file).filter((v) => v.includes(clientSecret))).toEqual([]);

    storage = openSqliteStorage({ file });
    try {
      const same = await createZoneDirectory(storage, { secretKey: key }).registerApplication(securityFor('sealedapp'), zone.id);
      expect(same.clientSecret).toBe(clientSecret);
      const wrong = createZoneDirectory(storage, { secretKey: randomBytes(32) });
      const err = await wrong.registerApplication(securityFor('sealedapp'), zone.id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DirectoryError);
      expect((err as DirectoryError).code).toBe('SECRET_KEY_MISMATCH');
      expect((err as Error).message).not.toContain(clientSecret);
      // Verification needs no key: it compares digests.
      expect(await wrong.verifyClientSecret(application.clientId, clientSecret)).toBe(true);
    } finally {
      await storage.close();
    }
  });

  it('seals the admin client\'s secret the same way, and keeps it across restarts', async () => {
    const file = join(tmp, 'sealed-admin.db');
    const key = randomBytes(32);
    let storage = openSqliteStorage({ file });
    const { clientSecret } = await createZoneDirectory(storage, { secretKey: key }).ensureAdminClient();
    await storage.close();
    expect(dumpSqlite(file).filter((v) => v.includes(clientSecret))).toEqual([]);
    storage = openSqliteStorage({ file });
    try {
      expect((await createZoneDirectory(storage, { secretKey: key }).ensureAdminClient()).clientSecret).toBe(clientSecret);
      const err = await createZoneDirectory(storage, { secretKey: randomBytes(32) }).ensureAdminClient().catch((e: unknown) => e);
      expect((err as DirectoryError).code).toBe('SECRET_KEY_MISMATCH');
    } finally {
      await storage.close();
    }
  });

  it('frees a subdomain claimed by a process that died before writing its zone', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const storage = openSqliteStorage({ file: ':memory:', now: () => clock });
    try {
      const dir = createZoneDirectory(storage, { passwordHashing: FAST_SCRYPT });
      // What createZone leaves behind when its process dies right after claiming.
      await storage.setIfAbsent('dir:subdomain:orphan', 'dead-zone-id', { ttlMs: 30_000 });
      const blocked = await dir.createZone({ subdomain: 'orphan' }).catch((e: unknown) => e);
      expect((blocked as DirectoryError).code).toBe('ZONE_SUBDOMAIN_TAKEN');
      clock += 31_000;
      expect((await dir.createZone({ subdomain: 'orphan' })).subdomain).toBe('orphan');
      clock += 3_600_000;
      const taken = await dir.createZone({ subdomain: 'orphan' }).catch((e: unknown) => e);
      expect((taken as DirectoryError).code).toBe('ZONE_SUBDOMAIN_TAKEN');
    } finally {
      await storage.close();
    }
  });

  it('spends the same hashing time for an unknown user as for a wrong password', async () => {
    const storage = openSqliteStorage({ file: ':memory:' });
    // A cost where hashing clearly dominates the storage lookups (~50 ms).
    const dir = createZoneDirectory(storage, { passwordHashing: { N: 2 ** 14, r: 8, p: 1 } });
    try {
      const zone = await dir.createZone({ subdomain: 'timing' });
      await dir.createUser(zone.id, { userName: 'known', email: 'known@example.com', password: 'the-right-one' });
      const time = async (userName: string) => {
        const start = performance.now();
        expect(await dir.verifyPassword(zone.id, userName, 'a-wrong-one')).toBeUndefined();
        return performance.now() - start;
      };
      await time('known');
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 5; i++) {
        known.push(await time('known'));
        unknown.push(await time(`unknown-${i}`));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      expect(median(known)).toBeGreaterThan(10);
      // Without the burned hash an unknown user answers in about 1 ms; the bound leaves room for a busy CI machine.
      expect(median(unknown)).toBeGreaterThan(median(known) * 0.5);
    } finally {
      await storage.close();
    }
  });
});
