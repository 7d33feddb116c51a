import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../src/log.js';
import { migrate } from '../../../src/records/migrate.js';
import { openSqliteRecords } from '../../../src/records/sqlite.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { createKeyStore } from '../../../src/zones/keys/keystore.js';
import { describeKeyStore, pemBody } from './keystore-contract.js';

const tmp = mkdtempSync(join(tmpdir(), 'zonegate-keystore-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// One handle for every "instance", as for the directory (test/zones/directory/directory.sqlite.test.ts):
// two connections of one process would block each other's event loop on SQLite's write lock.
let suiteHandle: RecordsDatabase | undefined;
describeKeyStore('SQLite', { open: async () => (suiteHandle ??= openSqliteRecords({ file: join(tmp, 'suite.db') })) });

async function openMigrated(file: string): Promise<RecordsDatabase> {
  const records = openSqliteRecords({ file });
  await migrate(records);
  return records;
}

describe('zone key store on a SQLite file', () => {
  it('keeps the keys across a reopen of the file, and the file and its WAL hold no private key', async () => {
    const dir = join(tmp, 'dump');
    const file = join(dir, 'records.db');
    const secretKey = new Uint8Array(randomBytes(32));
    const options = { logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, secretKey };
    const records = await openMigrated(file);
    const keys = createKeyStore({ ...options, records });
    const signing = await keys.signingKey('zone-a');
    const rotated = await keys.rotateKeys('zone-a');
    const pem = signing.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const der = signing.privateKey.export({ format: 'der', type: 'pkcs8' });
    const dump = () => readdirSync(dir).map((name) => readFileSync(join(dir, name)).toString('latin1')).join('\n');
    // Read while the database is open (the WAL still holds the rows) and after it is closed (checkpointed).
    for (const phase of ['open', 'closed']) {
      if (phase === 'closed') await records.close();
      expect(dump(), phase).not.toContain('PRIVATE KEY');
      expect(dump(), phase).not.toContain(pemBody(pem));
      expect(dump(), phase).not.toContain(der.subarray(0, 64).toString('latin1'));
    }
    const again = await openMigrated(file);
    try {
      const reopened = createKeyStore({ ...options, records: again });
      expect((await reopened.signingKey('zone-a')).kid).toBe(rotated);
      expect(await reopened.verificationKey('zone-a', signing.kid)).toBeDefined();
    } finally {
      await again.close();
    }
  });

  it('passes an unavailable database on as ZG_ERR_DATABASE_UNAVAILABLE (503)', async () => {
    const records = await openMigrated(':memory:');
    const keys = createKeyStore({ records, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, cacheMs: 0 });
    await keys.signingKey('zone-closing');
    await records.close();
    for (const call of [() => keys.signingKey('zone-closing'), () => keys.rotateKeys('zone-closing'), () => keys.deleteKeys('zone-closing')]) {
      await expect(call()).rejects.toMatchObject({ code: 'ZG_ERR_DATABASE_UNAVAILABLE', status: 503 });
    }
  });
});
