import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { openEventQueue } from '../../src/events/feature.js';
import type { DeliveryMessage, EventQueue } from '../../src/events/queue.js';
import { redisConnectionFromUrl } from '../../src/storage/redis.js';
import { runCli } from '../support/cli.js';

/**
 * `zonegate events dead-letters` and `zonegate events redrive`, the built command (dist/), on the
 * queue a gateway would use: <data dir>/events.db, or Redis with REDIS_URL.
 */
const REDIS_DB = 'redis://127.0.0.1:6379/13';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-events-cli-'));

afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  const redis = new Redis(REDIS_DB);
  const keys = await redis.keys('zonegate:*');
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

const message = (id: string): DeliveryMessage => ({
  deliveryId: id,
  subscriptionId: 'sub-1',
  tenant: 'acme',
  event: { id: `event-${id}`, name: 'order.created', occurredAt: Date.UTC(2026, 11, 3), data: '{}' },
  attempt: 0,
});

async function bury(queue: EventQueue, ids: string[]): Promise<void> {
  await queue.enqueue(ids.map(message));
  for (const c of await queue.claim('test', ids.length)) await queue.deadLetter(c, { ...c.message, attempt: 8 }, 'the endpoint answered 500 (after 8 attempts)');
}

describe.each([
  ['embedded SQLite', {}],
  ['Redis Streams', { REDIS_URL: REDIS_DB, ZONEGATE_SECRET_KEY: Buffer.alloc(32, 3).toString('base64') }],
] as const)('zonegate events (%s)', (name, extra) => {
  const data = path.join(dir, name.replace(/\W/g, ''));
  const env = { PATH: process.env.PATH, ZONEGATE_DATA_DIR: data, ...extra };
  const settings = {
    dataDir: data,
    storage: 'REDIS_URL' in extra ? { kind: 'redis' as const, connection: redisConnectionFromUrl(REDIS_DB) } : { kind: 'sqlite' as const, file: path.join(data, 'zonegate.db') },
  };

  it('lists the dead letters, redrives one and then all, and says when an id is not one', async () => {
    const queue = await openEventQueue({ settings });
    await bury(queue, ['d-1', 'd-2', 'd-3']);

    const listed = await runCli(['events', 'dead-letters'], { cwd: dir, env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^d-1 {2}\S+ {2}acme {2}order\.created \(event-d-1\) {2}subscription sub-1: the endpoint answered 500 \(after 8 attempts\)$/m);
    expect(listed.stdout).toMatch(/3 dead letters; zonegate events redrive/);
    const json = await runCli(['events', 'dead-letters', '--json'], { cwd: dir, env });
    expect(JSON.parse(json.stdout).map((l: { deliveryId: string }) => l.deliveryId).sort()).toEqual(['d-1', 'd-2', 'd-3']);

    expect(await runCli(['events', 'redrive', 'd-2'], { cwd: dir, env })).toMatchObject({ code: 0, stdout: 'Redriven d-2\n' });
    expect(await runCli(['events', 'redrive', 'd-2'], { cwd: dir, env })).toMatchObject({ code: 1, stderr: 'zonegate: d-2 is not a dead letter\n' });
    const all = await runCli(['events', 'redrive', '--all'], { cwd: dir, env });
    expect(all.code).toBe(0);
    expect(all.stdout.trim().split('\n').sort()).toEqual(['Redriven d-1', 'Redriven d-3']);
    expect((await runCli(['events', 'dead-letters'], { cwd: dir, env })).stdout).toBe('No dead letters.\n');
    // Back in the queue, their attempts reset.
    const back = await queue.claim('test', 10);
    expect(back.map((c) => c.message.deliveryId).sort()).toEqual(['d-1', 'd-2', 'd-3']);
    expect(back.every((c) => c.message.attempt === 0)).toBe(true);
    for (const c of back) await queue.complete(c);
    await queue.close();
  }, 60_000);
});

it('refuses usage errors with exit 2', async () => {
  const env = { PATH: process.env.PATH, ZONEGATE_DATA_DIR: path.join(dir, 'usage') };
  expect((await runCli(['events', 'redrive'], { cwd: dir, env })).code).toBe(2);
  expect((await runCli(['events', 'redrive', 'x', '--all'], { cwd: dir, env })).code).toBe(2);
  expect((await runCli(['events', 'redrive', 'x', 'y'], { cwd: dir, env })).code).toBe(2);
  expect((await runCli(['events', 'nothing'], { cwd: dir, env })).code).toBe(2);
  const help = await runCli(['events', '--help'], { cwd: dir, env });
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('zonegate events dead-letters [--json]');
});
