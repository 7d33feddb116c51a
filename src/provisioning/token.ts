/**
 * A `verifyToken` for the callbacks that needs nothing but the provider zone's published keys, the
 * same for the built-in zones and for SAP's XSUAA (`<provider zone>/token_keys`, or the uaadomain's
 * `/token_keys?zid=<provider zone id>` as @sap/xssec fetches it).
 *
 * Only the provider's zone may call the callbacks, so only its keys are ever fetched: a token naming
 * another zone is answered from its (unverified) `zid` as "not the provider's", which the handler
 * refuses with 403. Nothing is granted on an unverified claim, and a caller cannot make the gateway
 * fetch keys of zones of its choosing. Signature (RS256 only), `exp` and `nbf` are checked with
 * xssec's 60 s leeway (REFERENCE.md §3); `kid` is required.
 */
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { GatewayError } from '../errors.js';
import type { CallbackTokenInfo } from './callbacks.js';

export interface ProviderTokenVerifierOptions {
  providerZoneId: string;
  /** The provider zone's JWKS (UAA's `/token_keys`). */
  tokenKeysUrl: string | URL;
  /** For `*.localhost` zones in development: src/net/localhost.ts `localhostAwareFetch`. */
  fetch?: (url: string | URL, init?: RequestInit) => Promise<Response>;
  /**
   * Checks the audience as @sap/xssec 4 does for a binding (REFERENCE.md §3): `aud` (or, when empty,
   * the `scope` array) plus `cid`, one entry equal to, or starting with `<value>.`, the client id or
   * the xsappname. Used when the keys are an external XSUAA's: its keys sign every application's
   * tokens in the landscape, so the signature alone does not say the token was meant for us.
   */
  audience?: { clientId: string; xsappname: string };
}

/** xssec's audience rule; exported for its unit test. */
export function audienceMatches(payload: Record<string, unknown>, audience: { clientId: string; xsappname: string }): boolean {
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : typeof v === 'string' ? [v] : []);
  let entries = strings(payload.aud);
  if (entries.length === 0) entries = strings(payload.scope);
  entries = [...entries, ...strings(payload.cid)];
  const wanted = [audience.clientId, audience.xsappname];
  return entries.some((entry) => wanted.some((w) => entry === w || entry.startsWith(`${w}.`)));
}

export function createProviderTokenVerifier(options: ProviderTokenVerifierOptions): (token: string) => Promise<CallbackTokenInfo | undefined> {
  const jwks = createRemoteJWKSet(new URL(options.tokenKeysUrl), {
    timeoutDuration: 10_000,
    cooldownDuration: 30_000,
    ...(options.fetch ? { [customFetch]: options.fetch as never } : {}),
  });

  return async (token) => {
    let zid: unknown;
    try {
      if (typeof decodeProtectedHeader(token).kid !== 'string') return undefined;
      zid = decodeJwt(token).zid;
    } catch {
      return undefined;
    }
    if (typeof zid !== 'string') return undefined;
    if (zid !== options.providerZoneId) return { zoneId: zid, scopes: [], grantType: '' };
    try {
      const { payload } = await jwtVerify(token, jwks, { algorithms: ['RS256'], clockTolerance: 60, requiredClaims: ['exp'] });
      if (payload.zid !== options.providerZoneId) return undefined;
      if (options.audience && !audienceMatches(payload, options.audience)) return undefined;
      const scopes = Array.isArray(payload.scope) ? payload.scope.filter((s): s is string => typeof s === 'string') : [];
      return { zoneId: payload.zid, scopes, grantType: typeof payload.grant_type === 'string' ? payload.grant_type : '' };
    } catch (err) {
      // An invalid token is a 401; keys that cannot be fetched are the gateway's problem (503, the
      // registry retries): a timeout, a refused connection, or an answer other than 200 (jose's plain
      // JOSEError: the zone's records database is down, issue 19). Every verdict on the token itself
      // is a subclass (JWSSignatureVerificationFailed, JWTExpired, JWKSNoMatchingKey, ...).
      if (err instanceof errors.JOSEError && err.constructor !== errors.JOSEError && !(err instanceof errors.JWKSTimeout)) return undefined;
      throw new GatewayError('ZG_ERR_IDP_UNAVAILABLE', "The provider zone's token keys could not be fetched", { cause: err, expose: true });
    }
  };
}
