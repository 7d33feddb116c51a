import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import { describeStorageContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'zonegate-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const contractFile = join(dir, 'contract.db');
describeStorageContract('sqlite', async () => openSqliteStorage({ file: contractFile }));

describe('SQLite storage', () => {
  it('creates the parent folder and survives close and reopen', async () => {
    const file = join(dir, 'nested', 'deeper', 'store.db');
    const first = openSqliteStorage({ file });
    expect(existsSync(join(dir, 'nested', 'deeper'))).toBe(true);
    await first.set('kept', 'value 🔒');
    await first.set('expiring', 'v', { ttlMs: 60_000 });
    await first.set('gone', 'v', { ttlMs: 100 });
    await first.increment('counter');
    await first.addToIndex('ix', 'member');
    await first.close();

    await sleep(150);
    const second = openSqliteStorage({ file });
    try {
      expect(await second.get('kept')).toBe('value 🔒');
      expect(await second.ttl('expiring')).toBeGreaterThan(59_000);
      expect(await second.get('gone')).toBeUndefined();
      expect(await second.increment('counter')).toBe(2);
      expect(await second.listIndex('ix')).toEqual(['member']);
    } finally {
      await second.close();
    }
  });

  it("moves an earlier release's WITHOUT ROWID table into a rowid one, rows and expiries kept, once", async () => {
    const file = join(dir, 'earlier.db');
    const earlier = new Database(file);
    earlier.pragma('journal_mode = WAL');
    // The schema releases before issue 18 made, verbatim.
    earlier.exec(`CREATE TABLE kv (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID;
      CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;`);
    const session = 'x'.repeat(2700);
    earlier.prepare('INSERT INTO kv VALUES (?, ?, ?)').run('sess:a', session, Date.now() + 60_000);
    earlier.prepare('INSERT INTO kv VALUES (?, ?, ?)').run('kept', 'forever', null);
    earlier.prepare('INSERT INTO kv VALUES (?, ?, ?)').run('ended', 'v', Date.now() - 1);
    earlier.close();

    // Two processes' worth of openers at once: the second finds the table moved.
    const [first, second] = [openSqliteStorage({ file }), openSqliteStorage({ file })];
    try {
      expect(await second.get('sess:a')).toBe(session);
      expect(await first.ttl('sess:a')).toBeGreaterThan(59_000);
      expect(await first.get('kept')).toBe('forever');
      expect(await first.get('ended')).toBeUndefined();
      await first.set('new', 'row');
      expect(await second.get('new')).toBe('row');
    } finally {
      await first.close();
      await second.close();
    }
    const raw = new Database(file);
    try {
      const tables = raw.prepare<[], { name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all();
      expect(tables.map((t) => t.name).sort()).toEqual(['changes', 'changes_pruned', 'idx', 'kv']);
      expect(tables.find((t) => t.name === 'kv')!.sql).not.toMatch(/WITHOUT ROWID/i);
      expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name = 'kv_expires_at'").get()).toEqual({ n: 1 });
    } finally {
      raw.close();
    }
  });

  it('uses write-ahead logging for files', async () => {
    const file = join(dir, 'wal.db');
    await openSqliteStorage({ file }).close();
    const raw = new Database(file);
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      raw.close();
    }
  });

  it('works in memory', async () => {
    const s = openSqliteStorage({ file: ':memory:' });
    await s.set('k', 'v');
    expect(await s.get('k')).toBe('v');
    await s.close();
  });

  it('sweeps expired rows out of the file, not only out of sight', async () => {
    const file = join(dir, 'sweep.db');
    const s = openSqliteStorage({ file, sweepIntervalMs: 50 });
    const raw = new Database(file);
    try {
      await s.set('short', 'v', { ttlMs: 30 });
      await s.set('long', 'v');
      const count = raw.prepare<[string], { n: number }>('SELECT count(*) AS n FROM kv WHERE key = ?');
      expect(count.get('short')?.n).toBe(1);
      await sleep(200);
      expect(count.get('short')?.n).toBe(0);
      expect(count.get('long')?.n).toBe(1);
    } finally {
      raw.close();
      await s.close();
    }
  });

  it('tells other processes which key changed (the change log), and forget-everything only to one that fell behind its pruning', async () => {
    const file = join(dir, 'changes.db');
    let t = 1_000_000;
    const writer = openSqliteStorage({ file, now: () => t, sweepIntervalMs: 3_600_000 });
    // The one that prunes: its sweep runs every 20 ms, keeping changes for a minute of the clock.
    const pruner = openSqliteStorage({ file, now: () => t, sweepIntervalMs: 20, changeLogMs: 60_000 });
    const reader = openSqliteStorage({ file, now: () => t, sweepIntervalMs: 3_600_000 });
    const raw = new Database(file);
    const heard: (string | undefined)[] = [];
    reader.onForeignChange((k) => heard.push(k));
    const poll = async () => {
      await sleep(30);
      expect(reader.changesTracked()).toBe(true);
    };
    const logged = () => raw.prepare<[], { n: number }>('SELECT count(*) AS n FROM changes').get()!.n;
    try {
      await writer.set('sess:a', '1');
      await writer.set('sess:b', '1');
      await poll();
      // Unannounced writes: nothing to forget.
      expect(heard).toEqual([]);
      await writer.setIfPresent('sess:a', '2', { announce: true });
      await writer.delete('sess:b', { announce: true });
      // A delete of nothing changed nothing: not logged.
      await writer.delete('sess:none', { announce: true });
      await writer.announce('tenantcfg:acme');
      await poll();
      expect(heard).toEqual(['sess:a', 'sess:b', 'tenantcfg:acme']);
      heard.length = 0;

      // The reader looks away for longer than the log keeps changes; meanwhile two more changes, and
      // the log is pruned past the first (the newest row always stays: the next seq follows it).
      await writer.setIfPresent('sess:a', '3', { announce: true });
      await writer.announce('tenantcfg:acme');
      expect(logged()).toBe(5);
      t += 61_000;
      await writer.set('tick', 'x');
      await sleep(100);
      expect(logged()).toBe(1);
      await poll();
      // It cannot know what it missed: it forgets everything, once, and follows the log again.
      expect(heard).toEqual([undefined]);
      heard.length = 0;
      await writer.setIfPresent('sess:a', '4', { announce: true });
      await poll();
      expect(heard).toEqual(['sess:a']);
    } finally {
      raw.close();
      await Promise.all([writer.close(), pruner.close(), reader.close()]);
    }
  });

  it('a process more than 10,000 changes behind forgets everything once instead of reading them one by one', async () => {
    const file = join(dir, 'backlog.db');
    const writer = openSqliteStorage({ file });
    const reader = openSqliteStorage({ file });
    const heard: (string | undefined)[] = [];
    reader.onForeignChange((k) => heard.push(k));
    try {
      for (let i = 0; i <= 10_000; i++) await writer.announce(`sess:${i}`);
      await sleep(30);
      expect(reader.changesTracked()).toBe(true);
      expect(heard).toEqual([undefined]);
      // ...and follows the log from its end.
      await writer.announce('sess:next');
      await sleep(30);
      expect(reader.changesTracked()).toBe(true);
      expect(heard).toEqual([undefined, 'sess:next']);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  it('treats an expired row as absent even before the sweep has run (injected clock)', async () => {
    let t = 1_000_000;
    const s = openSqliteStorage({ file: ':memory:', now: () => t, sweepIntervalMs: 3_600_000 });
    await s.set('k', 'v', { ttlMs: 1_000 });
    t += 999;
    expect(await s.ttl('k')).toBe(1);
    t += 1;
    expect(await s.get('k')).toBeUndefined();
    expect(await s.setIfAbsent('k', 'new')).toBe(true);
    expect(await s.get('k')).toBe('new');
    await s.close();
  });

  it('answers ZG_ERR_STORAGE_UNAVAILABLE when another connection holds the write lock', async () => {
    const file = join(dir, 'locked.db');
    const s = openSqliteStorage({ file, busyTimeoutMs: 200 });
    await s.set('k', '1');
    const raw = new Database(file, { timeout: 0 });
    raw.exec('BEGIN EXCLUSIVE');
    try {
      const started = Date.now();
      await expect(s.increment('k')).rejects.toMatchObject({ code: 'ZG_ERR_STORAGE_UNAVAILABLE' });
      // It waits out its busy timeout, then gives up: a 503, never an unbounded hang.
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      raw.exec('ROLLBACK');
      raw.close();
    }
    expect(await s.increment('k')).toBe(2);
    await s.close();
  });
});
