/**
 * Signing keys of the identity zones. Each zone has its own RSA-2048 key set, so a token of zone A can
 * never verify with zone B's published keys (XSUAA answers `/token_keys?zid=` per zone). Keys are
 * generated on first use, persisted through Storage (shared by every instance, surviving restarts)
 * and rotated with overlap: the new key signs at once, the old one stays published until every token
 * it signed has expired, so resource servers with a cached JWKS never see an unknown `kid` for a
 * valid token.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Logger } from '../../log.js';
import type { Storage } from '../../storage/types.js';

const generateRsa = promisify(generateKeyPair);

interface StoredKey {
  kid: string;
  /** PKCS#8 PEM. Never logged; the storage backend is the trust boundary for it. */
  privatePem: string;
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
const lockKey = (zoneId: string) => `zkeys-lock:${zoneId}`;

async function newKey(now: number): Promise<StoredKey> {
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  // RFC 7638-style stable id: derived from the public key, so it never collides across zones.
  const kid = createHash('sha256').update(spki).digest('base64url').slice(0, 22);
  return { kid, privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, createdAt: now };
}

function load(set: StoredKeySet, now: number): LoadedKeySet {
  const keys = set.keys
    .filter((k) => k.publishUntil === undefined || k.publishUntil > now)
    .map((k): LoadedKey => {
      const privateKey = createPrivateKey(k.privatePem);
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
  const { storage, logger } = options;
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 10_000;
  const cache = new Map<string, LoadedKeySet>();
  const pending = new Map<string, Promise<LoadedKeySet>>();

  async function readOrCreate(zoneId: string): Promise<LoadedKeySet> {
    // Up to 15 s: longer than the 10 s lock, so a crashed generator's lock expires while we wait.
    for (let attempt = 0; attempt < 150; attempt++) {
      const raw = await storage.get(storageKey(zoneId));
      if (raw !== undefined) return load(JSON.parse(raw) as StoredKeySet, now());
      // Only one instance generates the first key; the others wait and read it.
      if (await storage.setIfAbsent(lockKey(zoneId), '1', { ttlMs: 10_000 })) {
        const key = await newKey(now());
        const set: StoredKeySet = { activeKid: key.kid, keys: [key] };
        if (await storage.setIfAbsent(storageKey(zoneId), JSON.stringify(set))) {
          logger.info('zone signing key created', { zoneId, kid: key.kid });
        }
        await storage.delete(lockKey(zoneId));
        continue;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`could not obtain signing keys for zone ${zoneId}`);
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
      const key = await newKey(now());
      while (!(await storage.setIfAbsent(lockKey(zoneId), '1', { ttlMs: 10_000 }))) {
        await new Promise((r) => setTimeout(r, 50));
      }
      try {
        const set = JSON.parse((await storage.get(storageKey(zoneId)))!) as StoredKeySet;
        // 60 s beyond the longest validity: xssec and jose accept that much clock skew on `exp`.
        const until = now() + (options.maxTokenValiditySeconds + 60) * 1000;
        const keys = set.keys
          .filter((k) => k.publishUntil === undefined || k.publishUntil > now())
          .map((k) => (k.kid === set.activeKid ? { ...k, publishUntil: until } : k));
        const next: StoredKeySet = { activeKid: key.kid, keys: [key, ...keys] };
        await storage.set(storageKey(zoneId), JSON.stringify(next));
      } finally {
        await storage.delete(lockKey(zoneId));
      }
      cache.delete(zoneId);
      logger.info('zone signing key rotated', { zoneId, kid: key.kid });
      return key.kid;
    },

    async deleteKeys(zoneId) {
      cache.delete(zoneId);
      await storage.delete(storageKey(zoneId));
    },
  };
}
