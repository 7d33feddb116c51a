/**
 * Whether two secrets (CSRF tokens, login states, cookie bindings, session proofs) are equal, in time
 * that does not depend on where they first differ: a comparison that stops at the first difference
 * lets an attacker guess a token byte by byte from the answers' timing. Only the length may show,
 * and it is no secret for values of a fixed format.
 *
 * Every code unit is compared, the differences gathered with OR and looked at once at the end (the
 * loop of `scmp` and `safe-compare`): no branch on the contents, and no buffers to allocate, which
 * matters on the session's hot path (`crypto.timingSafeEqual` needs two, about 0.4 µs per call).
 */
export function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
