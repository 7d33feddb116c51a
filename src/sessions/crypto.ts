/**
 * Sealing of session secrets (access, refresh and id tokens) before they reach the store, so a dump
 * of Redis or of the SQLite file yields no usable token (SAP's approuter writes sessions to Redis
 * gzip'd, not encrypted). The keys come from configuration, never from the store itself.
 *
 * Format: `v1.<keyId>.<iv>.<ciphertext+tag>` (base64url), AES-256-GCM with a random 96-bit IV
 * (NIST SP 800-38D §8.2.2: random IVs of 96 bits are the recommended construction; at well under
 * 2^32 seals per key the collision bound holds). The caller's additional data (the session id) is
 * authenticated, so a sealed blob copied into another session does not open there.
 *
 * Rotation: put a new key in front; it seals from then on, and every key in the ring still opens.
 * Remove the old key once the sessions it sealed have expired (at most the absolute session lifetime).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { ConfigProblem } from '../errors.js';

export interface SessionKey {
  /** Names the key inside every sealed value: letters, digits, `_` and `-`, at most 32. */
  id: string;
  /** At least 32 characters; stretched into the AES key with HKDF, never used raw. */
  secret: string;
}

export interface Keyring {
  /** The key that seals (the first one configured). */
  readonly currentKeyId: string;
  readonly keyIds: readonly string[];
  seal(plaintext: string, aad: string): string;
  /** The plaintext, or undefined if the value is malformed, tampered with, bound to other `aad`, or sealed with a key not in the ring. */
  open(sealed: string, aad: string): string | undefined;
}

export const MIN_SECRET_LENGTH = 32;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
// HKDF (RFC 5869): a fixed application salt, and the key id in `info` so that one secret configured
// under two ids still yields two unrelated keys.
const HKDF_SALT = 'zonegate/session-keyring/v1';

/**
 * A keyring from configured keys, the first being current. Throws a ConfigError listing every
 * problem (short secret, bad or duplicate id); secrets never appear in the message.
 */
export function createKeyring(keys: readonly SessionKey[], source = 'session keys'): Keyring {
  const problems = keyProblems(keys, source);
  if (problems.length > 0) throw new ConfigError(problems);

  const ring = new Map<string, Buffer>();
  for (const { id, secret } of keys) {
    ring.set(id, Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), HKDF_SALT, `aes-256-gcm:${id}`, 32)));
  }
  const currentKeyId = keys[0]!.id;
  const currentKey = ring.get(currentKeyId)!;

  return Object.freeze({
    currentKeyId,
    keyIds: Object.freeze(keys.map((k) => k.id)),
    seal(plaintext: string, aad: string): string {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${VERSION}.${currentKeyId}.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed: string, aad: string): string | undefined {
      const parts = sealed.split('.');
      if (parts.length !== 4) return undefined;
      const [version, keyId, ivText, bodyText] = parts as [string, string, string, string];
      const key = ring.get(keyId);
      // Node's base64url decoder skips characters it does not know; checking first keeps one
      // sealed value from having many spellings.
      if (version !== VERSION || key === undefined || !B64URL.test(ivText) || !B64URL.test(bodyText)) return undefined;
      const iv = Buffer.from(ivText, 'base64url');
      const body = Buffer.from(bodyText, 'base64url');
      if (iv.length !== IV_BYTES || body.length < TAG_BYTES) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(aad, 'utf8'));
        decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
        return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
  });
}

/**
 * Keys from an environment value `id1:secret1,id2:secret2` (first = current). A secret may contain
 * `:` but not `,`; blanks around entries are ignored. Throws a ConfigError listing every problem.
 */
export function parseSessionKeys(text: string, source = 'session keys'): SessionKey[] {
  const problems: ConfigProblem[] = [];
  const keys: SessionKey[] = [];
  const entries = text.split(',').map((e) => e.trim());
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    if (colon < 0) {
      problems.push({
        file: source,
        path: `/${i}`,
        message: entry === '' ? 'empty entry; expected id:secret' : 'expected id:secret (no ":" found)',
      });
      return;
    }
    keys.push({ id: entry.slice(0, colon), secret: entry.slice(colon + 1) });
  });
  if (problems.length === 0) problems.push(...keyProblems(keys, source));
  if (problems.length > 0) throw new ConfigError(problems);
  return keys;
}

function keyProblems(keys: readonly SessionKey[], source: string): ConfigProblem[] {
  if (keys.length === 0) return [{ file: source, path: '', message: 'at least one key is required' }];
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  keys.forEach(({ id, secret }, i) => {
    if (!KEY_ID.test(id)) {
      problems.push({ file: source, path: `/${i}/id`, message: 'key id must be 1 to 32 of A-Z a-z 0-9 _ -' });
    } else if (seen.has(id)) {
      problems.push({ file: source, path: `/${i}/id`, message: `duplicate key id "${id}"` });
    }
    seen.add(id);
    const length = [...secret].length;
    if (length < MIN_SECRET_LENGTH) {
      problems.push({
        file: source,
        path: `/${i}/secret`,
        message: `the secret of key "${KEY_ID.test(id) ? id : '?'}" has ${length} characters; at least ${MIN_SECRET_LENGTH} are required (e.g. \`openssl rand -base64 32\`)`,
      });
    }
  });
  return problems;
}
