/**
 * The invitation store (src/zones/invitations.ts) on the real embedded store: references are
 * stored only hashed, redeemed at most once however many take at once, withdrawn when a new one is
 * issued, and refused once expired.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStorage } from '../../src/storage/sqlite.js';
import type { Storage } from '../../src/storage/types.js';
import { createInvitationStore, invitationHash } from '../../src/zones/invitations.js';

let dir: string;
let storage: Storage;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zonegate-invitations-'));
  storage = openSqliteStorage({ file: path.join(dir, 'store.db') });
});
afterAll(async () => {
  await storage.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('invitations', () => {
  it('stores the reference only as its hash, and redeems it once among concurrent takers', async () => {
    const store = createInvitationStore(storage);
    const { reference, expiresAt } = await store.issue({ zoneId: 'z1', userId: 'u1', returnUrl: 'http://t.localhost' });
    expect(reference).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresAt).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000);
    expect(await storage.get(`zinv:${reference}`)).toBeUndefined();
    expect(await storage.get(`zinv:${invitationHash(reference)}`)).toBeDefined();
    expect(await store.find(reference)).toMatchObject({ zoneId: 'z1', userId: 'u1', returnUrl: 'http://t.localhost' });
    const takers = await Promise.all(Array.from({ length: 8 }, () => createInvitationStore(storage).take(reference)));
    expect(takers.filter((t) => t !== undefined)).toHaveLength(1);
    expect(await store.find(reference)).toBeUndefined();
  });

  it('a new invitation for the user withdraws the previous one', async () => {
    const store = createInvitationStore(storage);
    const first = await store.issue({ zoneId: 'z1', userId: 'u2' });
    const second = await store.issue({ zoneId: 'z1', userId: 'u2' });
    expect(await store.find(first.reference)).toBeUndefined();
    expect(await store.find(second.reference)).toBeDefined();
  });

  it('refuses an expired reference and anything not shaped like one', async () => {
    let now = Date.now();
    const store = createInvitationStore(storage, { ttlMs: 60_000, now: () => now });
    const { reference } = await store.issue({ zoneId: 'z1', userId: 'u3' });
    now += 60_001;
    expect(await store.find(reference)).toBeUndefined();
    expect(await store.take(reference)).toBeUndefined();
    expect(await store.find('')).toBeUndefined();
    expect(await store.find('../../etc')).toBeUndefined();
  });
});
