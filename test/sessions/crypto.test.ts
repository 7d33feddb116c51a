import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { createKeyring, parseSessionKeys } from '../../src/sessions/crypto.js';

const SECRET_A = 'a-long-enough-passphrase-for-key-A-0001';
const SECRET_B = 'another-long-passphrase-for-key-B-0002';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('createKeyring', () => {
  const ring = createKeyring([{ id: 'k1', secret: SECRET_A }]);

  it('round-trips unicode and empty plaintexts in the documented format', () => {
    for (const text of ['', 'eyJhbGciOiJSUzI1NiJ9.payload.sig', 'Grüße 🔑 \u0000 end']) {
      const sealed = ring.seal(text, 'sid-1');
      expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
      expect(ring.open(sealed, 'sid-1')).toBe(text);
    }
  });

  it('uses a fresh IV every time, so equal plaintexts do not show as equal', () => {
    const seals = new Set(Array.from({ length: 50 }, () => ring.seal('same token', 'sid')));
    expect(seals.size).toBe(50);
    const ivs = new Set([...seals].map((s) => s.split('.')[2]));
    expect(ivs.size).toBe(50);
  });

  it('refuses a value bound to another session id (moved ciphertext)', () => {
    const sealed = ring.seal('token of session A', 'session-A');
    expect(ring.open(sealed, 'session-B')).toBeUndefined();
    expect(ring.open(sealed, 'session-A ')).toBeUndefined();
    expect(ring.open(sealed, '')).toBeUndefined();
  });

  it('refuses every single-character change of a sealed value', () => {
    const sealed = ring.seal('a refresh token', 'sid');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const [, , iv, body] = sealed.split('.') as [string, string, string, string];
    const prefix = 'v1.k1.';
    for (let i = prefix.length; i < sealed.length; i++) {
      if (sealed[i] === '.') continue;
      const other = alphabet[(alphabet.indexOf(sealed[i]!) + 1) % alphabet.length]!;
      const tampered = sealed.slice(0, i) + other + sealed.slice(i + 1);
      // The last base64url character of a part may carry unused bits; a change there can decode to
      // the same bytes, which is not a forgery. Everything else must be refused.
      const decodesSame =
        Buffer.from(tampered.split('.')[2]!, 'base64url').equals(Buffer.from(iv, 'base64url')) &&
        Buffer.from(tampered.split('.')[3]!, 'base64url').equals(Buffer.from(body, 'base64url'));
      if (!decodesSame) expect(ring.open(tampered, 'sid'), `position ${i}`).toBeUndefined();
    }
  });

  it('refuses malformed values without throwing', () => {
    const sealed = ring.seal('x', 'sid');
    const [, , iv, body] = sealed.split('.');
    for (const bad of [
      '',
      'v1',
      'v1.k1',
      `v2.k1.${iv}.${body}`,
      `v1.k1.${iv}.${body}.extra`,
      `v1.k1.${iv}==.${body}`,
      `v1.k1.${iv}.${body}!`,
      `v1.k1.${iv!.slice(2)}.${body}`,
      `v1.k1.${iv}.${body!.slice(0, 10)}`,
      `v1.k1..${body}`,
      `v1.k1.${iv}.`,
    ]) {
      expect(ring.open(bad, 'sid'), bad).toBeUndefined();
    }
  });

  it('does not use the configured secret itself as the AES key (HKDF-derived)', () => {
    // A value sealed with the raw secret (first 32 bytes) as key must not open: the ring derives.
    const rawKey = Buffer.from(SECRET_A, 'utf8').subarray(0, 32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', rawKey, iv);
    cipher.setAAD(Buffer.from('sid'));
    const body = Buffer.concat([cipher.update('forged', 'utf8'), cipher.final(), cipher.getAuthTag()]);
    expect(ring.open(`v1.k1.${iv.toString('base64url')}.${body.toString('base64url')}`, 'sid')).toBeUndefined();
  });

  it('rotation: the first key seals, every key opens; a ring without the old key refuses its values', () => {
    const old = createKeyring([{ id: 'k1', secret: SECRET_A }]);
    const sealedOld = old.seal('old token', 'sid');
    const rotated = createKeyring([
      { id: 'k2', secret: SECRET_B },
      { id: 'k1', secret: SECRET_A },
    ]);
    expect(rotated.currentKeyId).toBe('k2');
    expect(rotated.keyIds).toEqual(['k2', 'k1']);
    expect(rotated.open(sealedOld, 'sid')).toBe('old token');
    const sealedNew = rotated.seal('new token', 'sid');
    expect(sealedNew.startsWith('v1.k2.')).toBe(true);
    expect(old.open(sealedNew, 'sid')).toBeUndefined();
    const onlyNew = createKeyring([{ id: 'k2', secret: SECRET_B }]);
    expect(onlyNew.open(sealedNew, 'sid')).toBe('new token');
    expect(onlyNew.open(sealedOld, 'sid')).toBeUndefined();
  });

  it('a key id relabelled onto a value does not open it (the id selects the derived key)', () => {
    const ring2 = createKeyring([
      { id: 'k2', secret: SECRET_A },
      { id: 'k1', secret: SECRET_A },
    ]);
    const sealed = ring2.seal('t', 'sid');
    expect(ring2.open(sealed, 'sid')).toBe('t');
    expect(ring2.open(sealed.replace(/^v1\.k2\./, 'v1.k1.'), 'sid')).toBeUndefined();
  });

  it('refuses short secrets, bad and duplicate ids, and an empty ring, all at once, without echoing secrets', () => {
    const short = 'only-31-characters-long-secret!';
    expect(short).toHaveLength(31);
    const problems = problemsOf(() =>
      createKeyring([
        { id: 'ok', secret: short },
        { id: 'has.dot', secret: SECRET_A },
        { id: 'ok', secret: SECRET_B },
        { id: '', secret: SECRET_B },
      ]),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^\/0\/secret: the secret of key "ok" has 31 characters; at least 32 are required/),
      expect.stringMatching(/^\/1\/id: key id must be/),
      expect.stringMatching(/^\/2\/id: duplicate key id "ok"/),
      expect.stringMatching(/^\/3\/id: key id must be/),
    ]);
    expect(problems.join('\n')).not.toContain(short);
    expect(problemsOf(() => createKeyring([]))).toEqual([': at least one key is required']);
    // Exactly 32 characters is enough; characters, not bytes, are counted.
    expect(() => createKeyring([{ id: 'k', secret: 'x'.repeat(32) }])).not.toThrow();
    expect(problemsOf(() => createKeyring([{ id: 'k', secret: '🔑'.repeat(31) }]))).toHaveLength(1);
  });
});

