// zonegate's password hashing before argon2 (git show 3c82158:src/zones/directory/password.ts), frozen
// with the directory in ./directory-on-storage.ts: the old keyspace it writes holds scrypt hashes, as
// the stores being imported do. The current src/zones/directory/password.ts verifies them.

/**
 * Password hashing with scrypt (RFC 7914) from node:crypto. The hash string carries its own
 * parameters (`scrypt$<N>$<r>$<p>$<salt>$<hash>`, base64url), so the cost can be raised later
 * without invalidating existing users.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/**
 * About 100 ms and 32 MiB per hash on the reference machine: the interactive level. OWASP's
 * password storage cheat sheet lists N=2^17,r=8,p=1 (or the equal-cost 2^15/8/3) as its minimum;
 * operators who can afford slower logins raise it through the directory's `passwordHashing` option.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function scrypt(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; Node's default maxmem (32 MiB) is exactly the default cost, so
  // leave headroom for higher settings.
  const maxmem = 256 * params.N * params.r + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, KEY_LENGTH, { ...params, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export function checkScryptParams(params: ScryptParams): void {
  const { N, r, p } = params;
  if (!Number.isInteger(N) || N < 2 || (N & (N - 1)) !== 0) throw new RangeError('scrypt N must be a power of two');
  if (!Number.isInteger(r) || r < 1 || !Number.isInteger(p) || p < 1) throw new RangeError('scrypt r and p must be positive integers');
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await scrypt(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

function parse(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const params = { N: Number(parts[1]), r: Number(parts[2]), p: Number(parts[3]) };
  try {
    checkScryptParams(params);
  } catch {
    return undefined;
  }
  return { params, salt: Buffer.from(parts[4]!, 'base64url'), key: Buffer.from(parts[5]!, 'base64url') };
}

export async function verifyPasswordHash(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed || parsed.key.length !== KEY_LENGTH) return false;
  const candidate = await scrypt(password, parsed.salt, parsed.params);
  return timingSafeEqual(candidate, parsed.key);
}

/**
 * Spends the same scrypt work as a real verification and then fails: used when the user does not
 * exist (or has no password), so response time does not reveal which user names exist.
 */
export async function burnPasswordCheck(password: string, params: ScryptParams): Promise<false> {
  await scrypt(password, randomBytes(SALT_LENGTH), params);
  return false;
}
