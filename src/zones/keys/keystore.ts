/**
 * Signing keys of the identity zones. Each zone has its own RSA-2048 key set, so a token of zone A can
 * never verify with zone B's published keys (XSUAA answers `/token_keys?zid=` per zone). Keys are
 * generated on first use, persisted through Storage (shared by every instance, surviving restarts)
 * and rotated with overlap: the new key signs at once, the old one stays published until every token
 * it signed has expired, so resource servers with a cached JWKS never see an unknown `kid` for a
 * valid token.
 *
 * At rest every private key is sealed with the installation's secret key (ZONEGATE_SECRET_KEY, the
 * key that already seals the client secrets, ../directory/client-secret.ts), the zone id and kid as
 * associated data: a dump of SQLite or Redis holds nothing that signs a token, and a sealed key copied
 * onto another zone or relabelled with another kid does not open. Key sets written in clear by earlier
 * versions are sealed when the identity server starts (sealStoredKeys) and, should one still appear
 * (an older instance during a rolling upgrade), on the first read.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Logger } from '../../log.js';
import { withLock } from '../../storage/lock.js';
import type { Storage } from '../../storage/types.js';
import { openSecret, sealSecret, type StoredSecret } from '../directory/client-secret.js';

const generateRsa = promisify(generateKeyPair);

interface StoredKey {
  kid: string;
  /** PKCS#8 PEM, sealed with the secret key for `<zone id>/<kid>` (in clear only when no key is configured). */
  sealedPem?: StoredSecret;
  /** PKCS#8 PEM in clear, as versions before sealing wrote it; read, then sealed and written back. */
  privatePem?: string;
  createdAt: number;
  /** Epoch ms after which the key is no longer published; set when it is rotated out. */
  publishUntil?: number;
}

interface StoredKeySet {
  activeKid: string;
  keys: StoredKey[];
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
}

/** One entry of UAA's `/token_keys` answer. */
export interface TokenKey {
  kty: 'RSA';
  kid: string;
  alg: 'RS256';
  use: 'sig';
  e: string;
  n: string;
  /** The public key as PEM, as UAA publishes it next to the JWK members. */
  value: string;
}

export interface KeyStoreOptions {
  storage: Storage;
  logger: Logger;
  /** Longest lifetime of anything signed (access and id tokens), seconds; the overlap of a rotation. */
  maxTokenValiditySeconds: number;
  /**
   * 32 bytes that seal the private keys in storage; the entry point always supplies it (ZONEGATE_SECRET_KEY
   * or the generated development key). Without it keys are stored in clear, as client secrets are.
   */
  secretKey?: Uint8Array;
  /** How long one instance trusts its in-memory copy before re-reading storage. Default 10 s. */
  cacheMs?: number;
  now?: () => number;
}

export interface KeyStore {
  signingKey(zoneId: string): Promise<SigningKey>;
  /** Public key for a `kid` of this zone, or undefined (unknown or no longer published). */
  verificationKey(zoneId: string, kid: string): Promise<KeyObject | undefined>;
  tokenKeys(zoneId: string): Promise<TokenKey[]>;
  /** A new key signs from now on; the previous ones stay published for the overlap. Returns the new kid. */
  rotateKeys(zoneId: string): Promise<string>;
  /** Removes a zone's keys (zone deleted). */
  deleteKeys(zoneId: string): Promise<void>;
  /**
   * Seals the key sets of these zones that are still in clear (written before keys were sealed, or
   * while no secret key was configured) and writes them back; returns the zones it sealed. Run at start.
   */
  sealStoredKeys(zoneIds: readonly string[]): Promise<string[]>;
}

interface LoadedKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  tokenKey: TokenKey;
  publishUntil?: number;
}

interface LoadedKeySet {
  active: LoadedKey;
  keys: LoadedKey[];
  loadedAt: number;
}

const storageKey = (zoneId: string) => `zkeys:${zoneId}`;
// withLock stores it as `lock:zkeys:<zone id>`, with an owner token released by compare-and-delete.
const lockName = (zoneId: string) => `zkeys:${zoneId}`;
// Generating an RSA key takes up to a few hundred ms; the TTL only matters when an owner crashed.
const LOCK = { ttlMs: 10_000, waitMs: 15_000 };

/** The associated data of a sealed key: it opens only as this kid of this zone. */
const sealContext = (zoneId: string, kid: string) => `zkeys:${zoneId}:${kid}`;

