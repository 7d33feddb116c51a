/**
 * Login throttling per zone (OWASP Authentication Cheat Sheet, "Account lockout" and "Protect against
 * automated attacks"). Three counters of attempts within `windowMs`:
 *
 * - per (user name, client address): locked for `lockMs` after `lockAfter` attempts. This is the
 *   guesser at one address, and a lock keyed on it hurts nobody else.
 * - per client address: locked the same way, for one address guessing many user names.
 * - per user name, from any address: never locked, only slowed. Each attempt beyond `slowAfter` waits
 *   `delayStepMs` longer, at most 5 s. A lock here would let anyone lock a user out everywhere by
 *   guessing wrong on purpose (OWASP: lockout "can be abused to deny service"); a capped delay still
 *   makes a distributed guesser slow while the user, from their own address, always gets in.
 *
 * An attempt is counted (reserved) BEFORE its password is checked: the check is a slow argon2 hash, so a
 * read-check-then-count would let a parallel burst all pass the check, and the lock would come after
 * the burst's guesses were all evaluated. With the counters as reservations at most `lockAfter`
 * attempts of a (user, address) or an address are ever evaluated per lock, however they are timed.
 * A success gives its reservations back, so signing in costs nothing against the limits.
 *
 * Counters are kept for any submitted name, existing or not, and every path is the same for an
 * unknown user (the directory burns a password check for one), so the answers never reveal
 * whether a user exists.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Storage } from '../../storage/types.js';
import type { ZoneContext } from './context.js';

export interface ThrottleOptions {
  /** Attempts of a user name (from any address) before each further one is slowed. Default 3. */
  slowAfter: number;
  /** Attempts of a (user name, address) pair, and of an address, before it is locked. Default 10. */
  lockAfter: number;
  /** Window in which attempts are counted, ms. Default 15 min. */
  windowMs: number;
  /** Lock duration, ms. Default 15 min. */
  lockMs: number;
  /** Added delay per attempt of a user name beyond `slowAfter`, ms; capped at 5 s. Default 500. */
  delayStepMs: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  slowAfter: 3,
  lockAfter: 10,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
  delayStepMs: 500,
};

const MAX_DELAY_MS = 5000;

/**
 * The unit an address is counted in. An IPv6 end site gets at least a /64 (RFC 6177), so one
 * attacker holds 2^64 addresses: counting each on its own would be no limit at all.
 */
function addressKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail] = address.split('%')[0]!.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

interface Subjects {
  pair: string;
  address: string;
  user: string;
}

function subjectsOf(ctx: ZoneContext, userName: string): Subjects {
  const name = createHash('sha256').update(userName.trim().toLowerCase()).digest('base64url');
  const address = addressKey(ctx.clientIp);
  const zone = ctx.zone.id;
  return { pair: `pair:${zone}:${name}:${address}`, address: `ip:${zone}:${address}`, user: `u:${zone}:${name}` };
}

const counter = (subject: string) => `zthr:${subject}`;
const lock = (subject: string) => `zthr-lock:${subject}`;

/** Seconds until the longest of the subjects' locks ends; 0 when none is locked. */
async function lockedFor(storage: Storage, subjects: string[]): Promise<number> {
  let ms = 0;
  for (const s of subjects) ms = Math.max(ms, (await storage.ttl(lock(s))) ?? 0);
  return Math.ceil(ms / 1000);
}

/**
 * Locks the subject. The lock is set before the counter is dropped, and attempts look for the lock
 * after reserving, so an attempt that finds no lock was counted in the dropped counter: no attempt
 * slips through between the two. `setIfAbsent`: a burst reaching the limit does not extend the lock.
 */
async function lockSubject(ctx: ZoneContext, subject: string): Promise<void> {
  const { storage, throttle } = ctx.services;
  await storage.setIfAbsent(lock(subject), '1', { ttlMs: throttle.lockMs });
  await storage.delete(counter(subject));
}

export type Admission = { admitted: false; retryAfterSeconds: number } | { admitted: true; attempt: Attempt };

/** An admitted attempt: wait `delayMs`, check the password, then report the outcome exactly once. */
export interface Attempt {
  delayMs: number;
  /** The password was wrong. Locked: this failure reached the limit, answer as for a locked attempt. */
  failed(): Promise<{ locked: false } | { locked: true; retryAfterSeconds: number }>;
  /** The password was right: the reservations are given back. */
  succeeded(): Promise<void>;
  /**
   * Nobody could tell (a tenant's user backend was unreachable, issue 13): the reservations are given
   * back and nothing is forgotten, so an outage neither locks users out nor wipes a guesser's count.
   */
  undecided(): Promise<void>;
}

/** Reserves an attempt for `userName` from the context's client address, or refuses it. */
export async function admitAttempt(ctx: ZoneContext, userName: string): Promise<Admission> {
  const { storage, throttle } = ctx.services;
  const s = subjectsOf(ctx, userName);
  const locking = [s.pair, s.address];

  // A locked guesser is refused without being counted, so hammering a lock does not prolong it.
  const already = await lockedFor(storage, locking);
  if (already > 0) return { admitted: false, retryAfterSeconds: already };

  const windowed = { ttlMs: throttle.windowMs };
  const reserved = [
    { subject: s.pair, count: await storage.increment(counter(s.pair), windowed) },
    { subject: s.address, count: await storage.increment(counter(s.address), windowed) },
  ];
  for (const r of reserved) if (r.count > throttle.lockAfter) await lockSubject(ctx, r.subject);
  const locked = await lockedFor(storage, locking);
  if (locked > 0) {
    // Refused, never evaluated: its reservations go back (those of a subject just locked went with
    // its counter), so they do not count against the window after the lock.
    for (const r of reserved) if (r.count <= throttle.lockAfter) await storage.decrement(counter(r.subject));
    return { admitted: false, retryAfterSeconds: locked };
  }

  const userCount = await storage.increment(counter(s.user), windowed);
  const delayMs = userCount > throttle.slowAfter ? Math.min((userCount - throttle.slowAfter) * throttle.delayStepMs, MAX_DELAY_MS) : 0;
  let reported = false;
  const once = () => {
    if (reported) throw new Error('A login attempt reports its outcome once');
    reported = true;
  };
  return {
    admitted: true,
    attempt: {
      delayMs,
      async failed() {
        once();
        // The attempt that took the last place under the limit locks its subject when it fails.
        for (const r of reserved) if (r.count >= throttle.lockAfter) await lockSubject(ctx, r.subject);
        const lockedNow = await lockedFor(storage, locking);
        return lockedNow > 0 ? { locked: true, retryAfterSeconds: lockedNow } : { locked: false };
      },
      async succeeded() {
        once();
        // The pair has shown it knows the password: its earlier mistakes are forgotten. The address
        // and the user name only get this attempt back: a guesser signing into an account of their
        // own between guesses must not reset their address, nor a user's sign-in wipe out the
        // failures of someone guessing at that user elsewhere.
        await storage.delete(counter(s.pair));
        await storage.decrement(counter(s.address));
        await storage.decrement(counter(s.user));
      },
      async undecided() {
        once();
        for (const subject of [s.pair, s.address, s.user]) await storage.decrement(counter(subject));
      },
    },
  };
}
