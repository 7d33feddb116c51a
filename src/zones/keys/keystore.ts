/**
 * Signing keys of the identity zones. Each zone has its own RSA-2048 key set, so a token of zone A can
 * never verify with zone B's published keys (XSUAA answers `/token_keys?zid=` per zone). Keys are
 * generated on first use, kept in the records database (table `signing_keys`, migration 2 in
 * src/records/schema.ts; issue 19: a lost key invalidates every token it signed, so it is a record,
 * not short-lived state) and rotated with overlap: the new key signs at once, the old one stays
 * published until every token it signed has expired, so resource servers with a cached JWKS never
 * see an unknown `kid` for a valid token.
 *
 * Concurrency is the database's. "At most one active key per zone" is a partial unique index: two
 * instances generating a zone's first key at once both insert theirs as active, one insert fails with
 * UniqueViolation, and that instance reads and uses the winner's. A rotation demotes the active key
 * and inserts the new one in one transaction that locks the zone's key rows (`SELECT ... FOR
 * UPDATE`), so concurrent rotations queue and none is lost.
 *
 * At rest every private key is sealed with the installation's secret key (ZONEGATE_SECRET_KEY, the
 * key that already seals the client secrets, ../directory/client-secret.ts), the zone id and kid as
 * associated data: a dump of the database holds nothing that signs a token, and a sealed key copied
 * onto another zone or relabelled with another kid does not open. With a secret key configured a key
 * stored in clear is refused, not used: only someone who can write the database could have put it
 * there, and it would let them sign tokens (`zonegate db import` seals the keys it brings over).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Logger } from '../../log.js';
import { UniqueViolation, type Queries, type RecordsDatabase } from '../../records/types.js';
import type { Storage } from '../../storage/types.js';
import { openSecret, sealSecret, type StoredSecret } from '../directory/client-secret.js';

const generateRsa = promisify(generateKeyPair);

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
  records: RecordsDatabase;
  logger: Logger;
  /** Longest lifetime of anything signed (access and id tokens), seconds; the overlap of a rotation. */
  maxTokenValiditySeconds: number;
  /**
   * 32 bytes that seal the private keys in the database; the entry point always supplies it
   * (ZONEGATE_SECRET_KEY or the generated development key). Without it keys are stored in clear, as
   * client secrets are.
   */
  secretKey?: Uint8Array;
  /** How long one instance trusts its in-memory copy before re-reading the database. Default 10 s. */
  cacheMs?: number;
  /**
   * The shared store's change notices (Storage.announce/onForeignChange): a rotation or removal is
   * announced, so every instance forgets that zone's keys at once rather than after cacheMs (a removed
   * zone's key stops signing and verifying everywhere). Optional: without it, cacheMs bounds the delay.
   */
  notices?: Pick<Storage, 'announce' | 'onForeignChange'>;
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

type KeyRow = {
  kid: string;
  sealed_pem: string;
  publish_until: number | string | null;
  active: number | string;
};

