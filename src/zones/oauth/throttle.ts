/**
 * Login throttling per zone, by user name and by client address (OWASP Authentication Cheat Sheet,
 * "Account lockout"): after `slowAfter` failures within the window each attempt is delayed, after
 * `lockAfter` the name or address is locked for `lockMs`. Counters are kept for any submitted name,
 * existing or not, so the answers never reveal whether a user exists.
 */
import { createHash } from 'node:crypto';
import type { ZoneContext } from './context.js';

export interface ThrottleOptions {
  /** Failures before attempts are slowed. Default 3. */
  slowAfter: number;
  /** Failures before the name or address is locked. Default 10. */
  lockAfter: number;
  /** Window in which failures are counted, ms. Default 15 min. */
  windowMs: number;
  /** Lock duration, ms. Default 15 min. */
  lockMs: number;
  /** Added delay per failure beyond `slowAfter`, ms; capped at 5 s. Default 500. */
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

function subjects(ctx: ZoneContext, userName: string): string[] {
  const name = createHash('sha256').update(userName.trim().toLowerCase()).digest('base64url');
  return [`u:${ctx.zone.id}:${name}`, `ip:${ctx.zone.id}:${ctx.clientIp}`];
}

export type ThrottleVerdict = { locked: true; retryAfterSeconds: number } | { locked: false; delayMs: number };

export async function checkThrottle(ctx: ZoneContext, userName: string): Promise<ThrottleVerdict> {
  const { storage, throttle } = ctx.services;
  let delayMs = 0;
  for (const s of subjects(ctx, userName)) {
    const lockTtl = await storage.ttl(`zthr-lock:${s}`);
    if (lockTtl !== undefined) return { locked: true, retryAfterSeconds: Math.ceil(lockTtl / 1000) };
    const failures = Number((await storage.get(`zthr:${s}`)) ?? '0');
    if (failures >= throttle.slowAfter) {
      delayMs = Math.max(delayMs, Math.min((failures - throttle.slowAfter + 1) * throttle.delayStepMs, MAX_DELAY_MS));
    }
  }
  return { locked: false, delayMs };
}

export async function recordFailure(ctx: ZoneContext, userName: string): Promise<void> {
  const { storage, throttle } = ctx.services;
  for (const s of subjects(ctx, userName)) {
    const failures = await storage.increment(`zthr:${s}`, { ttlMs: throttle.windowMs });
    if (failures >= throttle.lockAfter) {
      await storage.set(`zthr-lock:${s}`, '1', { ttlMs: throttle.lockMs });
      await storage.delete(`zthr:${s}`);
    }
  }
}

/** A success clears the user's counter; the address keeps its count (one address guessing many users). */
export async function recordSuccess(ctx: ZoneContext, userName: string): Promise<void> {
  await ctx.services.storage.delete(`zthr:${subjects(ctx, userName)[0]!}`);
}
