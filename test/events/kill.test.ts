import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli, type RunningCli } from '../support/cli.js';
import { request } from '../support/http.js';
import { startCapture } from './support.js';

/**
 * Nothing is lost when an instance is killed mid-delivery: two real `zonegate start` processes
 * (the build in dist/) share the queue (Redis Streams, or the embedded SQLite in one data directory).
 * The first takes the delivery, the subscriber holds it unanswered, the first is SIGKILLed; the
 * second instance, started afterwards, takes the delivery over once its lease has run out
 * (EVENTS_DELIVERY_TIMEOUT_MS=1000: 3 s) and delivers it, with the same idempotency key.
 */
const ADMIN = 'kill-admin-token-0123456789';
const REDIS_DB = 'redis://127.0.0.1:6379/12';

describe.each([
  ['embedded SQLite', {}],
  ['Redis Streams', { REDIS_URL: REDIS_DB }],
] as const)('an instance killed mid-delivery (%s)', (_name, extra) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-kill-'));
  const children: RunningCli[] = [];
  let capture: Awaited<ReturnType<typeof startCapture>> | undefined;

  afterAll(async () => {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await capture?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    if ('REDIS_URL' in extra) {
      const redis = new Redis(REDIS_DB);
      const keys = await redis.keys('zonegate:*');
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
  });

  it('leaves its delivery to another instance, which delivers it', async () => {
    // The first delivery is held, unanswered, until its instance is gone; later ones are answered.
    capture = await startCapture((_c, n) => (n === 1 ? 'hang' : 200));
    fs.writeFileSync(path.join(dir, 'routes.json'), JSON.stringify({ routes: [] }));
    const env = {
      PATH: process.env.PATH,
      PORT: '0',
      ZONEGATE_DATA_DIR: path.join(dir, 'data'),
      ZONEGATE_SECRET_KEY: Buffer.alloc(32, 9).toString('base64'),
      TENANT_HOST_PATTERN: '^([a-z0-9-]+)\\.localhost$',
      EVENTS_ADMIN_TOKEN: ADMIN,
      EVENTS_DELIVERY_TIMEOUT_MS: '1000',
      ...extra,
    };
    const first = await startCli(['start'], { cwd: dir, env });
    children.push(first);
    const admin = (port: number, method: string, p: string, body?: unknown) =>
      request(port, { method, path: p, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });

    expect((await admin(first.port, 'POST', '/_zonegate/events/subscriptions', { tenant: 'acme', url: `${capture.url}/hook` })).status).toBe(201);
    const id = `survivor-${randomUUID()}`;
    expect((await admin(first.port, 'POST', '/_zonegate/events', { tenant: 'acme', name: 'order.created', data: { n: 1 }, id })).status).toBe(202);
    await capture.until(1);
    const held = capture.received[0]!;
    expect(JSON.parse(held.body).id).toBe(id);

    first.child.kill('SIGKILL');
    await once(first.child, 'exit');

    const second = await startCli(['start'], { cwd: dir, env });
    children.push(second);
    await capture.until(2);
    const delivered = capture.received[1]!;
    expect(JSON.parse(delivered.body).id).toBe(id);
    expect(delivered.headers['idempotency-key']).toBe(held.headers['idempotency-key']);
    // Delivered, and done: not dead, and nothing more arrives (the second instance completed it).
    expect((await admin(second.port, 'GET', '/_zonegate/events/dead-letters')).json()).toEqual([]);
    await new Promise((r) => setTimeout(r, 4000));
    expect(capture.received).toHaveLength(2);
    second.child.kill('SIGTERM');
    await once(second.child, 'exit');
  }, 60_000);
});
