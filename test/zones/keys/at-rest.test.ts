/**
 * Issue 9, zone signing keys at rest: a copy of the store (the SQLite file with its WAL, or every
 * Redis key) must hold nothing that signs a token. The keys are sealed with the installation's secret
 * key, bound to zone id and kid, and keys written in clear by earlier versions are sealed at start.
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../../src/log.js';
import { openRedisStorage } from '../../../src/storage/redis.js';
import { openSqliteStorage } from '../../../src/storage/sqlite.js';
import type { Storage } from '../../../src/storage/types.js';
import { createZoneDirectory } from '../../../src/zones/directory/directory.js';
import type { RecordsDatabase } from '../../../src/records/types.js';
import { openTestRecords } from '../../support/records.js';
import { createKeyStore } from '../../../src/zones/keys/keystore.js';
import { createIdentityServer } from '../../../src/zones/server.js';
import { request } from '../../support/http.js';
import { FAST_SCRYPT, security } from '../oauth/harness.js';

const tmp = mkdtempSync(join(tmpdir(), 'zonegate-keys-at-rest-'));
const REDIS_URL = 'redis://127.0.0.1:6379';
const redisPrefix = `zonegate-test:keys-at-rest:${randomUUID()}:`;
const secretKey = new Uint8Array(randomBytes(32));

afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  const raw = new Redis(REDIS_URL);
  try {
    const keys = await raw.keys(`${redisPrefix}*`);
    if (keys.length > 0) await raw.del(...keys);
  } finally {
    raw.disconnect();
  }
});

/** Everything an attacker with a copy of the data directory has: every file's bytes. */
function dumpDirectory(dir: string): string {
  return readdirSync(dir)
    .map((name) => readFileSync(join(dir, name)).toString('latin1'))
    .join('\n');
}

/** The PKCS#8 body of a private key as PEM carries it (base64 lines); any 60 characters of it would do. */
function pemBody(pem: string): string {
  return pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('').slice(0, 60);
}

describe('zone signing keys at rest', () => {
  it('SQLite: the database file and its WAL hold no private key', async () => {
    const dir = join(tmp, 'sqlite-dump');
    const storage = openSqliteStorage({ file: join(dir, 'zonegate.db') });
    const keys = createKeyStore({ storage, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, secretKey });
    const signing = await keys.signingKey('zone-a');
    await keys.rotateKeys('zone-a');
    const pem = signing.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const der = signing.privateKey.export({ format: 'der', type: 'pkcs8' });
    // Read while the store is open (the WAL still holds the rows) and after it is closed (checkpointed).
    for (const phase of ['open', 'closed']) {
      if (phase === 'closed') await storage.close();
      const dump = dumpDirectory(dir);
      expect(dump, phase).not.toContain('PRIVATE KEY');
      expect(dump, phase).not.toContain(pemBody(pem));
      expect(dump, phase).not.toContain(der.subarray(0, 64).toString('latin1'));
    }
    // And the keys still open with the secret key after a restart.
    const again = openSqliteStorage({ file: join(dir, 'zonegate.db') });
    const reopened = createKeyStore({ storage: again, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, secretKey });
    expect(await reopened.verificationKey('zone-a', signing.kid)).toBeDefined();
    await again.close();
  });

  it('Redis: no key of the store holds a private key', async () => {
    const storage = await openRedisStorage({ url: REDIS_URL, keyPrefix: redisPrefix });
    const keys = createKeyStore({ storage, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, secretKey });
    const signing = await keys.signingKey('zone-r');
    const pem = signing.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const raw = new Redis(REDIS_URL);
    try {
      const names = await raw.keys(`${redisPrefix}*`);
      expect(names.some((n) => n.includes('zkeys:zone-r'))).toBe(true);
      for (const name of names) {
        const type = await raw.type(name);
        const values = type === 'string' ? [await raw.get(name)] : type === 'set' ? await raw.smembers(name) : [];
        for (const value of values) {
          expect(value, name).not.toContain('PRIVATE KEY');
          expect(value, name).not.toContain(pemBody(pem));
        }
      }
    } finally {
      raw.disconnect();
      await storage.close();
    }
  });

  it('a sealed key copied to another zone, or relabelled with another kid, does not open', async () => {
    const storage = openSqliteStorage({ file: ':memory:' });
    const keys = createKeyStore({ storage, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, secretKey, cacheMs: 0 });
    const victim = await keys.signingKey('victim');
    const sealed = (await storage.get('zkeys:victim'))!;

    // An attacker who can write the store copies the victim's key set onto their own zone, hoping to
    // sign tokens that the victim's resource servers accept (the kid is the same).
    await storage.set('zkeys:attacker', sealed);
    await expect(keys.signingKey('attacker')).rejects.toThrow(/cannot be opened/);
    await expect(keys.tokenKeys('attacker')).rejects.toThrow(/cannot be opened/);

    // The same zone, the key relabelled: kid is bound too.
    const set = JSON.parse(sealed) as { activeKid: string; keys: { kid: string }[] };
    const relabelled = { ...set, activeKid: 'other-kid', keys: set.keys.map((k) => ({ ...k, kid: 'other-kid' })) };
    await storage.set('zkeys:victim', JSON.stringify(relabelled));
    await expect(keys.signingKey('victim')).rejects.toThrow(/cannot be opened/);

    // Without the secret key, nothing opens either.
    await storage.set('zkeys:victim', sealed);
    const keyless = createKeyStore({ storage, logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, secretKey: new Uint8Array(randomBytes(32)) });
    await expect(keyless.signingKey('victim')).rejects.toThrow(/cannot be opened/);
    expect((await keys.signingKey('victim')).kid).toBe(victim.kid);
    await storage.close();
  });
});

