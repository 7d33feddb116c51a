import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/records/migrate.js';
import { openSqliteRecords } from '../../../src/records/sqlite.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import { DirectoryError } from '../../../src/zones/directory/errors.js';
import { describeDirectory, dumpRows } from './directory-contract.js';
import { FAST_HASHING, securityFor } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'zonegate-directory-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function openMigrated(file: string): Promise<RecordsDatabase> {
  const records = openSqliteRecords({ file });
  await migrate(records);
  return records;
}

/** Every value of the directory's rows in the file, as text. */
async function dumpFile(file: string): Promise<string[]> {
  const records = openSqliteRecords({ file });
  try {
    return (await dumpRows(records)).flatMap((row) => Object.values(row).map(String));
  } finally {
    await records.close();
  }
}

// One handle for every "instance": better-sqlite3 waits for another connection's write lock
// synchronously, so two connections of ONE process would each block the event loop the other needs
// to finish its transaction. A process has one handle (src/server/start.ts); instances in separate
// processes share the file through SQLite's own locking.
const suiteFile = join(tmp, 'suite.db');
let suiteHandle: RecordsDatabase | undefined;
describeDirectory('SQLite', {
  open: async () => (suiteHandle ??= openSqliteRecords({ file: suiteFile })),
});

describe('zone directory on a SQLite file across restarts', () => {
  it('keeps N, the client secret, zones and users when the file is reopened', async () => {
    const file = join(tmp, 'restart.db');
    let records = await openMigrated(file);
    let dir = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
    const zone = await dir.createZone({ subdomain: 'provider' });
    const first = await dir.registerApplication(securityFor('myapp'), zone.id);
    const second = await dir.registerApplication(securityFor('otherapp'), zone.id);
    await dir.createUser(zone.id, { userName: 'admin', email: 'admin@example.com', password: 'admin-pass-1', roleCollections: ['myapp_Administrator'] });
    await records.close();

    records = await openMigrated(file);
    dir = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
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
    await records.close();
  });

  it('with a secret key stores the client secret only sealed, and refuses to open it with another key', async () => {
    const file = join(tmp, 'sealed.db');
    const key = randomBytes(32);
    let records = await openMigrated(file);
    const dir = createZoneDirectory(records, { secretKey: key, passwordHashing: FAST_HASHING });
    const zone = await dir.createZone({ subdomain: 'sealed' });
    const { application, clientSecret } = await dir.registerApplication(securityFor('sealedapp'), zone.id);
    await records.close();
    expect((await dumpFile(file)).filter((v) => v.includes(clientSecret))).toEqual([]);

    records = await openMigrated(file);
    try {
      const same = await createZoneDirectory(records, { secretKey: key }).registerApplication(securityFor('sealedapp'), zone.id);
      expect(same.clientSecret).toBe(clientSecret);
      const wrong = createZoneDirectory(records, { secretKey: randomBytes(32) });
      const err = await wrong.registerApplication(securityFor('sealedapp'), zone.id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DirectoryError);
      expect((err as DirectoryError).code).toBe('SECRET_KEY_MISMATCH');
      expect((err as Error).message).not.toContain(clientSecret);
      // Verification needs no key: it compares digests.
      expect(await wrong.verifyClientSecret(application.clientId, clientSecret)).toBe(true);
    } finally {
      await records.close();
    }
  });

  it('seals the admin client\'s secret the same way, and keeps it across restarts', async () => {
    const file = join(tmp, 'sealed-admin.db');
    const key = randomBytes(32);
    let records = await openMigrated(file);
    const { clientSecret } = await createZoneDirectory(records, { secretKey: key }).ensureAdminClient();
    await records.close();
    expect((await dumpFile(file)).filter((v) => v.includes(clientSecret))).toEqual([]);
    records = await openMigrated(file);
    try {
      expect((await createZoneDirectory(records, { secretKey: key }).ensureAdminClient()).clientSecret).toBe(clientSecret);
      const err = await createZoneDirectory(records, { secretKey: randomBytes(32) }).ensureAdminClient().catch((e: unknown) => e);
      expect((err as DirectoryError).code).toBe('SECRET_KEY_MISMATCH');
    } finally {
      await records.close();
    }
  });

  it('keeps nothing of a process that died in the middle of writing a zone', async () => {
    const file = join(tmp, 'died.db');
    await (await openMigrated(file)).close();
    // What a process leaves when it dies after its INSERT and before COMMIT.
    const dying = new Database(file);
    dying.exec('BEGIN IMMEDIATE');
    dying.prepare("INSERT INTO zones (id, subdomain, name, created_at) VALUES ('dead-zone-id', 'orphan', 'orphan', '')").run();
    dying.close();
    const records = await openMigrated(file);
    try {
      const dir = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
      expect(await dir.getZone('dead-zone-id')).toBeUndefined();
      expect((await dir.createZone({ subdomain: 'orphan' })).subdomain).toBe('orphan');
      const taken = await dir.createZone({ subdomain: 'orphan' }).catch((e: unknown) => e);
      expect((taken as DirectoryError).code).toBe('ZONE_SUBDOMAIN_TAKEN');
    } finally {
      await records.close();
    }
  });

  it('passes an unavailable database on as ZG_ERR_DATABASE_UNAVAILABLE (503), for reads and writes', async () => {
    const records = await openMigrated(':memory:');
    const dir = createZoneDirectory(records, { passwordHashing: FAST_HASHING });
    const zone = await dir.createZone({ subdomain: 'closing' });
    await records.close();
    for (const call of [dir.getZone(zone.id), dir.createZone({ subdomain: 'later' }), dir.verifyPassword(zone.id, 'someone', 'a password')]) {
      await expect(call).rejects.toMatchObject({ code: 'ZG_ERR_DATABASE_UNAVAILABLE', status: 503, expose: true });
    }
  });

  it('spends the same hashing work for an unknown user as for a wrong password: a real argon2 verification', async () => {
    const records = await openMigrated(':memory:');
    // Above the production cost, so hashing clearly dominates the database lookups.
    const dir = createZoneDirectory(records, { passwordHashing: { memoryCost: 64 * 1024, timeCost: 2, parallelism: 1 } });
    try {
      const zone = await dir.createZone({ subdomain: 'timing' });
      await dir.createUser(zone.id, { userName: 'known', email: 'known@example.com', password: 'the-right-one' });
      // CPU time (this process's threads, libuv's pool included) shows the work itself; wall time,
      // what an observer sees, follows it but swings with the machine's load, so it is not asserted.
      const measure = async (userName: string) => {
        const cpu = process.cpuUsage();
        expect(await dir.verifyPassword(zone.id, userName, 'a-wrong-one')).toBeUndefined();
        const used = process.cpuUsage(cpu);
        return { cpu: (used.user + used.system) / 1000 };
      };
      await measure('known');
      await measure('unknown-warm'); // makes the decoy hash once
      const known: Array<{ cpu: number }> = [];
      const unknown: Array<{ cpu: number }> = [];
      for (let i = 0; i < 5; i++) {
        known.push(await measure('known'));
        unknown.push(await measure(`unknown-${i}`));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const cpu = { known: median(known.map((m) => m.cpu)), unknown: median(unknown.map((m) => m.cpu)) };
      expect(cpu.known).toBeGreaterThan(10);
      // Without the burned check an unknown user costs well under a millisecond of CPU; the bounds
      // leave room for a busy CI machine.
      expect(cpu.unknown).toBeGreaterThan(cpu.known * 0.5);
    } finally {
      await records.close();
    }
  });
});