async function newKey(zoneId: string, now: number, secretKey: Uint8Array | undefined): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  // RFC 7638-style stable id: derived from the public key, so it never collides across zones.
  const kid = createHash('sha256').update(spki).digest('base64url').slice(0, 22);
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  return { kid, sealedPem: sealSecret(pem, secretKey, sealContext(zoneId, kid)), createdAt: now };
}

/** Whether a stored key is kept as the configuration asks: sealed when there is a secret key. */
const isSealedAsConfigured = (key: StoredKey, secretKey: Uint8Array | undefined) =>
  key.sealedPem !== undefined && (secretKey === undefined || key.sealedPem.alg !== 'none');

/** The set with every key sealed as configured (clear ones sealed, the others unchanged). */
function sealSet(zoneId: string, set: StoredKeySet, secretKey: Uint8Array | undefined): StoredKeySet {
  return {
    ...set,
    keys: set.keys.map((k) => {
      if (isSealedAsConfigured(k, secretKey)) return k;
      const { privatePem: _clear, sealedPem: _none, ...rest } = k;
      return { ...rest, sealedPem: sealSecret(privatePemOf(zoneId, k, secretKey), secretKey, sealContext(zoneId, k.kid)) };
    }),
  };
}

function privatePemOf(zoneId: string, key: StoredKey, secretKey: Uint8Array | undefined): string {
  if (key.sealedPem === undefined) {
    if (key.privatePem === undefined) throw new Error(`the signing key ${key.kid} of zone ${zoneId} has no key material`);
    return key.privatePem;
  }
  try {
    return openSecret(key.sealedPem, secretKey, sealContext(zoneId, key.kid));
  } catch {
    // Another secret key, or a sealed key moved to another zone or kid: never fall back to anything.
    throw new Error(`the signing key ${key.kid} of zone ${zoneId} cannot be opened with the configured secret key (ZONEGATE_SECRET_KEY)`);
  }
}

function load(zoneId: string, set: StoredKeySet, now: number, secretKey: Uint8Array | undefined): LoadedKeySet {
  const keys = set.keys
    .filter((k) => k.publishUntil === undefined || k.publishUntil > now)
    .map((k): LoadedKey => {
      const privateKey = createPrivateKey(privatePemOf(zoneId, k, secretKey));
      const publicKey = createPublicKey(privateKey);
      const jwk = publicKey.export({ format: 'jwk' }) as { e: string; n: string };
      return {
        kid: k.kid,
        privateKey,
        publicKey,
        publishUntil: k.publishUntil,
        tokenKey: {
          kty: 'RSA',
          kid: k.kid,
          alg: 'RS256',
          use: 'sig',
          e: jwk.e,
          n: jwk.n,
          value: publicKey.export({ format: 'pem', type: 'spki' }) as string,
        },
      };
    });
  const active = keys.find((k) => k.kid === set.activeKid);
  if (!active) throw new Error('the active signing key is missing from the stored key set');
  return { active, keys, loadedAt: now };
}

