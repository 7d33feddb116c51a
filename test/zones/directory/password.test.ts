import { describe, expect, it } from 'vitest';
import { DEFAULT_ARGON2, burnPasswordCheck, checkArgon2Params, hashPassword, needsRehash, verifyPasswordHash } from '../../../src/zones/directory/password.js';
import { FAST_HASHING, LEGACY_PASSWORD, LEGACY_SCRYPT_DEFAULT, LEGACY_SCRYPT_FAST } from './fixtures.js';

/** CPU time of this process (every thread, libuv's pool included) spent by `work`, ms. */
async function cpuMs(work: () => Promise<unknown>): Promise<number> {
  const start = process.cpuUsage();
  await work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

describe('password hashing', () => {
  it('makes argon2id PHC strings at OWASP\'s first recommendation by default: m = 19 MiB, t = 2, p = 1', async () => {
    expect(DEFAULT_ARGON2).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    const hash = await hashPassword('correct horse');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifyPasswordHash('correct horse', hash)).toBe(true);
    expect(await verifyPasswordHash('correct horsf', hash)).toBe(false);
    expect(needsRehash(hash, DEFAULT_ARGON2)).toBe(false);
    // A random salt each time.
    expect(await hashPassword('correct horse')).not.toBe(hash);
  });

  it('verifies the scrypt hashes of earlier versions, and always wants them replaced', async () => {
    expect(await verifyPasswordHash(LEGACY_PASSWORD, LEGACY_SCRYPT_FAST)).toBe(true);
    expect(await verifyPasswordHash(LEGACY_PASSWORD, LEGACY_SCRYPT_DEFAULT)).toBe(true);
    expect(await verifyPasswordHash('legacy-pass-2', LEGACY_SCRYPT_FAST)).toBe(false);
    expect(needsRehash(LEGACY_SCRYPT_FAST, FAST_HASHING)).toBe(true);
  });

  it('wants a rehash below the configured memory, passes or output length, or of another argon2 variant', async () => {
    const fast = await hashPassword('pw', FAST_HASHING);
    expect(needsRehash(fast, FAST_HASHING)).toBe(false);
    expect(needsRehash(fast, { ...FAST_HASHING, memoryCost: 2048 })).toBe(true);
    expect(needsRehash(fast, { ...FAST_HASHING, timeCost: 2 })).toBe(true);
    // Above the configuration is kept: an operator who lowers the cost does not weaken stored hashes.
    expect(needsRehash(fast, { ...FAST_HASHING, memoryCost: 512 })).toBe(false);
    // RFC 9106 appendix test vector inputs, as argon2i and argon2d (other variants), and v=16 (1.0).
    expect(needsRehash('$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY', FAST_HASHING)).toBe(true);
    expect(needsRehash('$argon2d$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY', FAST_HASHING)).toBe(true);
    expect(needsRehash('$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY', FAST_HASHING)).toBe(true);
    expect(needsRehash('$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$YWJjZGVmZ2hpamtsbW5vcA', FAST_HASHING)).toBe(true);
  });

  it('refuses parameters argon2 cannot run', () => {
    for (const bad of [
      { memoryCost: 7, timeCost: 1, parallelism: 1 },
      { memoryCost: 16, timeCost: 1, parallelism: 4 },
      { memoryCost: 1024, timeCost: 0, parallelism: 1 },
      { memoryCost: 1024, timeCost: 1, parallelism: 0 },
      { memoryCost: 1024.5, timeCost: 1, parallelism: 1 },
    ]) {
      expect(() => checkArgon2Params(bad)).toThrow(RangeError);
    }
    expect(() => checkArgon2Params(DEFAULT_ARGON2)).not.toThrow();
  });

  it('burns a real argon2 verification at the configured cost for a user who does not exist', async () => {
    const hash = await hashPassword('the-right-one', DEFAULT_ARGON2);
    await burnPasswordCheck('warm-up', DEFAULT_ARGON2); // makes the decoy hash once
    const verifying: number[] = [];
    const burning: number[] = [];
    for (let i = 0; i < 5; i++) {
      verifying.push(await cpuMs(() => verifyPasswordHash('a-wrong-one', hash)));
      burning.push(await cpuMs(() => burnPasswordCheck('a-wrong-one', DEFAULT_ARGON2)));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    // One argon2id pass over 19 MiB, twice, is milliseconds of CPU; a mere lookup would be microseconds.
    expect(median(verifying)).toBeGreaterThan(3);
    expect(median(burning)).toBeGreaterThan(median(verifying) * 0.5);
    expect(median(burning)).toBeLessThan(median(verifying) * 2);
    expect(await burnPasswordCheck('the-right-one', DEFAULT_ARGON2)).toBe(false);
  });
});
