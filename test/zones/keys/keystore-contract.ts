/**
 * The signing-key store on the records database (issue 19), run against every records backend: keys
 * are records (they survive a new store), the database decides races (one active key per zone, a
 * partial unique index; rotations in a transaction that locks the active row), keys are sealed at
 * rest and bound to their zone and kid, and a zone's keys verify only its own tokens.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../src/log.js';
import { migrate } from '../../../src/records/migrate.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { createKeyStore, type KeyStore, type KeyStoreOptions } from '../../../src/zones/keys/keystore.js';

export interface KeyStoreBackend {
  /**
   * A handle on the SAME database each call: a NEW one (own connections) where the backend serves
   * several at once in one process (PostgreSQL), so races go through the database itself.
   */
  open(): Promise<RecordsDatabase>;
}

type KeyRow = { kid: string; sealed_pem: string; active: number; publish_until: number | null };

/** The PKCS#8 body of a private key as PEM carries it (base64 lines); any 60 characters of it would do. */
export function pemBody(pem: string): string {
  return pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('').slice(0, 60);
}

const zoneId = (label: string) => `${label}-${randomUUID()}`;

export function describeKeyStore(name: string, backend: KeyStoreBackend): void {
  describe(`zone key store on ${name}`, () => {
    const handles: RecordsDatabase[] = [];
    let db: RecordsDatabase;
    const secretKey = new Uint8Array(randomBytes(32));

    beforeAll(async () => {
      for (let i = 0; i < 3; i++) handles.push(await backend.open());
      await migrate(handles[0]!);
      db = handles[0]!;
    });
    afterAll(async () => {
      await Promise.all([...new Set(handles)].map((h) => h.close()));
    });

    /** A store as one gateway instance has it: on handle `i`, with the secret key. */
    const store = (i = 0, options: Partial<KeyStoreOptions> = {}): KeyStore =>
      createKeyStore({ records: handles[i % handles.length]!, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, secretKey, ...options });

    const rows = (zone: string) =>
      db.all<KeyRow>('SELECT kid, sealed_pem, active, publish_until FROM signing_keys WHERE zone_id = $1 ORDER BY created_at', [zone]);

    it('generates a key on first use and keeps it: a new store (another instance, a restart) signs with the same kid', async () => {
      const zone = zoneId('keep');
      const logger = createMemoryLogger('debug');
      const first = await store(0, { logger }).signingKey(zone);
      const again = await store(1).signingKey(zone);
      expect(again.kid).toBe(first.kid);
      expect(again.privateKey.export({ format: 'pem', type: 'pkcs8' })).toBe(first.privateKey.export({ format: 'pem', type: 'pkcs8' }));
      expect(logger.lines.join('\n')).toMatch(/zone signing key created/);
      expect(logger.lines.join('\n')).not.toMatch(/PRIVATE KEY|"d":/);
      expect(await rows(zone)).toEqual([expect.objectContaining({ kid: first.kid, active: 1, publish_until: null })]);
    });

    it('two instances racing for the first key of a zone agree on one kid; the table holds one active key', async () => {
      const zone = zoneId('race');
      const [a, b] = [store(0), store(1)];
      const kids = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).signingKey(zone).then((k) => k.kid)));
      expect(new Set(kids).size).toBe(1);
      const stored = await rows(zone);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ kid: kids[0], active: 1 });
    });

    it('eight instances each generating a first key at once: the database keeps one, and all of them use it', async () => {
      const zone = zoneId('race8');
      const stores = Array.from({ length: 8 }, (_, i) => store(i));
      const kids = await Promise.all(stores.map((s) => s.signingKey(zone).then((k) => k.kid)));
      expect(new Set(kids).size).toBe(1);
      expect(await rows(zone)).toEqual([expect.objectContaining({ kid: kids[0], active: 1 })]);
      // And their published sets agree.
      for (const s of stores) expect((await s.tokenKeys(zone)).map((k) => k.kid)).toEqual([kids[0]]);
    });

    it('rotates with overlap: the new key signs, the old stays published for the longest validity plus 60 s, then is dropped', async () => {
      const zone = zoneId('rotate');
      let clock = Date.now();
      const keys = store(0, { maxTokenValiditySeconds: 600, now: () => clock, cacheMs: 0 });
      const old = await keys.signingKey(zone);
      clock += 1000;
      const kid = await keys.rotateKeys(zone);
      expect(kid).not.toBe(old.kid);
      expect((await keys.signingKey(zone)).kid).toBe(kid);
      expect((await keys.tokenKeys(zone)).map((k) => k.kid)).toEqual([kid, old.kid]);
      expect(await keys.verificationKey(zone, old.kid)).toBeDefined();
      expect(await rows(zone)).toEqual([
        expect.objectContaining({ kid: old.kid, active: 0, publish_until: clock + 660_000 }),
        expect.objectContaining({ kid, active: 1, publish_until: null }),
      ]);
      clock += 600_000; // still inside the 60 s leeway
      expect((await keys.tokenKeys(zone)).map((k) => k.kid)).toEqual([kid, old.kid]);
      clock += 61_000;
      expect((await keys.tokenKeys(zone)).map((k) => k.kid)).toEqual([kid]);
      expect(await keys.verificationKey(zone, old.kid)).toBeUndefined();
      // The next rotation removes the expired key's row; the one it rotates out stays, published.
      const third = await keys.rotateKeys(zone);
      expect((await rows(zone)).map((r) => [r.kid, r.active])).toEqual([
        [kid, 0],
        [third, 1],
      ]);
    });

    it('another instance sees a rotation for verification without waiting for its cache', async () => {
      const zone = zoneId('seen');
      const other = store(1, { cacheMs: 60_000 });
      await other.signingKey(zone);
      await new Promise((r) => setTimeout(r, 1100));
      const kid = await store(0).rotateKeys(zone);
      expect(await other.verificationKey(zone, kid)).toBeDefined();
    });

    it('concurrent rotations on several instances lose none: every new key is published, exactly one is active', async () => {
      const zone = zoneId('rotations');
      const stores = [store(0, { cacheMs: 0 }), store(1, { cacheMs: 0 }), store(2, { cacheMs: 0 })];
      const first = await stores[0]!.signingKey(zone);
      const kids = await Promise.all(stores.map((s) => s.rotateKeys(zone)));
      const stored = await rows(zone);
      expect(stored.filter((r) => r.active === 1)).toHaveLength(1);
      expect(kids).toContain(stored.find((r) => r.active === 1)!.kid);
      const published = (await store(0, { cacheMs: 0 }).tokenKeys(zone)).map((k) => k.kid);
      expect(published.sort()).toEqual([first.kid, ...kids].sort());
      for (const s of stores) expect((await s.signingKey(zone)).kid).toBe(stored.find((r) => r.active === 1)!.kid);
    });

    it('rotating a zone that has no key yet makes its first key, also racing a first use', async () => {
      const zone = zoneId('fresh');
      const [kid, used] = await Promise.all([store(0).rotateKeys(zone), store(1).signingKey(zone)]);
      const stored = await rows(zone);
      expect(stored.filter((r) => r.active === 1)).toHaveLength(1);
      expect(stored.map((r) => r.kid)).toContain(kid);
      expect(stored.map((r) => r.kid)).toContain(used.kid);
    });

    it('deleteKeys removes the rows: the zone then gets a new key, and the old kid verifies nowhere', async () => {
      const zone = zoneId('delete');
      const keys = store(0, { cacheMs: 0 });
      const old = await keys.signingKey(zone);
      await keys.rotateKeys(zone);
      await keys.deleteKeys(zone);
      expect(await rows(zone)).toEqual([]);
      const other = store(1, { cacheMs: 0 });
      expect(await other.verificationKey(zone, old.kid)).toBeUndefined();
      expect((await keys.signingKey(zone)).kid).not.toBe(old.kid);
    });

    it('keeps private keys only sealed: no PEM in the database, and a row copied to another zone or kid does not open', async () => {
      const victim = zoneId('victim');
      const attacker = zoneId('attacker');
      const keys = store(0, { cacheMs: 0 });
      const signing = await keys.signingKey(victim);
      await keys.rotateKeys(victim);
      const pem = signing.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
      const all = await db.all<{ sealed_pem: string }>('SELECT sealed_pem FROM signing_keys');
      for (const { sealed_pem } of all) {
        expect(sealed_pem).not.toContain('PRIVATE KEY');
        expect(sealed_pem).not.toContain(pemBody(pem));
        expect(JSON.parse(sealed_pem)).toMatchObject({ alg: 'A256GCM' });
      }

      // Someone who can write the database copies the victim's key onto their own zone, hoping to
      // sign tokens the victim's resource servers accept (the kid is the same).
      await db.run(
        `INSERT INTO signing_keys (zone_id, kid, sealed_pem, created_at, publish_until, active)
         SELECT $1, kid, sealed_pem, created_at, publish_until, active FROM signing_keys WHERE zone_id = $2 AND active = 1`,
        [attacker, victim],
      );
      await expect(keys.signingKey(attacker)).rejects.toThrow(/cannot be opened/);
      await expect(keys.tokenKeys(attacker)).rejects.toThrow(/cannot be opened/);

      // The same zone, the key relabelled: the kid is bound too.
      const active = (await rows(victim)).find((r) => r.active === 1)!;
      await db.run('UPDATE signing_keys SET kid = $1 WHERE zone_id = $2 AND kid = $3', ['other-kid', victim, active.kid]);
      await expect(keys.signingKey(victim)).rejects.toThrow(/cannot be opened/);
      await db.run('UPDATE signing_keys SET kid = $1 WHERE zone_id = $2 AND kid = $3', [active.kid, victim, 'other-kid']);

      // Another secret key opens nothing; the right one still does.
      await expect(store(0, { secretKey: new Uint8Array(randomBytes(32)) }).signingKey(victim)).rejects.toThrow(/cannot be opened/);
      expect((await keys.signingKey(victim)).kid).toBe(active.kid);
    });

    it('refuses a key stored in clear while a secret key is configured: whoever wrote it could sign tokens', async () => {
      const zone = zoneId('planted');
      // A key written without a secret key is in clear (alg "none")...
      const clear = await store(0, { secretKey: undefined }).signingKey(zone);
      expect(JSON.parse((await rows(zone))[0]!.sealed_pem)).toMatchObject({ alg: 'none' });
      // ...and an instance with a secret key will not sign with it.
      const err = await store(1).signingKey(zone).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/stored in clear/);
      expect((err as Error).message).not.toContain(pemBody(clear.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string));
    });

    it("a zone's keys do not verify another zone's tokens", async () => {
      const [zoneA, zoneB] = [zoneId('zone-a'), zoneId('zone-b')];
      const keys = store(0);
      const [a, b] = await Promise.all([keys.signingKey(zoneA), keys.signingKey(zoneB)]);
      expect(a.kid).not.toBe(b.kid);
      const token = await new SignJWT({ zid: zoneA }).setProtectedHeader({ alg: 'RS256', kid: a.kid }).setIssuedAt().setExpirationTime('5m').sign(a.privateKey);
      expect(await keys.verificationKey(zoneB, a.kid)).toBeUndefined();
      for (const published of await keys.tokenKeys(zoneB)) {
        await expect(jwtVerify(token, createPublicKey(published.value))).rejects.toThrow();
      }
      const own = await keys.verificationKey(zoneA, a.kid);
      await expect(jwtVerify(token, own!)).resolves.toBeDefined();
    });
  });
}