interface NewKey {
  kid: string;
  sealedPem: StoredSecret;
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

/** The name a zone's keys are announced under (Storage.announce); the prefix of the old Storage key. */
const noticeKey = (zoneId: string) => `zkeys:${zoneId}`;

/** The associated data of a sealed key: it opens only as this kid of this zone. */
const sealContext = (zoneId: string, kid: string) => `zkeys:${zoneId}:${kid}`;

const KEY_COLUMNS = 'kid, sealed_pem, publish_until, active';

/** A rotation that lost a race for the active key is repeated; beyond a few, something else is wrong. */
const ROTATION_ATTEMPTS = 5;

async function newKey(zoneId: string, secretKey: Uint8Array | undefined): Promise<NewKey> {
  const { privateKey, publicKey } = await generateRsa('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  // RFC 7638-style stable id: derived from the public key, so it never collides across zones.
  const kid = createHash('sha256').update(spki).digest('base64url').slice(0, 22);
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  return { kid, sealedPem: sealSecret(pem, secretKey, sealContext(zoneId, kid)) };
}

function privatePemOf(zoneId: string, row: KeyRow, secretKey: Uint8Array | undefined): string {
  let sealed: StoredSecret;
  try {
    sealed = JSON.parse(row.sealed_pem) as StoredSecret;
  } catch {
    throw new Error(`the signing key ${row.kid} of zone ${zoneId} is not a sealed key`);
  }
  if (secretKey !== undefined && sealed.alg !== 'A256GCM') {
    throw new Error(`the signing key ${row.kid} of zone ${zoneId} is stored in clear although a secret key (ZONEGATE_SECRET_KEY) is configured; refusing to use it`);
  }
  try {
    return openSecret(sealed, secretKey, sealContext(zoneId, row.kid));
  } catch {
    // Another secret key, or a sealed key moved to another zone or kid: never fall back to anything.
    throw new Error(`the signing key ${row.kid} of zone ${zoneId} cannot be opened with the configured secret key (ZONEGATE_SECRET_KEY)`);
  }
}

const published = (key: { publishUntil?: number }, now: number) => key.publishUntil === undefined || key.publishUntil > now;

/** The zone's published keys, opened; undefined when the zone has no active key yet. */
function load(zoneId: string, rows: readonly KeyRow[], now: number, secretKey: Uint8Array | undefined): LoadedKeySet | undefined {
  let active: LoadedKey | undefined;
  const keys: LoadedKey[] = [];
  for (const row of rows) {
    const isActive = Number(row.active) === 1;
    const publishUntil = row.publish_until === null ? undefined : Number(row.publish_until);
    if (!isActive && !published({ publishUntil }, now)) continue;
    const privateKey = createPrivateKey(privatePemOf(zoneId, row, secretKey));
    const publicKey = createPublicKey(privateKey);
    const jwk = publicKey.export({ format: 'jwk' }) as { e: string; n: string };
    const key: LoadedKey = {
      kid: row.kid,
      privateKey,
      publicKey,
      ...(publishUntil !== undefined ? { publishUntil } : {}),
      tokenKey: {
        kty: 'RSA',
        kid: row.kid,
        alg: 'RS256',
        use: 'sig',
        e: jwk.e,
        n: jwk.n,
        value: publicKey.export({ format: 'pem', type: 'spki' }) as string,
      },
    };
    keys.push(key);
    if (isActive) active = key;
  }
  return active && { active, keys, loadedAt: now };
}

export function createKeyStore(options: KeyStoreOptions): KeyStore {
  const { records, logger, secretKey, notices } = options;
  if (secretKey !== undefined && secretKey.length !== 32) throw new RangeError('secretKey must be 32 bytes (AES-256)');
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 10_000;
  const cache = new Map<string, LoadedKeySet>();
  const pending = new Map<string, Promise<LoadedKeySet>>();
  // Unnamed notices (notices may have been missed) are left to cacheMs.
  notices?.onForeignChange((key) => {
    if (key?.startsWith('zkeys:')) cache.delete(key.slice('zkeys:'.length));
  });

  // Newest first: /token_keys lists the signing key before the ones rotated out, as before.
  const readKeys = (db: Queries, zoneId: string) =>
    db.all<KeyRow>(`SELECT ${KEY_COLUMNS} FROM signing_keys WHERE zone_id = $1 ORDER BY active DESC, created_at DESC, kid`, [zoneId]);

  const insertActive = (db: Queries, zoneId: string, key: NewKey, createdAt: number) =>
    db.run('INSERT INTO signing_keys (zone_id, kid, sealed_pem, created_at, publish_until, active) VALUES ($1, $2, $3, $4, NULL, 1)', [
      zoneId,
      key.kid,
      JSON.stringify(key.sealedPem),
      createdAt,
    ]);

  async function readOrCreate(zoneId: string): Promise<LoadedKeySet> {
    const existing = load(zoneId, await readKeys(records, zoneId), now(), secretKey);
    if (existing) return existing;
    // The first key: every instance that gets here generates one, the database keeps one (the partial
    // unique index on active keys); the others read the winner's.
    const key = await newKey(zoneId, secretKey);
    try {
      await insertActive(records, zoneId, key, now());
      logger.info('zone signing key created', { zoneId, kid: key.kid });
    } catch (err) {
      if (!(err instanceof UniqueViolation)) throw err;
    }
    const created = load(zoneId, await readKeys(records, zoneId), now(), secretKey);
    if (!created) throw new Error(`the active signing key of zone ${zoneId} vanished while it was created (the zone was removed meanwhile?)`);
    return created;
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

  const publishedKeys = (set: LoadedKeySet) => set.keys.filter((k) => published(k, now()));

  return {
    async signingKey(zoneId) {
      const { active } = await keySet(zoneId);
      return { kid: active.kid, privateKey: active.privateKey };
    },

    async verificationKey(zoneId, kid) {
      let set = await keySet(zoneId);
      let key = publishedKeys(set).find((k) => k.kid === kid);
      if (!key && now() - set.loadedAt > 1000) {
        // Another instance may have rotated; re-read at most once a second per zone.
        set = await keySet(zoneId, true);
        key = publishedKeys(set).find((k) => k.kid === kid);
      }
      return key?.publicKey;
    },

    async tokenKeys(zoneId) {
      return publishedKeys(await keySet(zoneId)).map((k) => k.tokenKey);
    },

    async rotateKeys(zoneId) {
      // Generated before the transaction: it takes up to a few hundred ms, no row is locked meanwhile.
      const key = await newKey(zoneId, secretKey);
      const rotate = async (tx: Queries) => {
        const at = now();
        // Locks the zone's keys (in one order, so two rotations cannot deadlock): a concurrent
        // rotation waits here until this one has committed, then demotes this one's key.
        await tx.all('SELECT kid FROM signing_keys WHERE zone_id = $1 ORDER BY kid FOR UPDATE', [zoneId]);
        // Keys rotated out whose tokens have all expired: no longer published, no longer kept.
        await tx.run('DELETE FROM signing_keys WHERE zone_id = $1 AND active = 0 AND publish_until IS NOT NULL AND publish_until <= $2', [zoneId, at]);
        // 60 s beyond the longest validity: xssec and jose accept that much clock skew on `exp`.
        const until = at + (options.maxTokenValiditySeconds + 60) * 1000;
        await tx.run('UPDATE signing_keys SET active = 0, publish_until = $2 WHERE zone_id = $1 AND active = 1', [zoneId, until]);
        await insertActive(tx, zoneId, key, at);
      };
      for (let attempt = 1; ; attempt++) {
        try {
          await records.transaction(rotate);
          break;
        } catch (err) {
          // Another instance inserted an active key this transaction could not lock or see: the zone
          // had no key row when it began (a first key, or a rotation, racing), or the row it waited
          // for was deleted meanwhile. Rolled back; once more, now that there is a row to lock.
          if (!(err instanceof UniqueViolation) || attempt === ROTATION_ATTEMPTS) throw err;
        }
      }
      cache.delete(zoneId);
      await notices?.announce(noticeKey(zoneId));
      logger.info('zone signing key rotated', { zoneId, kid: key.kid });
      return key.kid;
    },

    async deleteKeys(zoneId) {
      await records.run('DELETE FROM signing_keys WHERE zone_id = $1', [zoneId]);
      cache.delete(zoneId);
      await notices?.announce(noticeKey(zoneId));
    },
  };
}
