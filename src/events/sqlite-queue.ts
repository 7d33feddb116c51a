/**
 * The embedded delivery queue: a SQLite file of its own beside the store (`<data dir>/events.db`),
 * usable by several processes on one host. A claim is one write transaction that leases the due rows
 * to the consumer until `lease_until`; a consumer that dies leaves its rows to be claimed again once
 * that passes. Completing deletes the row, so a message leaves only after its delivery was answered.
 */
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { createPrivateFile, makePrivateDir } from '../storage/private-files.js';
import type { Claimed, DeadLetter, DeliveryMessage, EventQueue, QueueOptions } from './queue.js';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    message TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    dead INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    dead_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS deliveries_ready ON deliveries (dead, due_at);
`;

export function openSqliteQueue(file: string, options: QueueOptions): EventQueue {
  const now = options.now ?? Date.now;
  if (file !== ':memory:') {
    makePrivateDir(dirname(file));
    createPrivateFile(file);
  }
  const db = new Database(file, { timeout: 5000 });
  if (file !== ':memory:') {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.exec(SCHEMA);

  const insert = db.prepare('INSERT OR IGNORE INTO deliveries (id, message, due_at) VALUES (?, ?, ?)');
  const due = db.prepare<[number, number, number]>(
    'SELECT id, message FROM deliveries WHERE dead = 0 AND due_at <= ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY due_at LIMIT ?',
  );
  const lease = db.prepare('UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id = ?');
  const remove = db.prepare('DELETE FROM deliveries WHERE id = ? AND lease_owner = ?');
  const later = db.prepare('UPDATE deliveries SET message = ?, due_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?');
  const bury = db.prepare('UPDATE deliveries SET message = ?, dead = 1, reason = ?, dead_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?');
  const buried = db.prepare('SELECT message, reason, dead_at FROM deliveries WHERE dead = 1 ORDER BY dead_at');
  const buriedOne = db.prepare('SELECT message FROM deliveries WHERE id = ? AND dead = 1');
  const raise = db.prepare('UPDATE deliveries SET message = ?, dead = 0, reason = NULL, dead_at = NULL, due_at = ? WHERE id = ? AND dead = 1');
  const count = db.prepare('SELECT COUNT(*) AS n FROM deliveries WHERE dead = 0');

  // IMMEDIATE: the write lock is taken before the read, so two processes never lease the same rows.
  const claimTx = db.transaction((consumer: string, max: number) => {
    const at = now();
    const rows = due.all(at, at, max) as { id: string; message: string }[];
    for (const r of rows) lease.run(consumer, at + options.leaseMs, r.id);
    return rows;
  });
  const enqueueTx = db.transaction((messages: readonly DeliveryMessage[]) => {
    const at = now();
    for (const m of messages) insert.run(m.deliveryId, JSON.stringify(m), at);
  });

  // The handle names the consumer: a consumer whose lease ran out (and whose row another took) can no
  // longer complete or reschedule it.
  const handleOf = (id: string, consumer: string) => `${consumer}\n${id}`;
  const parse = (handle: string) => {
    const nl = handle.indexOf('\n');
    return { consumer: handle.slice(0, nl), id: handle.slice(nl + 1) };
  };

  return {
    kind: 'sqlite',
    async enqueue(messages) {
      enqueueTx.immediate(messages);
    },
    async claim(consumer, max) {
      const rows = claimTx.immediate(consumer, max);
      return rows.map((r) => ({ handle: handleOf(r.id, consumer), message: JSON.parse(r.message) as DeliveryMessage }));
    },
    async complete(claimed: Claimed) {
      const { consumer, id } = parse(claimed.handle);
      remove.run(id, consumer);
    },
    async retry(claimed, next, dueAt) {
      const { consumer, id } = parse(claimed.handle);
      later.run(JSON.stringify(next), dueAt, id, consumer);
    },
    async deadLetter(claimed, next, reason) {
      const { consumer, id } = parse(claimed.handle);
      bury.run(JSON.stringify(next), reason, now(), id, consumer);
    },
    async deadLetters(): Promise<DeadLetter[]> {
      return (buried.all() as { message: string; reason: string; dead_at: number }[]).map((r) => ({
        message: JSON.parse(r.message) as DeliveryMessage,
        reason: r.reason,
        deadAt: r.dead_at,
      }));
    },
    async redrive(deliveryId) {
      const row = buriedOne.get(deliveryId) as { message: string } | undefined;
      if (!row) return false;
      const message: DeliveryMessage = { ...(JSON.parse(row.message) as DeliveryMessage), attempt: 0 };
      return raise.run(JSON.stringify(message), now(), deliveryId).changes > 0;
    },
    async pending() {
      return (count.get() as { n: number }).n;
    },
    async close() {
      db.close();
    },
  };
}
