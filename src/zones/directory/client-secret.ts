/**
 * The application client's secret. XSUAA hands the same `clientsecret` out with every binding and
 * service key, and registering again (a restart re-reads xs-security.json) must give the gateway the
 * same credentials, so the secret has to be recoverable: a one-way hash alone cannot do that.
 *
 * Decision: it is verified against a SHA-256 digest (the secret is 32 random bytes, so a slow hash
 * adds nothing) and kept recoverable *sealed* with AES-256-GCM under a key the entry point supplies
 * (`secretKey`, from the environment, never from the storage itself), so a storage dump alone yields
 * no usable client secret. Without a key it is kept in clear, marked as such: then the storage is the
 * trust boundary, as a service broker's database is for XSUAA. The entry point should warn by name
 * when it runs without a key.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DirectoryError } from './errors.js';

export type StoredSecret =
  | { alg: 'A256GCM'; iv: string; tag: string; data: string }
  | { alg: 'none'; value: string };

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function digestSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

export function secretMatchesDigest(secret: string, digest: string): boolean {
  const a = createHash('sha256').update(secret, 'utf8').digest();
  const b = Buffer.from(digest, 'base64url');
  return b.length === a.length && timingSafeEqual(a, b);
}

export function sealSecret(secret: string, key: Uint8Array | undefined, context: string): StoredSecret {
  if (!key) return { alg: 'none', value: secret };
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  // The client id as additional data: a sealed secret copied onto another application fails to open.
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const data = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return { alg: 'A256GCM', iv: iv.toString('base64url'), tag: cipher.getAuthTag().toString('base64url'), data: data.toString('base64url') };
}

export function openSecret(stored: StoredSecret, key: Uint8Array | undefined, context: string): string {
  if (stored.alg === 'none') return stored.value;
  if (!key) {
    throw new DirectoryError('SECRET_KEY_MISMATCH', `The client secret of ${context} is encrypted, but no secret key was configured`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(stored.iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(stored.tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(stored.data, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new DirectoryError('SECRET_KEY_MISMATCH', `The client secret of ${context} cannot be decrypted with the configured secret key`);
  }
}
