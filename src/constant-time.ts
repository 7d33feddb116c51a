import { timingSafeEqual } from 'node:crypto';

/**
 * Whether two secrets (CSRF tokens, login states, cookie bindings) are equal, in time that does not
 * depend on where they first differ: a comparison that stops at the first difference lets an attacker
 * guess a token byte by byte from the answers' timing. Only the length may show, and it is no secret
 * for values of a fixed format.
 */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
