/**
 * A trusted platform's signed JWT (RFC 7523 §3, REFERENCE.md §11), checked in this order:
 *  1. `iss` names a registered platform (read unverified only to pick the key);
 *  2. the signature verifies with that platform's registered key, an asymmetric algorithm only
 *     (its JWKS, or its PEM with the registered algorithm): `alg: none` and HMAC are refused;
 *  3. `aud` is exactly the audience of the endpoint (the zone's token endpoint for a login, the
 *     organizations endpoint's URL for a tenant): an assertion made for one place is useless at another;
 *  4. `exp` is required and near: at most MAX_LIFETIME_S ahead (a short-lived assertion is the point),
 *     `nbf`/`iat` not in the future, with CLOCK_SKEW_S of tolerance;
 *  5. `jti` is required and used once: an atomic `setIfAbsent` in the shared Storage until the
 *     assertion expires, so of two instances given the same assertion exactly one accepts it.
 * Each refusal is a PlatformError with a reason for the audit line (./audit.ts).
 */
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, customFetch, decodeJwt, errors as joseErrors, importSPKI, jwtVerify, type CryptoKey, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Storage } from '../storage/types.js';
import { localhostAwareFetch } from '../net/localhost.js';
import { assertionInvalid } from './errors.js';
import { ASYMMETRIC_ALGORITHMS, type TrustedPlatform, type TrustedPlatforms } from './trusted-platforms.js';

export const MAX_LIFETIME_S = 300;
export const CLOCK_SKEW_S = 30;

export interface VerifiedAssertion {
  platform: TrustedPlatform;
  claims: JWTPayload & { iss: string; sub?: string; jti: string; exp: number };
  /** For the audit line: the jti's fingerprint. */
  jti: string;
}

export interface AssertionVerifier {
  /**
   * Verifies the assertion and spends its `jti`. `audience` is what `aud` must name; the caller may
   * have chosen it from the unverified payload (the zone a login names), it is checked on the verified one.
   */
  verify(jwt: string, audience: string): Promise<VerifiedAssertion>;
  /** The payload, unverified: only to choose the audience and to name the claimed platform in a refusal's audit line. */
  peek(jwt: string): JWTPayload | undefined;
}

export function createAssertionVerifier(options: {
  platforms: TrustedPlatforms;
  storage: Storage;
  now?: () => number;
  fetch?: typeof fetch;
}): AssertionVerifier {
  const { platforms, storage } = options;
  const now = options.now ?? Date.now;
  /** One JWKS cache per URL (jose refreshes on an unknown kid, at most every 30 s). */
  const jwksSets = new Map<string, JWTVerifyGetKey>();
  const pemKeys = new Map<string, Promise<CryptoKey>>();

  function keyOf(platform: TrustedPlatform): JWTVerifyGetKey | Promise<CryptoKey> {
    if (platform.jwksUri !== undefined) {
      let set = jwksSets.get(platform.jwksUri);
      if (!set) {
        const fetchImpl = options.fetch ?? localhostAwareFetch;
        set = createRemoteJWKSet(new URL(platform.jwksUri), { timeoutDuration: 5000, [customFetch]: fetchImpl });
        jwksSets.set(platform.jwksUri, set);
      }
      return set;
    }
    const cacheKey = `${platform.algorithm}\n${platform.publicKeyPem}`;
    let key = pemKeys.get(cacheKey);
    if (!key) {
      key = importSPKI(platform.publicKeyPem!, platform.algorithm!);
      pemKeys.set(cacheKey, key);
    }
    return key;
  }

  function peek(jwt: string): JWTPayload | undefined {
    try {
      return decodeJwt(jwt);
    } catch {
      return undefined;
    }
  }

  return {
    peek,
    async verify(jwt, audience) {
      const unverified = peek(jwt);
      if (!unverified) throw assertionInvalid('malformed', 'The assertion is not a JWT');
      const iss = unverified.iss;
      const platform = typeof iss === 'string' ? await platforms.get(iss) : undefined;
      if (!platform) throw assertionInvalid('unknown_issuer', 'The assertion\'s iss is not a registered trusted platform');
      const key = keyOf(platform);
      const algorithms = platform.jwksUri !== undefined ? [...ASYMMETRIC_ALGORITHMS] : [platform.algorithm!];
      let payload: JWTPayload;
      try {
        const verifyOptions = { issuer: platform.id, audience, algorithms, clockTolerance: CLOCK_SKEW_S, requiredClaims: ['exp', 'jti'], currentDate: new Date(now()) };
        payload = (typeof key === 'function' ? await jwtVerify(jwt, key, verifyOptions) : await jwtVerify(jwt, await key, verifyOptions)).payload;
      } catch (err) {
        throw refusal(err);
      }
      const exp = payload.exp!;
      const nowS = Math.floor(now() / 1000);
      if (exp - nowS > MAX_LIFETIME_S) throw assertionInvalid('lifetime', `The assertion must expire within ${MAX_LIFETIME_S} seconds (exp)`);
      if (typeof payload.iat === 'number' && payload.iat > nowS + CLOCK_SKEW_S) throw assertionInvalid('iat', 'The assertion was issued in the future (iat)');
      const jti = payload.jti!;
      if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) throw assertionInvalid('jti', 'The assertion needs a unique jti of 8 to 256 characters');
      // Kept until the assertion could no longer verify anyway (exp + skew): then it cannot be replayed.
      const ttlMs = Math.max(1, (exp - nowS + CLOCK_SKEW_S) * 1000);
      const first = await storage.setIfAbsent(jtiKey(platform.id, jti), '1', { ttlMs });
      if (!first) throw assertionInvalid('replayed', 'This assertion was used already (jti)');
      return { platform, claims: payload as VerifiedAssertion['claims'], jti: fingerprintOf(jti) };
    },
  };
}

const jtiKey = (platformId: string, jti: string) => `plat:jti:${platformId}:${createHash('sha256').update(jti, 'utf8').digest('base64url')}`;
const fingerprintOf = (jti: string) => createHash('sha256').update(jti, 'utf8').digest('base64url').slice(0, 16);

function refusal(err: unknown) {
  if (err instanceof joseErrors.JWTExpired) return assertionInvalid('expired', 'The assertion has expired (exp)');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return assertionInvalid('audience', 'The assertion\'s aud is not this endpoint');
    if (err.claim === 'iss') return assertionInvalid('issuer', 'The assertion\'s iss does not match');
    if (err.reason === 'missing') return assertionInvalid(`missing_${err.claim}`, `The assertion lacks the required claim ${err.claim}`);
    return assertionInvalid(err.claim, `The assertion's ${err.claim} is not acceptable: ${err.message}`);
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return assertionInvalid('algorithm', 'The assertion is signed with an algorithm this platform may not use');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) {
    return assertionInvalid('signature', 'The assertion\'s signature does not verify with the platform\'s registered key');
  }
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || !(err instanceof joseErrors.JOSEError)) {
    return assertionInvalid('key_unavailable', 'The platform\'s key set could not be fetched or read');
  }
  return assertionInvalid('invalid', 'The assertion is not a valid signed JWT');
}