export function createKeyStore(options: KeyStoreOptions): KeyStore {
  const { storage, logger, secretKey } = options;
  if (secretKey !== undefined && secretKey.length !== 32) throw new RangeError('secretKey must be 32 bytes (AES-256)');
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 10_000;
  const cache = new Map<string, LoadedKeySet>();
  const pending = new Map<string, Promise<LoadedKeySet>>();
  // A rotation or removal elsewhere is announced by name (Redis: to every instance at once), so a
  // removed zone's key stops signing and verifying here too, not only after cacheMs. Unnamed notices
  // (another SQLite process wrote something) are left to cacheMs: they come with every write.
  storage.onForeignChange((key) => {
    if (key?.startsWith('zkeys:')) cache.delete(key.slice('zkeys:'.length));
  });

  const parse = (raw: string) => JSON.parse(raw) as StoredKeySet;
  const needsSealing = (set: StoredKeySet) => set.keys.some((k) => !isSealedAsConfigured(k, secretKey));

  /** Seals a clear key set under the lock (re-read there: another instance may have rotated meanwhile). */
  async function sealStored(zoneId: string): Promise<StoredKeySet | undefined> {
    return withLock(storage, lockName(zoneId), LOCK, async () => {
      const raw = await storage.get(storageKey(zoneId));
      if (raw === undefined) return undefined;
      const set = parse(raw);
      if (!needsSealing(set)) return set;
      const sealed = sealSet(zoneId, set, secretKey);
      await storage.set(storageKey(zoneId), JSON.stringify(sealed));
      logger.info('zone signing keys sealed', { zoneId, kids: sealed.keys.map((k) => k.kid) });
      return sealed;
    });
  }

  async function readOrCreate(zoneId: string): Promise<LoadedKeySet> {
    const raw = await storage.get(storageKey(zoneId));
    if (raw !== undefined) {
      const set = parse(raw);
      return load(zoneId, needsSealing(set) ? ((await sealStored(zoneId)) ?? set) : set, now(), secretKey);
    }
    // Only one instance generates the first key; the others wait for the lock and then read it.
    const set = await withLock(storage, lockName(zoneId), LOCK, async () => {
      const current = await storage.get(storageKey(zoneId));
      if (current !== undefined) return parse(current);
      const key = await newKey(zoneId, now(), secretKey);
      const created: StoredKeySet = { activeKid: key.kid, keys: [key] };
      // setIfAbsent although we hold the lock: an instance of an earlier version (rolling upgrade)
      // takes another lock, and the first key written must win for both.
      if (!(await storage.setIfAbsent(storageKey(zoneId), JSON.stringify(created)))) return parse((await storage.get(storageKey(zoneId)))!);
      logger.info('zone signing key created', { zoneId, kid: key.kid });
      return created;
    });
    return load(zoneId, set, now(), secretKey);
  }

  async function keySet(zoneId: string, fresh = false): Promise<LoadedKeySet> {
    const cached = cache.get(zoneId);
    if (!fresh && cached && now() - cached.loadedAt < cacheMs) return cached;
    let p = pending.get(zoneId);
    if (!p) {
      p = readOrCreate(zoneId).finally(() => pending.delete(zoneId));
      pending.set(zoneId, p);
    }
    const loaded = await p;
    cache.set(zoneId, loaded);
    return loaded;
  }

  const published = (set: LoadedKeySet) => set.keys.filter((k) => k.publishUntil === undefined || k.publishUntil > now());

  return {
    async signingKey(zoneId) {
      const { active } = await keySet(zoneId);
      return { kid: active.kid, privateKey: active.privateKey };
    },

    async verificationKey(zoneId, kid) {
      let set = await keySet(zoneId);
      let key = published(set).find((k) => k.kid === kid);
      if (!key && now() - set.loadedAt > 1000) {
        // Another instance may have rotated; re-read at most once a second per zone.
        set = await keySet(zoneId, true);
        key = published(set).find((k) => k.kid === kid);
      }
      return key?.publicKey;
    },

    async tokenKeys(zoneId) {
      return published(await keySet(zoneId)).map((k) => k.tokenKey);
    },

    async rotateKeys(zoneId) {
      await keySet(zoneId); // make sure a first key exists
      const key = await newKey(zoneId, now(), secretKey);
      await withLock(storage, lockName(zoneId), LOCK, async () => {
        const set = sealSet(zoneId, parse((await storage.get(storageKey(zoneId)))!), secretKey);
        // 60 s beyond the longest validity: xssec and jose accept that much clock skew on `exp`.
        const until = now() + (options.maxTokenValiditySeconds + 60) * 1000;
        const keys = set.keys
          .filter((k) => k.publishUntil === undefined || k.publishUntil > now())
          .map((k) => (k.kid === set.activeKid ? { ...k, publishUntil: until } : k));
        const next: StoredKeySet = { activeKid: key.kid, keys: [key, ...keys] };
        await storage.set(storageKey(zoneId), JSON.stringify(next));
      });
      cache.delete(zoneId);
      await storage.announce(storageKey(zoneId));
      logger.info('zone signing key rotated', { zoneId, kid: key.kid });
      return key.kid;
    },

    async deleteKeys(zoneId) {
      cache.delete(zoneId);
      await storage.delete(storageKey(zoneId));
      await storage.announce(storageKey(zoneId));
    },

    async sealStoredKeys(zoneIds) {
      const sealed: string[] = [];
      // In batches: with thousands of tenants one read per zone at start is fine, one round trip each is not.
      for (let i = 0; i < zoneIds.length; i += 100) {
        await Promise.all(
          zoneIds.slice(i, i + 100).map(async (zoneId) => {
            // A plain read first: at every start after the migration this is all that happens.
            const raw = await storage.get(storageKey(zoneId));
            if (raw === undefined || !needsSealing(parse(raw))) return;
            await sealStored(zoneId);
            cache.delete(zoneId);
            sealed.push(zoneId);
          }),
        );
      }
      return sealed;
    },
  };
}
