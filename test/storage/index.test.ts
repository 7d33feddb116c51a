import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStorage } from '../../src/storage/index.js';

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

  it('rejects with ZG_ERR_STORAGE_UNAVAILABLE when the SQLite file cannot be opened', async () => {
    // A directory where the database file should be: SQLITE_CANTOPEN.
    await expect(openStorage({ kind: 'sqlite', file: dir })).rejects.toMatchObject({
      code: 'ZG_ERR_STORAGE_UNAVAILABLE',
    });
  });

  it('opens the Redis backend for kind redis and rejects quickly when nothing listens', async () => {
    await expect(
      openStorage({ kind: 'redis', url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 }),
    ).rejects.toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
  });
});