describe('parseSessionKeys', () => {
  it('parses id:secret pairs in order, secrets may contain colons, blanks around entries ignored', () => {
    expect(parseSessionKeys(` new:${SECRET_B} ,\n old:${SECRET_A}:with:colons `)).toEqual([
      { id: 'new', secret: SECRET_B },
      { id: 'old', secret: `${SECRET_A}:with:colons` },
    ]);
  });

  it('reports every problem with its position and the variable name, never the secrets', () => {
    let error: unknown;
    try {
      parseSessionKeys(`k1:short,,nocolonhere-${SECRET_A}`, 'SESSION_KEYS');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems.map((p) => [p.file, p.path])).toEqual([
      ['SESSION_KEYS', '/1'],
      ['SESSION_KEYS', '/2'],
    ]);
    expect(message).not.toContain(SECRET_A);
    expect(() => parseSessionKeys(`k1:short`)).toThrow(/at least 32 are required/);
    expect(() => parseSessionKeys(``)).toThrow(/empty entry/);
    expect(() => parseSessionKeys(`k1:${SECRET_A},k1:${SECRET_B}`)).toThrow(/duplicate key id "k1"/);
  });

  it('gives keys that build a working ring', () => {
    const ring = createKeyring(parseSessionKeys(`a:${SECRET_A},b:${SECRET_B}`));
    expect(ring.open(ring.seal('t', 's'), 's')).toBe('t');
  });
});
