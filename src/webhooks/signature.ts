/**
 * Signed webhook bodies, one scheme for both directions (inbound webhooks verify it, the event relay
 * signs its deliveries with it): `X-Zonegate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
 * `<t>.<raw body>`, Stripe's scheme. The timestamp is inside the MAC, so a captured request cannot be
 * replayed once it is older than the tolerance, nor its timestamp refreshed without the secret.
 * Several `v1=` values are accepted (a sender rotating its secret signs with both).
 */
import { createHmac } from 'node:crypto';
import { sameSecret } from '../constant-time.js';

export const SIGNATURE_HEADER = 'x-zonegate-signature';

/** How far a signature's timestamp may lie from our clock, either way (Stripe's default). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signatureOf(secret: string, timestamp: number, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The header value for `body`, signed now (or at `nowSeconds`). */
export function signBody(secret: string, body: Buffer | string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  return `t=${nowSeconds},v1=${signatureOf(secret, nowSeconds, body)}`;
}

export type SignatureVerdict = 'valid' | 'missing' | 'malformed' | 'stale' | 'mismatch';

/**
 * Checks a header against `body` with `secret`. Every candidate MAC is compared in constant time
 * (src/constant-time.ts); the freshness check comes first but says nothing a client could not
 * compute itself from its own clock.
 */
export function verifySignature(
  header: string | string[] | undefined,
  secret: string,
  body: Buffer,
  options: { nowSeconds?: number; toleranceSeconds?: number } = {},
): SignatureVerdict {
  if (header === undefined) return 'missing';
  if (Array.isArray(header)) return 'malformed';
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return 'malformed';
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestamp !== undefined) return 'malformed';
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/.test(value)) return 'malformed';
      candidates.push(value);
    }
  }
  if (timestamp === undefined || candidates.length === 0) return 'malformed';
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return 'stale';
  const expected = signatureOf(secret, timestamp, body);
  let match = false;
  // No early exit: each candidate costs the same whether an earlier one matched.
  for (const c of candidates) match = sameSecret(c, expected) || match;
  return match ? 'valid' : 'mismatch';
}
