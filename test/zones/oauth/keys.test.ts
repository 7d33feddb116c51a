import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../src/log.js';
import { openSqliteStorage } from '../../../src/storage/sqlite.js';
import { createKeyStore } from '../../../src/zones/keys/keystore.js';
import { Browser, REDIRECT, loginForCode, startZones } from './harness.js';

const tmp = mkdtempSync(join(tmpdir(), 'zonegate-keys-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('zone key store', () => {
  it('generates a key on first use, persists it across a restart, and never logs the private key', async () => {
    const file = join(tmp, 'restart.db');
    const logger = createMemoryLogger();
    let storage = openSqliteStorage({ file });
    const first = await createKeyStore({ storage, logger, maxTokenValiditySeconds: 3600 }).signingKey('zone-1');
    await storage.close();
    storage = openSqliteStorage({ file });
    const again = await createKeyStore({ storage, logger, maxTokenValiditySeconds: 3600 }).signingKey('zone-1');
    expect(again.kid).toBe(first.kid);
    expect(logger.lines.join('\n')).not.toMatch(/PRIVATE KEY|"d":/);
    await storage.close();
  });

  it('gives each zone its own key', async () => {
    const storage = openSqliteStorage({ file: join(tmp, 'zones.db') });
    const keys = createKeyStore({ storage, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600 });
    const [a, b] = await Promise.all([keys.signingKey('zone-a'), keys.signingKey('zone-b')]);
    expect(a.kid).not.toBe(b.kid);
    expect(await keys.verificationKey('zone-b', a.kid)).toBeUndefined();
    await storage.close();
  });

  it('creates exactly one first key when two instances start at once', async () => {
    const file = join(tmp, 'race.db');
    const s1 = openSqliteStorage({ file });
    const s2 = openSqliteStorage({ file });
    const k1 = createKeyStore({ storage: s1, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600 });
    const k2 = createKeyStore({ storage: s2, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600 });
    const [a, b] = await Promise.all([k1.signingKey('z'), k2.signingKey('z')]);
    expect(a.kid).toBe(b.kid);
    await s1.close();
    await s2.close();
  });

  it('rotates with overlap: the new key signs, the old stays published until the longest validity has passed', async () => {
    let clock = Date.now();
    const storage = openSqliteStorage({ file: join(tmp, 'rotate.db') });
    const keys = createKeyStore({ storage, logger: createMemoryLogger(), maxTokenValiditySeconds: 600, now: () => clock, cacheMs: 0 });
    const old = await keys.signingKey('z');
    const kid = await keys.rotateKeys('z');
    expect(kid).not.toBe(old.kid);
    expect((await keys.signingKey('z')).kid).toBe(kid);
    expect((await keys.tokenKeys('z')).map((k) => k.kid)).toEqual([kid, old.kid]);
    expect(await keys.verificationKey('z', old.kid)).toBeDefined();
    clock += 600_000; // still inside the 60 s leeway
    expect((await keys.tokenKeys('z')).map((k) => k.kid)).toEqual([kid, old.kid]);
    clock += 61_000;
    expect((await keys.tokenKeys('z')).map((k) => k.kid)).toEqual([kid]);
    expect(await keys.verificationKey('z', old.kid)).toBeUndefined();
    await storage.close();
  });

  it('another instance sees a rotation for verification without waiting for its cache', async () => {
    const file = join(tmp, 'two.db');
    const s1 = openSqliteStorage({ file });
    const s2 = openSqliteStorage({ file });
    const k1 = createKeyStore({ storage: s1, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600 });
    const k2 = createKeyStore({ storage: s2, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, cacheMs: 60_000 });
    await k2.signingKey('z');
    await new Promise((r) => setTimeout(r, 1100));
    const kid = await k1.rotateKeys('z');
    expect(await k2.verificationKey('z', kid)).toBeDefined();
    await s1.close();
    await s2.close();
  });
});

describe('rotation through the identity server', () => {
  it('tokens signed before a rotation still verify; new tokens carry the new kid; token_keys lists both', async () => {
    const h = await startZones();
    try {
      const { code } = await loginForCode(h, new Browser(h), 'acme', { userName: 'alice' });
      const before = (await h.token('acme', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT })).json().access_token;
      const [kid] = await h.server.rotateKeys(h.acme.id);
      const after = (await h.token('acme', { grant_type: 'client_credentials' })).json().access_token;
      expect(decodeProtectedHeader(after).kid).toBe(kid);
      expect(decodeProtectedHeader(before).kid).not.toBe(kid);
      const published = (await h.call('acme', { path: '/token_keys' })).json().keys as { kid: string; value: string }[];
      expect(published.map((k) => k.kid)).toEqual([kid, decodeProtectedHeader(before).kid]);
      for (const token of [before, after]) {
        const key = published.find((k) => k.kid === decodeProtectedHeader(token).kid)!;
        await expect(jwtVerify(token, createPublicKey(key.value))).resolves.toBeDefined();
      }
      expect((await h.call('acme', { path: '/userinfo', headers: { authorization: `Bearer ${before}` } })).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
