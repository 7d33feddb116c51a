import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStorage, StorageOpenError } from '../../src/storage/index.js';

const dir = mkdtempSync(join(tmpdir(), 'zonegate-storage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openStorage', () => {
  it('opens the SQLite backend for kind sqlite', async () => {
    const s = await openStorage({ kind: 'sqlite', file: join(dir, 'a', 'store.db') });
    try {
      expect(s.kind).toBe('sqlite');
      await s.set('k', 'v');
      expect(await s.get('k')).toBe('v');
    } finally {
      await s.close();
    }
  });

  it('rejects with a StorageOpenError naming the file and the cause when the SQLite file cannot be opened', async () => {
    // A directory where the database file should be: SQLITE_CANTOPEN.
    const err = await openStorage({ kind: 'sqlite', file: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageOpenError);
    expect((err as Error).message).toMatch(new RegExp(`^cannot open the SQLite store ${dir} \\(ZONEGATE_DATA_DIR\\): .*SQLITE_CANTOPEN`));
    expect((err as Error).cause).toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
  });

  it('opens the Redis backend for kind redis and rejects quickly, naming the URL without its password, when nothing listens', async () => {
    const err = await openStorage({ kind: 'redis', url: 'redis://:hunter2@127.0.0.1:1', connectTimeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageOpenError);
    expect((err as Error).message).toMatch(/^cannot use Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect((err as Error).message).not.toContain('hunter2');
  });
});
