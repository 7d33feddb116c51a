/**
 * Password hashing with argon2id (RFC 9106) through @node-rs/argon2, whose hash and verify run on
 * libuv's threadpool (napi async work): a login never blocks the event loop. Hashes are PHC strings,
 * `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (unpadded base64), the format every argon2 library
 * reads, and they carry their own parameters: the cost can be raised later, and `needsRehash` tells
 * which stored hashes are below it, so the directory replaces them on the user's next login.
 *
 * Hashes made before argon2, `scrypt$<N>$<r>$<p>$<salt>$<hash>` (RFC 7914, base64url), still verify;
 * they always need a rehash.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import type { Algorithm, Version } from '@node-rs/argon2';
import { hash, parseOptions, verify } from '@node-rs/argon2';

// The package declares these as const enums and exports no values for them (its index.d.ts gives the
// numbers), which verbatimModuleSyntax cannot inline: named here once.
const ARGON2ID = 2 as Algorithm;
const VERSION_1_3 = 1 as Version;

export interface Argon2Params {
  /** Memory per hash in KiB (`m=`). */
  memoryCost: number;
  /** Passes over that memory (`t=`). */
  timeCost: number;
  /** Lanes (`p=`). */
  parallelism: number;
}

/**
 * OWASP Password Storage Cheat Sheet, "Argon2id": the first of its equivalent configurations,
 * m = 19 MiB, t = 2, p = 1. About 10 ms of one core here, and 19 MiB of memory while it runs.
 */
export const DEFAULT_ARGON2: Argon2Params = { memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 };

const KEY_LENGTH = 32;

export function checkArgon2Params(params: Argon2Params): void {
  const { memoryCost, timeCost, parallelism } = params;
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 255) throw new RangeError('argon2 parallelism must be an integer from 1 to 255');
  // RFC 9106 §3.1: m is at least 8p KiB.
  if (!Number.isInteger(memoryCost) || memoryCost < 8 * parallelism || memoryCost > 2 ** 32 - 1) throw new RangeError('argon2 memoryCost must be an integer of at least 8 × parallelism KiB');
  if (!Number.isInteger(timeCost) || timeCost < 1) throw new RangeError('argon2 timeCost must be a positive integer');
}

export function hashPassword(password: string, params: Argon2Params = DEFAULT_ARGON2): Promise<string> {
  // The salt is the package's: 16 bytes from the operating system's generator (RFC 9106 §3.1 asks 16).
  return hash(password, { algorithm: ARGON2ID, version: VERSION_1_3, outputLen: KEY_LENGTH, ...params });
}

export async function verifyPasswordHash(password: string, stored: string): Promise<boolean> {
  if (stored.startsWith('scrypt$')) return verifyScrypt(password, stored);
  if (!stored.startsWith('$argon2')) return false;
  try {
    return await verify(stored, password);
  } catch {
    // A malformed hash verifies nothing.
    return false;
  }
}

/**
 * Whether a stored hash is weaker than `params` and should be replaced once the password is known:
 * any scrypt hash, an argon2 other than argon2id v1.3, or less memory, fewer passes or a shorter
 * output than configured. Parallelism is not compared: p lanes share the same m, so the attacker's
 * cost does not fall with it. A hash stronger than configured is kept.
 */
export function needsRehash(stored: string, params: Argon2Params): boolean {
  if (!stored.startsWith('$argon2')) return true;
  try {
    const made = parseOptions(stored);
    return (
      made.algorithm !== ARGON2ID ||
      made.version !== VERSION_1_3 ||
      made.memoryCost < params.memoryCost ||
      made.timeCost < params.timeCost ||
      made.outputLen < KEY_LENGTH
    );
  } catch {
    return true;
  }
}

/** One hash per parameter set, of a password nobody knows: what an unknown user's check runs against. */
const decoys = new Map<string, Promise<string>>();

function decoyHash(params: Argon2Params): Promise<string> {
  const key = `${params.memoryCost},${params.timeCost},${params.parallelism}`;
  let decoy = decoys.get(key);
  if (!decoy) {
    decoy = hashPassword(randomBytes(32).toString('base64url'), params);
    decoys.set(key, decoy);
    decoy.catch(() => decoys.delete(key));
  }
  return decoy;
}

/**
 * Runs the same argon2 verification as a known user's login, against a decoy hash made with the
 * configured parameters, and fails: used when the user does not exist (or has no password), so
 * response time does not reveal which user names exist. (A user still on a scrypt hash costs what
 * scrypt cost until their next login rehashes it.)
 */
export async function burnPasswordCheck(password: string, params: Argon2Params): Promise<false> {
  await verify(await decoyHash(params), password);
  return false;
}

// --- scrypt, the hashes of earlier versions: verified, never made ---

interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseScrypt(stored: string): ScryptHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (!Number.isInteger(N) || N < 2 || (N & (N - 1)) !== 0) return undefined;
  if (!Number.isInteger(r) || r < 1 || !Number.isInteger(p) || p < 1) return undefined;
  return { N, r, p, salt: Buffer.from(parts[4]!, 'base64url'), key: Buffer.from(parts[5]!, 'base64url') };
}

function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const parsed = parseScrypt(stored);
  if (!parsed || parsed.key.length !== KEY_LENGTH) return Promise.resolve(false);
  const { N, r, p, salt, key } = parsed;
  // scrypt needs 128 * N * r bytes; Node's default maxmem (32 MiB) is exactly the old default cost.
  const maxmem = 256 * N * r + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, KEY_LENGTH, { N, r, p, maxmem }, (err, candidate) => (err ? reject(err) : resolve(timingSafeEqual(candidate, key))));
  });
}