describe('keys written in clear by an earlier version', () => {
  let storage: Storage | undefined;
  let records: RecordsDatabase | undefined;
  let server: http.Server | undefined;
  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await storage?.close();
    await records?.close();
  });

  it('are sealed when the identity server starts, and keep signing tokens that verify with the published key', async () => {
    storage = openSqliteStorage({ file: join(tmp, 'migrate', 'zonegate.db') });
    records = await openTestRecords();
    const directory = createZoneDirectory(records, { passwordHashing: FAST_SCRYPT, secretKey });
    const zone = await directory.createZone({ subdomain: 'legacy' });
    const { application, clientSecret } = await directory.registerApplication(security('legacyapp', { tenantMode: 'dedicated' }), zone.id);

    // The record exactly as the keystore wrote it before sealing: the PKCS#8 PEM in clear.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const oldPem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    const oldKid = createHash('sha256').update(spki).digest('base64url').slice(0, 22);
    await storage.set(`zkeys:${zone.id}`, JSON.stringify({ activeKid: oldKid, keys: [{ kid: oldKid, privatePem: oldPem, createdAt: Date.now() - 1000 }] }));

    let port = 0;
    const logger = createMemoryLogger();
    const identity = await createIdentityServer({
      storage,
      directory,
      uaaDomain: 'localhost',
      publicUrlFor: (sub) => `http://${sub ? `${sub}.` : ''}localhost:${port}`,
      logger,
      secretKey,
    });
    // Sealed by the start itself, before any request used the zone.
    const stored = (await storage.get(`zkeys:${zone.id}`))!;
    expect(stored).not.toContain('PRIVATE KEY');
    expect(stored).not.toContain(pemBody(oldPem));
    expect(logger.lines.join('\n')).toMatch(/signing keys sealed/);
    expect(logger.lines.join('\n')).not.toContain('PRIVATE KEY');

    server = http.createServer((req, res) => identity.handle(req, res));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    const host = `legacy.localhost:${port}`;
    const tokenRes = await request(port, {
      method: 'POST',
      path: '/oauth/token',
      host,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: application.clientId, client_secret: clientSecret }).toString(),
    });
    expect(tokenRes.status).toBe(200);
    const token = tokenRes.json().access_token as string;
    expect(decodeProtectedHeader(token).kid).toBe(oldKid);
    const published = (await request(port, { path: '/token_keys', host })).json().keys as { kid: string; value: string }[];
    expect(published.map((k) => k.kid)).toEqual([oldKid]);
    await expect(jwtVerify(token, createPublicKey(published[0]!.value))).resolves.toBeDefined();
    // The same key pair as before the migration: resource servers' cached keys keep working.
    await expect(jwtVerify(token, createPublicKey(privateKey))).resolves.toBeDefined();
  });
});

describe('the key-set lock', () => {
  /** The real store, with a hook run before the named methods: a way to make an instance slow at a chosen moment. */
  function intercept(storage: Storage, methods: readonly string[], hook: (key: string) => Promise<void>): Storage {
    return new Proxy(storage, {
      get(target, prop, receiver) {
        const real = Reflect.get(target, prop, receiver) as unknown;
        if (typeof prop !== 'string' || !methods.includes(prop) || typeof real !== 'function') return real;
        return async (key: string, ...rest: unknown[]) => {
          await hook(key);
          return (real as (...args: unknown[]) => Promise<unknown>)(key, ...rest);
        };
      },
    });
  }

  it("a slow owner whose lock expired does not release the next owner's lock: no rotation is lost", async () => {
    let clock = Date.now();
    const storage = openSqliteStorage({ file: ':memory:', now: () => clock });
    const options = { logger: createMemoryLogger(), maxTokenValiditySeconds: 3600, secretKey };

    // B pauses inside its critical section, having read the key set, until told to write.
    let bInside!: () => void;
    const bIsInside = new Promise<void>((resolve) => (bInside = resolve));
    let releaseB!: () => void;
    const bMayGoOn = new Promise<void>((resolve) => (releaseB = resolve));
    let armedB = false;
    const b = createKeyStore({
      ...options,
      storage: intercept(storage, ['set'], async (key) => {
        if (!armedB || key !== 'zkeys:z') return;
        armedB = false;
        bInside();
        await bMayGoOn;
      }),
    });
    // A is the slow owner: it has written, but before it releases, its lock's TTL runs out and B
    // takes the lock. Then A releases (whatever it calls to do so).
    let armedA = false;
    let rotationB: Promise<string> | undefined;
    const a = createKeyStore({
      ...options,
      storage: intercept(storage, ['delete', 'deleteIfEquals'], async (key) => {
        if (!armedA || !key.includes('lock')) return;
        armedA = false;
        clock += 11_000;
        armedB = true;
        rotationB = b.rotateKeys('z');
        await bIsInside;
      }),
    });
    const c = createKeyStore({ ...options, storage });
    await Promise.all([a.signingKey('z'), b.signingKey('z'), c.signingKey('z')]);

    armedA = true;
    const kidA = await a.rotateKeys('z');
    // B still holds the lock. C must wait for B rather than read and write beside it.
    const rotationC = c.rotateKeys('z');
    await new Promise((r) => setTimeout(r, 500));
    releaseB();
    const [kidB, kidC] = await Promise.all([rotationB!, rotationC]);

    const published = (await createKeyStore({ ...options, storage, cacheMs: 0 }).tokenKeys('z')).map((k) => k.kid);
    expect(published).toEqual(expect.arrayContaining([kidA, kidB, kidC]));
    await storage.close();
  });
});
