import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import { describeLock } from '../storage/lock-suite.js';
import { describeSessionStore } from './store-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'zonegate-sessions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sessionsFile = join(dir, 'sessions.db');
describeSessionStore('sqlite', {
  open: async () => openSqliteStorage({ file: sessionsFile }),
  // The database file and its write-ahead log, byte for byte: what a copied file would reveal.
  dump: async () =>
    [sessionsFile, `${sessionsFile}-wal`]
      .filter((f) => existsSync(f))
      .map((f) => readFileSync(f).toString('latin1'))
      .join('\n'),
});

const lockFile = join(dir, 'locks.db');
describeLock('sqlite', async () => openSqliteStorage({ file: lockFile }));
